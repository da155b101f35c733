"""`modelyard compare`: metrics side by side, config differences, overlaid learning curves,
for runs of any task; bad input is the user's error."""

from __future__ import annotations

import base64
import json
import re

import pytest
import yaml

from tests.conftest import make_table
from tests.integration.cli_helpers import modelyard, no_run_figures, user_error

pytestmark = pytest.mark.integration


def _config(lr: float, epochs: int) -> dict:
    return {
        "name": "tiny",
        "data": {"train": "data.csv", "split": {"validation": 0.25, "test": 0.25, "seed": 0}},
        "inputs": [{"name": "x1", "type": "number"}, {"name": "colour", "type": "category"}],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {"epochs": epochs, "batch_size": 16, "optimizer": {"type": "adam", "lr": lr}},
        "baselines": False,
        "tracking": {"tensorboard": False},
    }


@pytest.fixture
def two_runs(tmp_path, monkeypatch):
    """runs/slow (lr 0.001, 2 epochs) and runs/fast (lr 0.05, 3 epochs), trained."""
    no_run_figures(monkeypatch)  # their own reports' figures: train's tests cover them
    make_table(rows=60).to_csv(tmp_path / "data.csv", index=False)
    for name, lr, epochs in (("slow", 0.001, 2), ("fast", 0.05, 3)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(_config(lr, epochs)), encoding="utf-8")
        modelyard("train", path.name, "--output", f"runs/{name}", cwd=tmp_path)
    return tmp_path


def test_compare_shows_metrics_config_differences_and_curves(two_runs):
    result = modelyard(
        "compare", "runs/slow", "runs/fast", "--html", "out/compare.html", cwd=two_runs
    )
    slow, fast = (
        json.loads((two_runs / f"runs/{n}/metrics.json").read_text()) for n in ("slow", "fast")
    )
    out = result.stdout
    assert "validation metrics" in out and "test metrics" in out
    line = next(x for x in out.splitlines() if "│ accuracy" in x and "0." in x)  # validation first
    assert f"{slow['validation']['accuracy']:.4f}" in line
    assert f"{fast['validation']['accuracy']:.4f}" in line
    better = "slow" if slow["validation"]["loss"] < fast["validation"]["loss"] else "fast"
    loss_line = next(x for x in out.splitlines() if x.startswith("│ loss"))
    marked = f"{min(slow['validation']['loss'], fast['validation']['loss']):.4f} *"
    assert marked in loss_line and better in out
    differences = out[out.index("config differences") :]
    assert "trainer.epochs" in differences and "trainer.optimizer.lr" in differences
    assert "0.001" in differences and "0.05" in differences
    assert "data.train" not in differences  # the same in both
    html = (two_runs / "out/compare.html").read_text()
    png = re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1)
    assert base64.b64decode(png).startswith(b"\x89PNG")  # the overlaid curves, drawn for real
    assert 'href="../runs/slow/report.html"' in html and "https://" not in html
    again = modelyard(
        "compare", "runs/slow", "runs/fast", "--html", "out/compare.html", cwd=two_runs, check=None
    )
    assert "--overwrite" in user_error(again)


def _fake_run(folder, task: str, metrics: dict, history: str, **config) -> None:
    """The three files every task's run directory has, as a recommendation or link
    prediction run writes them."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"task": task, **config}))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "history.csv").write_text(history)


def test_compare_reads_recommendation_and_link_prediction_runs(tmp_path):
    history = "epoch,train_loss,validation_recall_at_10,lr,seconds\n1,0.9,0.10,0.01,1\n2,0.7,0.15,0.01,1\n"
    for name, recall, dim in (("a", 0.15, 32), ("b", 0.21, 64)):
        metrics = {
            "validation": {"recall_at_10": recall, "ndcg_at_10": 0.1, "rows": 50},
            "test": {"recall_at_10": recall - 0.01, "mrr": 0.2},
        }
        _fake_run(tmp_path / name, "recommendation", metrics, history, model={"dim": dim})
    metrics = {
        "validation": {"mrr": 0.3, "hits_at_10": 0.5, "mean_rank": 9.0},
        "test": {"mrr": 0.28},
    }
    _fake_run(
        tmp_path / "kg",
        "link_prediction",
        metrics,
        "epoch,train_loss,validation_mrr\n1,1.0,0.3\n",
        model={"dim": 16},
    )
    result = modelyard("compare", "a", "b", "kg", "--html", "page.html", cwd=tmp_path)
    recall = next(x for x in result.stdout.splitlines() if "recall_at_10" in x)
    assert "0.2100 *" in recall and "—" in recall  # higher is better; kg has none
    rank = next(x for x in result.stdout.splitlines() if "mean_rank" in x)
    assert "9" in rank
    assert "model.dim" in result.stdout and "task" in result.stdout
    assert "data:image/png;base64" in (tmp_path / "page.html").read_text()


def test_bad_compare_input_is_the_users_error(tmp_path):
    _fake_run(tmp_path / "a", "supervised", {"test": {"accuracy": 0.5}}, "epoch\n1\n")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "config.yaml").write_text("name: x\n")
    single = user_error(modelyard("compare", "a", cwd=tmp_path, check=None))
    assert "compare needs two or more run directories; 1 given" in single
    not_run = user_error(modelyard("compare", "a", "notes", cwd=tmp_path, check=None))
    assert "'notes' is not a finished run directory: it has no metrics.json" in not_run
    absent = user_error(modelyard("compare", "a", "nowhere", cwd=tmp_path, check=None))
    assert "run directory 'nowhere' does not exist" in absent
