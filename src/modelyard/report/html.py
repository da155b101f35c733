"""Render a training run as one self-contained HTML file (inline CSS and PNGs, no scripts)."""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Any

from modelyard.report import plots

_TEMPLATE = "report.html.j2"
_WIDE_CLASSES = 10


def write_report(
    run_dir: Path,
    *,
    title: str,
    metrics: dict[str, dict[str, float]],
    history: list[dict[str, Any]],
    details: dict[str, dict[str, dict]],
    config_yaml: str,
    baselines: dict[str, Any] | None = None,
    model_size: dict[str, Any] | None = None,
    data_summary: dict[str, Any] | None = None,
) -> Path:
    """Write `run_dir / "report.html"` and return its path.

    metrics: {split: {metric_name: value}}; history: one dict per epoch (epoch, train_loss,
    validation_*, lr, seconds; any may be missing); details: {split: {output: details}} with
    each details dict from classification_details or regression_details; baselines: the
    model vs baselines table (modelyard.baselines.comparison), shown first, or None;
    model_size: models.size.model_size's record, in the header; data_summary:
    data.summary.data_summary's record, as the Data section.
    """
    import jinja2

    template_text = (
        resources.files("modelyard.report").joinpath(_TEMPLATE).read_text(encoding="utf-8")
    )
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = environment.from_string(template_text).render(
        title=title,
        summary=_summary(history, model_size),
        data=_data_section(data_summary),
        baselines=baselines,
        metric_tables=[
            _metric_table(split, values) for split, values in (metrics or {}).items() if values
        ],
        curves=plots.learning_curves(history or []),
        outputs=_output_sections(details or {}),
        config_yaml=config_yaml or "",
    )
    path = Path(run_dir) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def _format_value(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if abs(value) < 1e4:
        return f"{value:.4f}"
    return f"{value:,.2f}" if abs(value) < 1e12 else f"{value:.4g}"


def _metric_table(split: str, values: dict[str, Any]) -> dict[str, Any]:
    """Rows of (output, metric, formatted value); output is "" for names without an "output." prefix."""
    rows = [(*name.rpartition(".")[::2], _format_value(value)) for name, value in values.items()]
    return {"split": split, "rows": rows, "with_outputs": any(output for output, _, _ in rows)}


def _summary(
    history: list[dict[str, Any]], model_size: dict[str, Any] | None = None
) -> list[tuple[str, str]]:
    """Short facts about training: the model's size, epochs, time, best validation loss."""
    facts = []
    if model_size:
        from modelyard.models.size import describe

        facts.append(("model", describe(model_size)))
    if not history:
        return facts
    facts.append(("epochs", str(history[-1].get("epoch", len(history)))))
    seconds = [row["seconds"] for row in history if row.get("seconds") is not None]
    if seconds:
        facts.append(("training time", f"{sum(seconds):.1f} s"))
    losses = [
        (row["validation_loss"], row.get("epoch", i + 1))
        for i, row in enumerate(history)
        if row.get("validation_loss") is not None
    ]
    if losses:
        loss, epoch = min(losses)
        facts.append(("best validation loss", f"{_format_value(loss)} (epoch {epoch})"))
    return facts


def _output_sections(details: dict[str, dict[str, dict]]) -> list[dict[str, Any]]:
    """One section per (split, output): its kind and figures (caption, base64 PNG)."""
    sections = []
    for split, outputs in details.items():
        for output, detail in (outputs or {}).items():
            figures = _figures(detail or {})
            if figures:
                sections.append({"split": split, "output": output, "figures": figures})
    return sections


def _figures(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """Figures for one output; a confusion matrix with many classes gets the full width."""
    figures: list[dict[str, Any]] = []
    if "confusion_matrix" in detail:
        wide = len(detail["classes"]) > _WIDE_CLASSES
        matrix = plots.confusion_matrix(detail["confusion_matrix"], detail["classes"])
        figures.append(
            {"caption": "Confusion matrix (rows: true class)", "png": matrix, "wide": wide}
        )
        figures.append(
            {
                "caption": "ROC curves",
                "png": plots.roc_curves(detail.get("roc") or {}),
                "wide": wide,
            }
        )
        if detail.get("pr"):
            caption = f"Precision-recall curve (positive class '{detail['pr']['class']}')"
            figures.append(
                {"caption": caption, "png": plots.precision_recall(detail["pr"]), "wide": False}
            )
    elif "true" in detail:
        scatter = plots.prediction_scatter(detail["true"], detail["predicted"])
        figures.append({"caption": "Predicted vs true", "png": scatter, "wide": False})
    figures.extend(detail.get("figures", []))  # ready ones ({caption, png, wide}) of a task
    figures.extend(_fairness_figures(detail.get("fairness")))
    figures.extend(detail.get("figures") or [])  # a task's own ({caption, png, wide}: samples)
    return [figure for figure in figures if figure["png"] is not None]


def _fairness_figures(fairness: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per-group bars for each sensitive column (modelyard.fairness.evaluate's details)."""
    figures = []
    for column, block in ((fairness or {}).get("before") or {}).items():
        after = ((fairness.get("after") or {}).get(column) or {}).get("groups")
        read = "a model input" if fairness["columns"][column]["input"] else "not a model input"
        caption = f"Per group of '{column}' ({read})"
        if "demographic_parity_difference" in block:
            caption += (
                f": demographic parity difference {block['demographic_parity_difference']:.3f}, "
                f"equalized odds difference {block['equalized_odds_difference']:.3f}"
            )
        if after:
            mitigated = fairness["after"][column]
            caption += (
                f"; after mitigation ({fairness['constraint']}) "
                f"{mitigated['demographic_parity_difference']:.3f} and "
                f"{mitigated['equalized_odds_difference']:.3f}"
            )
        png = plots.group_bars(block["groups"], after)
        figures.append({"caption": caption, "png": png, "wide": after is not None})
    return figures


def _data_section(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """The Data section's tables from data_summary.json: splits (rows, left out), class
    balance per output ("rows (share)" per split), missing values filled per column."""
    if not summary:
        return None
    splits = summary.get("splits") or {}
    rows = [
        (name, _format_value(found["rows"]), _left_out(found.get("left_out") or {}))
        for name, found in splits.items()
    ]
    balance = []
    for output, per_split in (summary.get("classes") or {}).items():
        names = list(dict.fromkeys(c for counts in per_split.values() for c in counts))
        table = [
            (name, [_share(counts.get(name, 0), counts) for counts in per_split.values()])
            for name in names
        ]
        balance.append({"output": output, "splits": list(per_split), "rows": table})
    filled = [
        (column, _fill_rule(entry), [_format_value(entry["rows"].get(s, 0)) for s in splits])
        for column, entry in (summary.get("filled") or {}).items()
    ]
    return {
        "rows": rows,
        "balance": balance,
        "filled": filled,
        "split_names": list(splits),
        "note": summary.get("note", ""),
    }


def _left_out(left_out: dict[str, int]) -> str:
    return "; ".join(f"{reason}: {count:,}" for reason, count in left_out.items()) or "none"


def _share(count: int, counts: dict[str, int]) -> str:
    total = sum(counts.values())
    return f"{count:,} ({100 * count / total:.1f}%)" if total else "0"


def _fill_rule(entry: dict[str, Any]) -> str:
    """'mean (43.92)', 'unknown', 'empty text'."""
    how, value = entry["with"], entry["value"]
    if how == "empty":
        return "empty text"
    if how == "unknown":
        return "the unknown category"
    shown = f"{value:.6g}" if isinstance(value, float) else f"'{value}'"
    return f"{how} ({shown})"
