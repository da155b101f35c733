"""The span model: a Hugging Face encoder with a start/end layer
(`AutoModelForQuestionAnswering`), loaded offline, and its training loss."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from modelyard.errors import UserError

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def load_span_model(path: Path, random_init: bool = False) -> nn.Module:
    """`AutoModelForQuestionAnswering` from a checkpoint directory: its encoder's weights (a
    plain encoder, a masked LM or a QA checkpoint) with the span layer new where it has none;
    `random_init`: the architecture only."""
    from safetensors import SafetensorError
    from transformers import AutoConfig, AutoModelForQuestionAnswering

    from modelyard.models.encoders.pretrained import quiet_transformers

    quiet_transformers()
    try:
        if random_init:
            config = AutoConfig.from_pretrained(str(path), local_files_only=True)
            return AutoModelForQuestionAnswering.from_config(config)
        return AutoModelForQuestionAnswering.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError, SafetensorError) as e:
        raise UserError(
            f"pretrained model '{path}' cannot be loaded for question answering by "
            f"transformers.AutoModelForQuestionAnswering ({e})"
        ) from None


def load_fast_tokenizer(path: Path):
    """The checkpoint's tokenizer, which must be a fast one: only those give the character
    offsets that map answers to tokens and back."""
    from modelyard.models.encoders.pretrained import load_tokenizer

    tokenizer = load_tokenizer(path)
    if not tokenizer.is_fast:
        raise UserError(
            f"pretrained model '{path}': its tokenizer is not a fast (Rust) tokenizer, which question "
            "answering needs for character offsets; save the checkpoint with a tokenizer.json"
        )
    return tokenizer


def span_logits(model: nn.Module, batch: dict[str, torch.Tensor]):
    """batch {input_ids, attention_mask[, token_type_ids]: (B, L)} -> (start, end) (B, L)
    scores; padding positions get -10000 so no span is chosen there. The model reads only
    the batch's longest window (windows are padded to max_length; most are shorter)."""
    mask = batch["attention_mask"]
    used = int(mask.sum(dim=1).max()) if len(mask) else mask.shape[1]
    output = model(**{k: batch[k][:, :used] for k in INPUTS if k in batch})
    start = output.start_logits.float().new_full(mask.shape, -1e4)
    end = start.clone()
    start[:, :used], end[:, :used] = output.start_logits.float(), output.end_logits.float()
    pad = mask == 0
    return start.masked_fill(pad, -1e4), end.masked_fill(pad, -1e4)


def span_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The mean of the start and end cross-entropies (run_qa.py's loss; the target is the
    [CLS] position where the window does not hold the answer)."""
    start, end = span_logits(model, batch)
    return (F.cross_entropy(start, batch["start"]) + F.cross_entropy(end, batch["end"])) / 2
