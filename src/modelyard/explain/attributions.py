"""Per-row attributions with captum, one row at a time.

integrated_gradients: `LayerIntegratedGradients` on every part's layer at once (numbers and
categories at their encoder's output, text at its token embedding, images at the normalised
pixels), so the attributions of all inputs together sum to f(x) - f(baseline).
shap / lime / ablation: `KernelShap`, `Lime`, `FeatureAblation` on the network inputs, with
feature groups from `inputs.feature_mask` (a column, a category, a token, an image patch).
Each group's attribution is spread evenly over its elements, so sums keep their meaning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch

from modelyard.explain.inputs import Part, baseline, canonical, feature_mask

STEPS = 64  # integration steps (Gauss-Legendre): completeness error well under 1% on small nets
MIN_SAMPLES = 300  # KernelShap / Lime perturbations per row, at least ...
SAMPLES_PER_GROUP = 20  # ... or this many per feature group
MAX_SAMPLES = 2000
PER_EVAL = 64  # perturbations evaluated in one forward pass

Forward = Callable[..., torch.Tensor]
Rows = tuple[torch.Tensor, ...]  # one row of every network input, each (1, ...)
Attribute = Callable[[Forward, list[Part], Rows, int | None], tuple[list[torch.Tensor], float]]


def explained_function(module: torch.nn.Module, names: list[str], feature) -> Forward:
    """(*network inputs in `names` order) -> what is explained: (B, C) class probabilities
    (binary: (B, 2), [1 - p, p]) or (B,) values in the number output's own units, as the
    output's task gives them (`Task.explained`)."""
    from modelyard.tasks import task_of

    task = task_of(feature)

    def forward(*tensors: torch.Tensor) -> torch.Tensor:
        raw = module(dict(zip(names, tensors, strict=True)))[feature.name]
        return task.explained(feature, raw)

    return forward


def _value(forward: Forward, inputs: Rows, target: int | None) -> float:
    with torch.no_grad():
        out = forward(*inputs)
    return float(out[0] if target is None else out[0, target])


def integrated_gradients(
    forward: Forward, parts: list[Part], row: Rows, target: int | None
) -> tuple[list[torch.Tensor], float]:
    """Canonical attributions per part (each (1, ...)) and f(baseline)."""
    from captum.attr import LayerIntegratedGradients

    base = tuple(baseline(p, x) for p, x in zip(parts, row, strict=True))
    layers = [p.layer for p in parts]
    with warnings.catch_warnings():  # "layers must not depend on each other": ours are on
        warnings.simplefilter("ignore")  # separate inputs' paths, so they never do
        explainer = LayerIntegratedGradients(forward, layers if len(layers) > 1 else layers[0])
    found = explainer.attribute(row, baselines=base, target=target, n_steps=STEPS)
    found = found if len(layers) > 1 else [found]
    attributions = [canonical(p, a, at_layer=True) for p, a in zip(parts, found, strict=True)]
    return attributions, _value(forward, base, target)


def _groups(parts: list[Part], row: Rows) -> tuple[tuple[torch.Tensor, ...], int]:
    """Feature masks for every part of one row, ids contiguous across parts, and their count."""
    masks, groups = [], 0
    for part, x in zip(parts, row, strict=True):
        mask, count = feature_mask(part, x, groups)
        masks.append(mask)
        groups += count
    return tuple(masks), groups


def _perturbation(make: Callable[[Forward], Any], sampled: bool) -> Attribute:
    """A captum perturbation method (`make(forward)` builds it) over the parts' feature
    groups; `sampled`: it takes n_samples (KernelShap, Lime)."""

    def attribute(
        forward: Forward, parts: list[Part], row: Rows, target: int | None
    ) -> tuple[list[torch.Tensor], float]:
        masks, groups = _groups(parts, row)
        base = tuple(baseline(p, x) for p, x in zip(parts, row, strict=True))
        options: dict[str, Any] = {"perturbations_per_eval": PER_EVAL}
        if sampled:
            options["n_samples"] = min(MAX_SAMPLES, max(MIN_SAMPLES, SAMPLES_PER_GROUP * groups))
        found = make(forward).attribute(
            row, baselines=base, target=target, feature_mask=masks, **options
        )
        found = found if isinstance(found, tuple) else (found,)
        elements = [m.expand_as(x).flatten() for m, x in zip(masks, row, strict=True)]
        sizes = torch.bincount(torch.cat(elements))  # elements per group
        attributions = [
            canonical(p, a.float() / sizes[m.expand_as(a)], at_layer=False)
            for p, a, m in zip(parts, found, masks, strict=True)
        ]
        return attributions, _value(forward, base, target)

    return attribute


def _kernel_shap(forward: Forward):
    from captum.attr import KernelShap

    return KernelShap(forward)


def _lime(forward: Forward):
    """Lime with a plain (kernel-weighted) linear surrogate: captum's default Lasso zeroes
    every small effect, which leaves image patches and weak columns all at 0."""
    from captum._utils.models.linear_model import SkLearnLinearRegression
    from captum.attr import Lime

    return Lime(forward, interpretable_model=SkLearnLinearRegression())


def _ablation(forward: Forward):
    from captum.attr import FeatureAblation

    return FeatureAblation(forward)


ATTRIBUTE: dict[str, Attribute] = {
    "integrated_gradients": integrated_gradients,
    "shap": _perturbation(_kernel_shap, sampled=True),
    "lime": _perturbation(_lime, sampled=True),
    "ablation": _perturbation(_ablation, sampled=False),
}
