"""Write an explanation: the JSON file (`--out`, image heatmaps as .npy in <stem>_heatmaps/
beside it) and <stem>.html beside it, with its PNGs in <stem>_figures/ (global bar chart,
heatmap overlays); text attributions are HTML spans coloured by score (red: towards the
target, blue: against). Every path follows `--out`, so runs with different `--out` never meet.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from modelyard import run
from modelyard.errors import UserError
from modelyard.explain.inputs import Heatmap

_TEMPLATE = "explanation.html.j2"


def page_path(out: Path) -> Path:
    """The HTML page of the explanation written to `out`: <out without suffix>.html beside it."""
    return out.with_suffix(".html")


def targets(out: Path) -> list[Path]:
    """Everything `write` would create that a user may already have."""
    return [out, _heatmap_folder(out), page_path(out), _figure_folder(out)]


def check_free(out: Path, overwrite: bool) -> None:
    """Refuse, before any work, to replace files without --overwrite."""
    if out.suffix.lower() == ".html":
        raise UserError(
            f"--out '{out}': give the JSON file's name (e.g. '{out.with_suffix('.json')}'); "
            "the HTML page is written beside it"
        )
    taken = [f"'{path}'" for path in targets(out) if path.exists()]
    if taken and not overwrite:
        raise UserError(
            f"{' and '.join(taken)} already exist{'s' if len(taken) == 1 else ''}; "
            "pass --overwrite to replace them, or choose another --out"
        )


def write(explanation: dict[str, Any], out: Path, title: str) -> Path:
    """Write the JSON to `out` and the HTML page beside it; returns the page's path. Folders
    left by an earlier explanation to the same `out` are replaced, not mixed in."""
    for folder in (_heatmap_folder(out), _figure_folder(out)):
        if folder.is_dir():
            shutil.rmtree(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    figures = _figures(explanation, _figure_folder(out))
    as_json = _with_heatmap_paths(explanation, out)
    run.write_json(out, as_json)
    page = page_path(out)
    page.write_text(_render(explanation, figures, title), encoding="utf-8")
    return page


def _figure_folder(out: Path) -> Path:
    return out.parent / f"{out.stem}_figures"


def _heatmap_folder(out: Path) -> Path:
    return out.parent / f"{out.stem}_heatmaps"


def _with_heatmap_paths(explanation: dict[str, Any], out: Path) -> dict[str, Any]:
    """A copy with each Heatmap saved as .npy (H, W) and replaced by its path, relative to
    the JSON file's folder."""
    folder = _heatmap_folder(out)
    rows = []
    for row in explanation["rows"]:
        attributions = {}
        for name, value in row["attributions"].items():
            if isinstance(value, Heatmap):
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{name}_row{row['row']}.npy"
                np.save(path, value.values)
                value = path.relative_to(out.parent).as_posix()
            attributions[name] = value
        rows.append({**row, "attributions": attributions})
    return {**explanation, "rows": rows}


def _figures(explanation: dict[str, Any], folder: Path) -> dict[str, str]:
    """Write the PNGs into `folder`; returns {"global" or "<input>/<row>": path relative to
    the page}."""
    from modelyard.explain import plots

    names = {}
    if explanation["global"]:
        folder.mkdir(parents=True, exist_ok=True)
        names["global"] = f"{folder.name}/global.png"
        plots.importance_bars(
            explanation["global"], explanation.get("std"), folder.parent / names["global"]
        )
    for row in explanation["rows"]:
        for name, value in row["attributions"].items():
            if isinstance(value, Heatmap):
                folder.mkdir(parents=True, exist_ok=True)
                key = f"{name}/{row['row']}"
                names[key] = f"{folder.name}/{name}_row{row['row']}.png"
                plots.heatmap_overlay(value.pixels, value.values, folder.parent / names[key])
    return names


def _render(explanation: dict[str, Any], figures: dict[str, str], title: str) -> str:
    import jinja2

    text = resources.files("modelyard.explain").joinpath(_TEMPLATE).read_text(encoding="utf-8")
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(text).render(
        title=title,
        explanation=explanation,
        global_rows=_global_rows(explanation),
        global_png=figures.get("global"),
        rows=[_row_view(row, figures) for row in explanation["rows"]],
    )


def _global_rows(explanation: dict[str, Any]) -> list[tuple[str, str, str]]:
    std = explanation.get("std") or {}
    ordered = sorted(explanation["global"].items(), key=lambda item: -abs(item[1]))
    return [
        (name, f"{value:.4g}", f"{std[name]:.3g}" if name in std else "") for name, value in ordered
    ]


def _row_view(row: dict[str, Any], figures: dict[str, str]) -> dict[str, Any]:
    """One explained row for the template: scalar attributions, coloured texts, images."""
    scalars, texts, images = [], [], []
    for name, value in row["attributions"].items():
        if isinstance(value, Heatmap):
            images.append({"name": name, "png": figures[f"{name}/{row['row']}"]})
        elif isinstance(value, dict):
            texts.append({"name": name, "spans": _spans(value["tokens"], value["scores"])})
        else:
            scalars.append((name, f"{value:+.4g}"))
    return {**row, "scalars": scalars, "texts": texts, "images": images}


def _spans(tokens: list[str], scores: list[float]) -> list[dict[str, str]]:
    """Each token with a background: red for positive scores, blue for negative, opacity by
    |score| relative to the row's largest."""
    largest = max((abs(s) for s in scores), default=0.0) or 1.0
    spans = []
    for token, s in zip(tokens, scores, strict=True):
        alpha = 0.85 * abs(s) / largest
        colour = "220, 38, 38" if s >= 0 else "37, 99, 235"
        spans.append(
            {
                "token": token,
                "style": f"background: rgba({colour}, {alpha:.2f})",
                "score": f"{s:+.4g}",
            }
        )
    return spans
