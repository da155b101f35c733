"""write_report produces one self-contained HTML file, also when pieces are missing."""

import base64
import re

import numpy as np
import pytest

from modelyard.metrics import classification_details, regression_details
from modelyard.report import write_report

_CONFIG = "trainer:\n  epochs: 3  # <script>alert(1)</script>\n"


def _details():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, size=60)
    probabilities = rng.dirichlet(np.ones(3), size=60)
    values = rng.normal(size=40)
    return {
        "validation": {
            "species": classification_details(
                y_true, probabilities, ["adelie", "chinstrap", "gentoo"]
            ),
            "mass": regression_details(values, values + rng.normal(0, 0.3, size=40)),
        },
        "test": {
            "binary": classification_details(
                y_true % 2,
                probabilities[:, :2] / probabilities[:, :2].sum(1, keepdims=True),
                ["no", "yes"],
            )
        },
    }


def _history(epochs: int):
    return [
        {"epoch": e, "train_loss": 1 / e, "validation_loss": 1.2 / e, "validation_species.accuracy": 0.5 + 0.1 * e,
         "lr": 1e-3, "seconds": 1.5}
        for e in range(1, epochs + 1)
    ]  # fmt: skip


def _images(html: str) -> list[bytes]:
    return [
        base64.b64decode(data)
        for data in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    ]


def test_full_report(tmp_path):
    metrics = {
        "validation": {"species.accuracy": 0.91234, "mass.rmse": 12.5},
        "test": {"species.accuracy": 0.87654, "mass.rmse": 123456.789},
    }
    path = write_report(
        tmp_path / "run", title="Penguins & friends", metrics=metrics, history=_history(4),
        details=_details(), config_yaml=_CONFIG,
    )  # fmt: skip
    assert path == tmp_path / "run" / "report.html"
    html = path.read_text(encoding="utf-8")
    assert "Penguins &amp; friends" in html
    for value in ("0.9123", "0.8765", "12.5000", "123,456.79"):
        assert value in html
    assert "species" in html and "accuracy" in html and "rmse" in html
    images = _images(html)
    # learning curves + (matrix, ROC) for species + scatter for mass + (matrix, ROC) for binary
    assert len(images) == 6
    assert all(image.startswith(b"\x89PNG\r\n\x1a\n") for image in images)
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html  # the config is escaped, and the report needs no JavaScript
    assert "&lt;script&gt;" in html
    assert "best validation loss" in html


@pytest.mark.parametrize("epochs", [0, 1])
def test_missing_pieces(tmp_path, epochs):
    path = write_report(
        tmp_path, title="bare", metrics={"test": {"accuracy": 0.5}}, history=_history(epochs),
        details={}, config_yaml="",
    )  # fmt: skip
    html = path.read_text(encoding="utf-8")
    assert "0.5000" in html
    assert len(_images(html)) == epochs  # learning curves only when there is history
    assert ("No training history" in html) == (epochs == 0)
    assert "http://" not in html and "https://" not in html


def test_history_without_validation_and_no_metrics(tmp_path):
    history = [
        {"epoch": 1, "train_loss": 0.7, "lr": 0.01},
        {"epoch": 2, "train_loss": 0.5, "lr": 0.005},
    ]
    details = {"validation": {"label": None}, "test": {}}
    path = write_report(
        tmp_path, title="t", metrics={}, history=history, details=details, config_yaml="a: 1"
    )
    html = path.read_text(encoding="utf-8")
    assert len(_images(html)) == 1
    assert "No metrics were computed" in html
    assert "best validation loss" not in html


def test_single_class_present_has_no_roc(tmp_path):
    details = {
        "test": {
            "label": classification_details(
                np.zeros(5, dtype=int), np.full((5, 2), 0.5), ["a", "b"]
            )
        }
    }
    path = write_report(
        tmp_path, title="t", metrics={}, history=[], details=details, config_yaml=""
    )
    html = path.read_text(encoding="utf-8")
    assert len(_images(html)) == 1  # the confusion matrix only
    assert "ROC curves" not in html


def test_per_group_learning_rates_share_the_lr_panel():
    from modelyard.report.plots import _curve_names, _lr_keys

    history = [
        {"epoch": 1, "train_loss": 1.0, "lr": 1e-3, "lr_head": 1e-3, "lr_backbone": 5e-5},
        {"epoch": 2, "train_loss": 0.5, "lr": 5e-4, "lr_head": 5e-4, "lr_backbone": 2e-5},
    ]
    assert _curve_names(history) == ["loss"]
    assert _lr_keys(history) == ["lr_head", "lr_backbone"]
    assert _lr_keys([{"epoch": 1, "lr": 0.1}]) == ["lr"]


def test_binary_output_gets_a_precision_recall_curve(tmp_path):
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 2, size=80)
    probabilities = rng.dirichlet(np.ones(2), size=80)
    details = {
        "test": {"label": classification_details(y_true, probabilities, ["no", "yes"], None, 1)}
    }
    path = write_report(
        tmp_path, title="t", metrics={}, history=[], details=details, config_yaml=""
    )
    html = path.read_text(encoding="utf-8")
    assert "Precision-recall curve (positive class &#39;yes&#39;)" in html
    assert len(_images(html)) == 3  # confusion matrix, ROC, precision-recall


_DATA_SUMMARY = {
    "splits": {
        "train": {"rows": 1200, "left_out": {"no 'label' label": 3, "missing 'x2'": 1}},
        "test": {"rows": 40},
    },
    "classes": {
        "label": {"train": {"no": 900, "<b>yes</b>": 300}, "test": {"no": 30, "<b>yes</b>": 10}}
    },
    "filled": {
        "x1": {"with": "median", "value": 0.123456789, "rows": {"train": 7}},
        "colour": {"with": "unknown", "value": "<unknown>", "rows": {"test": 2}},
        "review": {"with": "empty", "value": "", "rows": {"train": 1}},
        "flag": {"with": "mode", "value": "true", "rows": {"train": 1}},
    },
    "note": "the training rows were streamed",
}


def test_model_size_in_the_header_and_the_data_section(tmp_path):
    size = {
        "parameters": 12345,
        "trainable": 345,
        "bytes": 49380,
        "bytes_per_dtype": {"float32": 49380},
    }
    path = write_report(
        tmp_path, title="t", metrics={}, history=_history(2), details={}, config_yaml="",
        model_size=size, data_summary=_DATA_SUMMARY,
    )  # fmt: skip
    html = path.read_text(encoding="utf-8")
    header = html[html.index("<header>") : html.index("</header>")]
    assert "12,345 parameters (345 trainable), 49.4 kB (float32)" in header
    data = re.sub(r"\s+", " ", html[html.index("<h2>Data</h2>") : html.index("Learning curves")])
    assert "the training rows were streamed" in data
    assert (
        '<td>train</td><td class="value">1,200</td><td>no &#39;label&#39; label: 3; missing &#39;x2&#39;: 1</td>'
        in data
    )
    assert '<td>test</td><td class="value">40</td><td>none</td>' in data
    assert (
        '<td>&lt;b&gt;yes&lt;/b&gt;</td><td class="value">300 (25.0%)</td><td class="value">10 (25.0%)</td>'
        in data
    )
    for text in (
        "median (0.123457)",
        "the unknown category",
        "empty text",
        "mode (&#39;true&#39;)",
    ):
        assert text in data, text
    assert (
        '<td>x1</td><td>median (0.123457)</td><td class="value">7</td><td class="value">0</td>'
        in data
    )


def test_no_data_section_without_a_summary(tmp_path):
    path = write_report(tmp_path, title="t", metrics={}, history=[], details={}, config_yaml="")
    html = path.read_text(encoding="utf-8")
    assert "<h2>Data</h2>" not in html and "parameters" not in html
