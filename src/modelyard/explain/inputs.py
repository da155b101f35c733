"""How each model input is explained: where gradients are taken, what "absent" means (the
baseline), how a perturbation method groups its elements, and how attributions become named
per-feature values.

A `Part` is one tensor the network takes (`YardModel.input_names`): the stacked numbers
(`__numbers__`, one column per number/binary feature), a category, a text, an image, or an
audio clip. Attributions are first brought to a canonical per-part shape:

    numbers  (N, K)     one value per stacked column
    category (N,)       one value
    text     (N, L)     one value per token position
    image    (N, H, W)  one value per pixel (channels summed)
    other    (N,)       one value (audio: the whole clip)

Which of these kinds an input is, where its gradients are taken and its baseline are its
preprocessor's to say (`Feature.explain_kind`, `attribution_layer`, `explain_baseline` in
modelyard.data.features), so nothing here asks for an input's type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from modelyard.models.model import STACKED

IMAGE_GRID = 8  # perturbation methods group pixels into about IMAGE_GRID x IMAGE_GRID patches


@dataclass
class Part:
    """One network input: its name, kind, the features it holds and where IG attributes."""

    input: str  # network input name: a feature name or STACKED
    kind: str  # numbers | category | text | image | other
    names: list[str]  # feature names (STACKED: one per column, in column order)
    layer: nn.Module  # integrated gradients attributes to this module's output
    feature: Any = None  # the input's preprocessor (None for STACKED): its kind, layer, baseline


@dataclass
class Heatmap:
    """An image input's attribution map and the (resized) pixels it explains."""

    values: np.ndarray  # (H, W) float32, channels summed
    pixels: np.ndarray  # (C, H, W) uint8


def parts(module: nn.Module, preprocessing) -> list[Part]:
    """One Part per network input of a YardModel, in `module.input_names` order."""
    features = {f.name: f for f in preprocessing.inputs}
    found = []
    for name, encoder in zip(module.input_names, module.encoders, strict=True):
        if name == STACKED:
            found.append(Part(name, "numbers", list(module.stacked), encoder))
            continue
        feature = features[name]
        layer = feature.attribution_layer(encoder)
        found.append(Part(name, feature.explain_kind, [name], layer, feature))
    return found


def baseline(part: Part, x: torch.Tensor) -> torch.Tensor:
    """What "absent" means for `x` (N, ...), as its input's preprocessor says
    (`Feature.explain_baseline`): the training mean for numbers (0 once standardised; the
    negative value for binaries), the unknown category, padding for text (pretrained: the pad
    token, mask kept), the training mean colour for images, zeros else."""
    if part.feature is None:  # the stacked numbers
        return torch.zeros_like(x)
    return part.feature.explain_baseline(x)


def feature_mask(part: Part, x: torch.Tensor, start: int) -> tuple[torch.Tensor, int]:
    """Groups for perturbation methods on one row `x` (1, ...): a (1, ...) int64 mask with ids
    from `start`, and how many ids it uses. A column, a category, a token (all padding one
    group), an image patch, or a whole audio clip is one group."""
    if part.kind == "numbers":
        k = x.shape[1]
        return torch.arange(start, start + k).view(1, k), k
    if part.kind == "text":
        real = _real_tokens(x[0])
        ids = torch.cumsum(real.long(), 0) - 1
        ids = torch.where(real, ids, int(real.sum()))  # padding: one last group
        count = int(real.sum()) + int((~real).any())
        mask = (ids + start).view(1, -1)
        return (mask.unsqueeze(1).expand(1, 2, -1) if x.ndim == 3 else mask), count
    if part.kind == "image":
        _, _, h, w = x.shape
        size = max(1, math.ceil(max(h, w) / IMAGE_GRID))
        columns = math.ceil(w / size)
        rows = torch.arange(h).view(h, 1) // size
        cols = torch.arange(w).view(1, w) // size
        grid = rows * columns + cols  # (H, W)
        used = torch.unique(grid)
        grid = torch.searchsorted(used, grid)  # contiguous ids
        return (grid + start).expand(x.shape).contiguous(), len(used)
    return torch.full(x.shape, start, dtype=torch.long), 1


def canonical(part: Part, attribution: torch.Tensor, at_layer: bool) -> torch.Tensor:
    """Attributions at the IG layer (`at_layer`) or of the input itself -> the part's canonical
    shape (module docstring), by summing over embedding dims, channels, ids/mask rows."""
    a = attribution.detach().float()
    if part.kind == "numbers":
        return a
    if part.kind == "text":
        return a.sum(-1) if at_layer else (a.sum(1) if a.ndim == 3 else a)
    if part.kind == "image":
        return a.sum(1)
    return a.reshape(a.shape[0], -1).sum(1)


def _real_tokens(x: torch.Tensor) -> torch.Tensor:
    """(L,) bool: positions holding a token. x: (L,) ids (0 = padding) or (2, L) ids and mask."""
    return x[1].bool() if x.ndim == 2 else x != 0


def named_values(part: Part, values: torch.Tensor, x: torch.Tensor) -> dict[str, Any]:
    """One row: canonical `values` and the row's input `x` -> {feature name: value}; a text
    gives {tokens, scores} for its real tokens, an image a Heatmap."""
    if part.kind == "numbers":
        return {name: float(v) for name, v in zip(part.names, values.tolist(), strict=True)}
    if part.kind == "text":
        real = _real_tokens(x)
        length = real.shape[0]
        scores = torch.nn.functional.pad(values, (0, max(0, length - values.shape[0])))
        ids = (x[0] if x.ndim == 2 else x)[real].tolist()
        return {
            part.input: {
                "tokens": part.feature.token_strings(ids),
                "scores": [float(s) for s in scores[:length][real]],
            }
        }
    if part.kind == "image":
        pixels = x.numpy().astype(np.uint8)
        return {part.input: Heatmap(values.numpy().astype(np.float32), pixels)}
    return {part.input: float(values)}


def magnitude(value: Any) -> float:
    """A feature's total |attribution| in one row (text: over its tokens; image: its pixels)."""
    if isinstance(value, Heatmap):
        return float(np.abs(value.values).sum())
    if isinstance(value, dict):
        return float(np.abs(value["scores"]).sum())
    return abs(float(value))


def total(value: Any) -> float:
    """A feature's summed (signed) attribution in one row."""
    if isinstance(value, Heatmap):
        return float(value.values.sum())
    if isinstance(value, dict):
        return float(sum(value["scores"]))
    return float(value)
