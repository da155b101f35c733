"""Magnitude pruning.

Unstructured (`unstructured`): the smallest `amount` of each Linear / Conv weight set to zero
with `torch.nn.utils.prune.l1_unstructured`; the masks stay on while fine-tuning (pruned weights
stay zero) and are then made permanent with `prune.remove`. Tensors keep their shapes: the
saving is in zeros (sparse storage or compression), not in the weights file.

Structured (`structured`): whole neurons of the MLP hidden layers (mlp combiner, text/image mlp
encoders) and whole channels of image cnn encoders are removed, so tensors shrink. Which
neurons go is torch's `prune.LnStructured` (smallest L1 norm of a neuron's incoming weights);
slicing the layers and the next layer's inputs is hand-written (torch has no tool for that and
the torch-pruning package is not a dependency). The smaller sizes are written into the config
(`combiner.hidden`, `inputs[i].encoder.hidden` / `channels` / `output_size`), so `Model.load`
builds the smaller model from the saved config like any other run.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import prune

from modelyard.errors import UserError
from modelyard.models.encoders import tabular

Consumer = tuple[
    str, int, int
]  # (state-dict prefix of the next layer, column offset, columns per unit)
PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
_TABULAR = (tabular.Passthrough, tabular.CategoryEmbedding, tabular.OneHot)  # no hidden layers


@dataclass
class _Layer:
    prefix: str  # state-dict prefix of a Linear or Conv whose outputs (dim 0) are pruned
    module: nn.Module
    norm: str | None = None  # prefix of the BatchNorm right after it
    consumers: list[Consumer] = field(default_factory=list)


@dataclass
class _Group:
    """Layers whose sizes are one config entry: `path` like ("combiner", "hidden")."""

    path: tuple
    layers: list[_Layer]
    single: bool = False  # the config entry is one int (output_size), not a list


# ---------------------------------------------------------------- unstructured


def unstructured(module: nn.Module, amount: float) -> nn.Module:
    """A copy of `module` with masks zeroing the smallest `amount` of each Linear/Conv weight."""
    pruned = copy.deepcopy(module)
    layers = [m for m in pruned.modules() if isinstance(m, PRUNABLE)]
    if not layers:
        raise UserError("this model has no Linear or Conv layers to prune")
    for layer in layers:
        prune.l1_unstructured(layer, "weight", amount)
    return pruned


def make_permanent(module: nn.Module) -> nn.Module:
    """Fold the masks into the weights (weight_orig * weight_mask -> weight)."""
    for layer in module.modules():
        if prune.is_pruned(layer) and hasattr(layer, "weight_mask"):
            prune.remove(layer, "weight")
    return module


# ---------------------------------------------------------------- structured


def structured(model, amount: float):
    """A new api.Model whose MLP neurons / conv channels are `amount` fewer, with a config that
    says the new sizes. Returns (model, {config path: [old sizes] -> [new sizes]})."""
    from modelyard.compress.training import with_config
    from modelyard.config import validate
    from modelyard.models.build import build_model

    groups = _groups(model)
    state = {k: v.detach().clone() for k, v in model.module.state_dict().items()}
    keep = {layer.prefix: _keep(layer.module, amount) for g in groups for layer in g.layers}
    _slice(state, groups, keep)
    raw = model.config.model_dump(mode="json")
    changes = {}
    for group in groups:
        sizes = [len(keep[layer.prefix]) for layer in group.layers]
        old = _set(raw, group.path, sizes[0] if group.single else sizes)
        changes[_path_text(group.path, raw)] = {"before": old, "after": _get(raw, group.path)}
    config = validate(raw, "pruned config")
    smaller = with_config(model, config)
    smaller.module = build_model(config, smaller.preprocessing)
    smaller.module.load_state_dict(state)  # strict: the config's sizes fit the sliced weights
    return smaller, changes


def _keep(layer: nn.Module, amount: float) -> torch.Tensor:
    """Indices of the output units (rows) kept: torch's L1-norm structured selection."""
    weight = layer.weight.detach()
    method = prune.LnStructured(amount, n=1, dim=0)
    mask = method.compute_mask(weight, torch.ones_like(weight))
    kept = mask.flatten(1).any(dim=1).nonzero().flatten()
    if len(kept) == 0:  # `amount` rounded up to every unit: keep the strongest one
        kept = weight.flatten(1).abs().sum(dim=1).argmax().reshape(1)
    return kept


def _slice(state: dict, groups: list[_Group], keep: dict[str, torch.Tensor]) -> None:
    """Rows of each pruned layer (and its BatchNorm); columns of each layer that reads it."""
    columns: dict[str, torch.Tensor] = {}  # consumer prefix -> bool mask over its inputs
    for group in groups:
        for layer in group.layers:
            rows = keep[layer.prefix]
            for name in ("weight", "bias"):
                if f"{layer.prefix}.{name}" in state:
                    state[f"{layer.prefix}.{name}"] = state[f"{layer.prefix}.{name}"][rows]
            if layer.norm is not None:
                for name in ("weight", "bias", "running_mean", "running_var"):
                    state[f"{layer.norm}.{name}"] = state[f"{layer.norm}.{name}"][rows]
            for prefix, offset, per_unit in layer.consumers:
                width = state[f"{prefix}.weight"].shape[1]
                mask = columns.setdefault(prefix, torch.ones(width, dtype=torch.bool))
                units = torch.zeros(layer.module.weight.shape[0], dtype=torch.bool)
                units[rows] = True
                dropped = (~units).repeat_interleave(per_unit).nonzero().flatten()
                mask[offset + dropped] = False
    for prefix, mask in columns.items():
        state[f"{prefix}.weight"] = state[f"{prefix}.weight"][:, mask]


def _groups(model) -> list[_Group]:
    """The prunable groups of a YardModel, each wired to the layers that read its outputs."""
    from modelyard.models.combiners import MlpCombiner
    from modelyard.models.model import YardModel

    module = model.module
    if not isinstance(module, YardModel):
        raise UserError(_unsupported(f"a {type(module).__name__} (tagging, seq2seq or speech)"))
    heads = [(f"heads.{j}.linear", 0, 1) for j in range(len(module.heads))]
    groups: list[_Group] = []
    combiner = module.combiner
    has_mlp = isinstance(combiner, MlpCombiner) and any(
        isinstance(m, nn.Linear) for m in combiner.layers
    )
    if has_mlp:
        groups.append(
            _Group(("combiner", "hidden"), _mlp_layers("combiner.layers", combiner.layers, heads))
        )
    skipped, offset = [], 0
    for i, (name, encoder) in enumerate(zip(module.input_names, module.encoders, strict=True)):
        downstream = (
            [("combiner.layers.0", offset, 1)] if has_mlp else [(p, offset, 1) for p, _, _ in heads]
        )
        found = _encoder_groups(model.config, name, f"encoders.{i}", encoder, downstream)
        if found is None and not isinstance(encoder, _TABULAR):
            skipped.append(f"{name} ({type(encoder).__name__})")
        groups += found or []
        offset += encoder.output_size
    if not groups:
        what = f"input encoders {', '.join(skipped)}" if skipped else "no hidden layers"
        raise UserError(
            _unsupported(f"a model with a {type(combiner).__name__} combiner and {what}")
        )
    return groups


def _unsupported(what: str) -> str:
    return (
        f"--structured pruning removes neurons of MLP layers (mlp combiner with hidden layers, text/image mlp "
        f"encoders) and channels of image cnn encoders; this is {what}, which has none. Drop --structured "
        "(unstructured pruning works on any Linear/Conv layer), or use --method distill with a smaller student"
    )


def _mlp_layers(prefix: str, layers: nn.Sequential, downstream: list[Consumer]) -> list[_Layer]:
    """The Linear layers of a `common.mlp` stack: each read by the next, the last by `downstream`."""
    found: list[_Layer] = []
    children = list(layers)
    for j, child in enumerate(children):
        if isinstance(child, PRUNABLE):
            if found:
                found[-1].consumers = [(f"{prefix}.{j}", 0, 1)]
            norm = j + 1 < len(children) and isinstance(children[j + 1], NORMS)
            found.append(_Layer(f"{prefix}.{j}", child, f"{prefix}.{j + 1}" if norm else None))
    if found:
        found[-1].consumers = downstream
    return found


def _encoder_groups(
    config, name: str, prefix: str, encoder: nn.Module, downstream
) -> list[_Group] | None:
    """Groups of an mlp or image cnn encoder (possibly behind the image Pixels step); None if unsupported."""
    from modelyard.models.encoders.cnn import ImageCnn
    from modelyard.models.encoders.mlp import ImageMlp, TextMlp

    body = encoder
    if isinstance(encoder, nn.Sequential) and len(encoder) == 2:  # build._with_pixels
        body, prefix = encoder[1], f"{prefix}.1"
    index = next((k for k, f in enumerate(config.inputs) if f.name == name), None)
    if isinstance(body, TextMlp | ImageMlp):
        layers = _mlp_layers(f"{prefix}.layers", body.layers, downstream)
        return [_Group(("inputs", index, "encoder", "hidden"), layers)] if layers else []
    if isinstance(body, ImageCnn):
        return _image_cnn_groups(index, prefix, body, downstream)
    return None


def _image_cnn_groups(index: int, prefix: str, body, downstream) -> list[_Group]:
    """Conv channels (each read by the next conv; the last by the dense layer, one column per
    pixel of its flattened map) and the dense layer's outputs (read by `downstream`)."""
    dense_prefix = f"{prefix}.head.2"
    dense = body.head[2]
    convs = _mlp_layers(f"{prefix}.blocks", body.blocks, [(dense_prefix, 0, 1)])
    if not convs:
        return []
    pixels = dense.in_features // convs[-1].module.out_channels
    convs[-1].consumers = [(dense_prefix, 0, pixels)]
    return [
        _Group(("inputs", index, "encoder", "channels"), convs),
        _Group(
            ("inputs", index, "encoder", "output_size"),
            [_Layer(dense_prefix, dense, None, downstream)],
            single=True,
        ),
    ]


def _get(raw: dict, path: tuple):
    for key in path:
        raw = raw[key]
    return raw


def _set(raw: dict, path: tuple, value) -> object:
    parent = _get(raw, path[:-1])
    old, parent[path[-1]] = parent[path[-1]], value
    return old


def _path_text(path: tuple, raw: dict) -> str:
    """("inputs", 2, "encoder", "hidden") -> "inputs[review].encoder.hidden"."""
    if path[0] == "inputs":
        return f"inputs[{raw['inputs'][path[1]]['name']}].{'.'.join(path[2:])}"
    return ".".join(path)
