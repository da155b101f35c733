"""`modelyard explain`: which inputs drive a trained model's predictions.

Methods (captum and sklearn do the work):
  integrated_gradients  per row; exact-ish and fast for neural nets; attributions of all
                        inputs together sum to f(x) - f(baseline) (captum LayerIntegratedGradients)
  shap                  per row; model-agnostic Shapley estimates by sampling (captum KernelShap);
                        slower, noisier, no gradients needed
  lime                  per row; a local linear surrogate (captum Lime); cheapest to read, least stable
  ablation              per row; each feature group replaced by its baseline once (captum FeatureAblation)
  permutation           global; drop in the output's metric when a feature is shuffled (sklearn)

What is explained: a class's probability (the predicted class per row, or `target`) or a
number output's value in its own units. The baselines ("absent" values) are in inputs.py.
The result is a plain dict (see `explain`); render.py writes it as JSON and HTML.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from modelyard.errors import UserError
from modelyard.registry import Registry
from modelyard.tasks import task_of

DEFAULT_ROWS = 10
METHODS: Registry[str] = Registry("explain method")
for _name in ("integrated_gradients", "shap", "lime", "ablation", "permutation"):
    METHODS.register(_name)(_name)


def explain(
    model,
    data,
    method: str = "integrated_gradients",
    rows: int | None = None,
    output: str | None = None,
    target: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Explain `model` (an api.Model) on `data` (a table path or DataFrame).

    Returns {method, output, target, rows: [{row, id?, prediction, target, value,
    baseline_value, attributions: {feature: value | {tokens, scores} | Heatmap}}],
    global: {feature: mean |attribution|}}; permutation has no rows, and global is the mean
    drop in `metric` (with `std`). `rows`: how many rows to explain (default 10; permutation:
    all)."""
    METHODS.get(method)
    own = getattr(
        model, "explain_rows", None
    )  # a run with its own explanation (question answering)
    if own is not None:
        return own(data, rows, method)
    feature = output_feature(model, output)
    if rows is not None and rows < 1:
        raise UserError(f"--rows {rows}: give at least 1")
    frame = model._as_frame(data)
    torch.manual_seed(seed)
    own_way = task_of(feature).explain_rows(model, feature, frame, method, rows, target)
    if own_way is not None:  # e.g. a heatmap per class of a mask output
        return own_way
    head = {"method": method, "output": feature.name}
    if method == "permutation":
        if target is not None:
            raise UserError("--target is for per-row methods; permutation scores the whole output")
        from modelyard.explain.permutation import permutation

        return {
            **head,
            "target": None,
            "rows": [],
            **permutation(model, feature, frame, rows, seed),
        }
    model.require("attributions", f"explain --method {method}")  # per-row: a network's
    target_index = _target_index(feature, target)
    _require_captum(method)
    was_training = model.module.training
    model.module.eval()  # no dropout, batch statistics or augmentation while explaining
    try:
        explained = _explain_rows(
            model, feature, frame.head(rows or DEFAULT_ROWS), method, target_index
        )
    finally:
        model.module.train(was_training)
    return {**head, "target": target or "predicted", **explained}


def _require_captum(method: str) -> None:
    try:
        import captum  # noqa: F401
    except ImportError:
        raise UserError(
            f"--method {method} needs captum: pip install 'modelyard[explain]' (permutation does not)"
        ) from None


def output_feature(model, name: str | None):
    """The output to explain (default: the first), of a model whose tasks all support it."""
    model.require("explain", "explain")
    outputs = {f.name: f for f in model.preprocessing.outputs}
    if name is not None and name not in outputs:
        raise UserError(f"--output '{name}': the model's outputs are {', '.join(outputs)}")
    return outputs[name] if name is not None else model.preprocessing.outputs[0]


def _target_index(feature, target: str | None) -> int | None:
    """--target CLASS -> its index among the output's classes (None: each row's prediction)."""
    if target is None:
        return None
    names = task_of(feature).classes(feature)
    if names is None:
        raise UserError(
            f"--target is for classification outputs; '{feature.name}' is a {feature.type}"
        )
    if target not in names:
        raise UserError(f"--target '{target}': the classes of '{feature.name}' are {names}")
    return names.index(target)


def _explain_rows(model, feature, frame, method: str, target: int | None) -> dict[str, Any]:
    from modelyard.explain import inputs
    from modelyard.explain.attributions import ATTRIBUTE, explained_function

    table = model.preprocessing.prepare(frame, "explain", labels=False)
    model._log_notes()
    parts = inputs.parts(model.module, model.preprocessing)
    network = model._inputs(table)
    tensors = tuple(network[p.input] for p in parts)
    forward = explained_function(model.module, [p.input for p in parts], feature)
    with torch.no_grad():
        values = forward(*tensors)  # (N, C) or (N,)
    names = task_of(feature).classes(feature)
    predicted = _predicted(feature, values) if names else None
    chosen = _chosen(predicted, len(values), target)
    rows = []
    for i in range(len(table)):
        row = tuple(t[i : i + 1] for t in tensors)
        found, base_value = ATTRIBUTE[method](forward, parts, row, chosen[i])
        attributions: dict[str, Any] = {}
        for part, a, x in zip(parts, found, row, strict=True):
            attributions.update(inputs.named_values(part, a[0], x[0]))
        rows.append(
            {
                **_row_id(model, table.frame, i),
                "prediction": names[predicted[i]] if names else float(values[i]),
                "target": names[chosen[i]] if names else feature.name,
                "value": float(values[i] if names is None else values[i, chosen[i]]),
                "baseline_value": base_value,
                "attributions": _in_config_order(model, attributions),
            }
        )
    return {"rows": rows, "global": _global(rows)}


def _predicted(feature, probabilities: torch.Tensor) -> list[int]:
    """(N, C) class probabilities -> each row's predicted class, as `predict` chooses it."""
    task = task_of(feature)
    return task.predicted_classes(feature, probabilities.double().numpy()).tolist()


def _chosen(predicted: list[int] | None, rows: int, target: int | None) -> list[int | None]:
    """Per row, the class whose probability is explained (None when there are no classes)."""
    if predicted is None:
        return [None] * rows
    if target is not None:
        return [target] * rows
    return predicted


def _row_id(model, frame, i: int) -> dict[str, Any]:
    """{row: data row number (1 = first row under the header)} and the row's id columns."""
    index = frame.index[i]
    found: dict[str, Any] = {
        "row": int(index) + 1 if isinstance(index, int | np.integer) else str(index)
    }
    ids = [c for c in model.config.data.id_columns if c in frame.columns]
    if ids:
        found["id"] = {c: _plain(frame.iloc[i][c]) for c in ids}
    return found


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _in_config_order(model, attributions: dict[str, Any]) -> dict[str, Any]:
    return {f.name: attributions[f.name] for f in model.preprocessing.inputs}


def _global(rows: list[dict[str, Any]]) -> dict[str, float]:
    """{feature: mean over rows of its total |attribution|}."""
    from modelyard.explain.inputs import magnitude

    names = list(rows[0]["attributions"]) if rows else []
    return {
        name: sum(magnitude(r["attributions"][name]) for r in rows) / len(rows) for name in names
    }
