"""What language-model pretraining needs beyond the spine: corpus, tokenizer, model, blocks, objective.

The tokenizer is trained with Hugging Face `tokenizers` and wrapped as a transformers fast
tokenizer; the model is a `transformers` BERT (masked LM) or GPT-2 (causal LM) of the
configured size, so the saved run loads with `AutoModelFor*.from_pretrained` directly.
"""

from __future__ import annotations

import glob
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from modelyard.errors import UserError

EOS = "<|endoftext|>"
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def read_corpus(corpus: Any, base: Path) -> tuple[list[str], list[str]]:
    """(training lines, validation lines): non-empty lines of the corpus files."""
    train = read_lines(corpus.train, base, "corpus.train")
    if corpus.validation:
        return train, read_lines(corpus.validation, base, "corpus.validation")
    order = np.random.default_rng(corpus.seed).permutation(len(train))
    held = max(1, round(corpus.validation_fraction * len(train)))
    if held >= len(train):
        raise UserError(
            f"corpus.train has {len(train)} lines: too few to hold out validation text; add text or give corpus.validation files"
        )
    chosen = set(order[:held].tolist())
    return [t for i, t in enumerate(train) if i not in chosen], [train[i] for i in sorted(chosen)]


def read_lines(patterns: list[str], base: Path, key: str) -> list[str]:
    files: list[Path] = []
    for pattern in patterns:
        full = pattern if Path(pattern).is_absolute() else str(base / pattern)
        matched = sorted(Path(p) for p in glob.glob(full, recursive=True) if Path(p).is_file())
        if not matched:
            raise UserError(f"{key}: '{pattern}' matches no file (relative to {base})")
        files += matched
    lines = [
        line.strip()
        for f in files
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines()
    ]
    lines = [line for line in lines if line]
    if not lines:
        raise UserError(f"{key}: the files hold no text")
    return lines


def train_tokenizer(lines: Iterable[str], settings: Any, architecture: str, block_size: int):
    """A transformers fast tokenizer trained on `lines`: WordPiece ([CLS] ... [SEP]) or byte-level BPE."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    from modelyard.data.tokenizers import train_tokenizer as train

    kind = (
        settings.type
        if settings.type != "auto"
        else ("wordpiece" if architecture == "bert" else "bpe")
    )
    sizes = {"vocab_size": settings.vocab_size, "min_frequency": settings.min_frequency}
    if kind == "wordpiece":
        tok = train(
            lines,
            "wordpiece",
            split="bert",
            normalizer="bert",
            lowercase=True,
            specials=BERT_SPECIALS,
            unk="[UNK]",
            **sizes,
        )
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
        )
        names = {
            "unk_token": "[UNK]",
            "pad_token": "[PAD]",
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "mask_token": "[MASK]",
        }
    else:
        tok = train(
            lines, "bpe", split="bytes", normalizer="none", specials=[EOS], unk=None, **sizes
        )
        names = {"unk_token": EOS, "bos_token": EOS, "eos_token": EOS, "pad_token": EOS}
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=block_size, **names)


def build_model(settings: Any, tokenizer, block_size: int) -> nn.Module:
    """A randomly initialised BertForMaskedLM or GPT2LMHeadModel of the configured size."""
    import transformers as t

    intermediate = settings.intermediate or 4 * settings.hidden
    if settings.architecture == "bert":
        config = t.BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=settings.hidden,
            num_hidden_layers=settings.layers,
            num_attention_heads=settings.heads,
            intermediate_size=intermediate,
            hidden_dropout_prob=settings.dropout,
            attention_probs_dropout_prob=settings.dropout,
            max_position_embeddings=block_size,
            pad_token_id=tokenizer.pad_token_id,
        )
        return t.BertForMaskedLM(config)
    config = t.GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=settings.hidden,
        n_layer=settings.layers,
        n_head=settings.heads,
        n_inner=intermediate,
        resid_pdrop=settings.dropout,
        embd_pdrop=settings.dropout,
        attn_pdrop=settings.dropout,
        n_positions=block_size,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
    )
    return t.GPT2LMHeadModel(config)


def pack_blocks(lines: list[str], tokenizer, block_size: int, architecture: str) -> torch.Tensor:
    """(N, block_size) int64: the text's tokens end to end, cut into blocks (the remainder is dropped).
    bert: each block is [CLS] ... [SEP]; gpt2: lines are separated by the end-of-text token."""
    ids = [e.ids for e in tokenizer.backend_tokenizer.encode_batch(lines, add_special_tokens=False)]
    if architecture == "gpt2":
        flat = np.fromiter(
            (i for line in ids for i in (*line, tokenizer.eos_token_id)), dtype=np.int64
        )
        width = block_size
    else:
        flat = np.fromiter((i for line in ids for i in line), dtype=np.int64)
        width = block_size - 2
    count = len(flat) // width
    if count == 0:
        raise UserError(
            f"the text has {len(flat)} tokens, less than one block of {width}; add text or lower block_size"
        )
    blocks = flat[: count * width].reshape(count, width)
    if architecture == "bert":
        column = lambda token: np.full((count, 1), token, dtype=np.int64)  # noqa: E731
        blocks = np.concatenate(
            [column(tokenizer.cls_token_id), blocks, column(tokenizer.sep_token_id)], axis=1
        )
    return torch.from_numpy(np.ascontiguousarray(blocks))


class LanguageModelLoss(nn.Module):
    """The training loss of a BertForMaskedLM or GPT2LMHeadModel, as one module for `fit`.

    Masked LM computes the vocabulary projection only at the masked positions (~15% of tokens),
    as NVIDIA's BERT pretraining does; `BertForMaskedLM` projects every position, which is about
    half the compute of a small model (hidden 128, vocabulary 6,000). Hand-written because
    transformers has no option for it (its `logits_to_keep` exists for causal models only).
    """

    def __init__(self, model: nn.Module, architecture: str):
        super().__init__()
        self.model = model
        self.architecture = architecture

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """input_ids, labels: (B, L); labels -100 where nothing is predicted. Returns a scalar."""
        if self.architecture == "gpt2":
            return self.model(input_ids=input_ids, labels=labels).loss
        hidden = self.model.bert(input_ids=input_ids).last_hidden_state  # (B, L, H)
        chosen = labels != -100  # (B, L)
        logits = self.model.cls(hidden[chosen])  # (M, V), M masked positions
        return nn.functional.cross_entropy(logits.float(), labels[chosen])


def objective(architecture: str, tokenizer, mlm_probability: float):
    """(LanguageModelLoss, {"input_ids": (B, L)}) -> loss. Masked LM masks afresh every step
    (dynamic masking, 80/10/10 as BERT, via transformers' DataCollatorForLanguageModeling)."""
    if architecture == "gpt2":
        return lambda net, batch: net(input_ids=batch["input_ids"], labels=batch["input_ids"])
    from transformers import DataCollatorForLanguageModeling

    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=mlm_probability)

    def masked(net, batch):
        ids = batch["input_ids"]
        special = (
            (ids == tokenizer.cls_token_id)
            | (ids == tokenizer.sep_token_id)
            | (ids == tokenizer.pad_token_id)
        )
        inputs, labels = collator.torch_mask_tokens(ids.clone(), special_tokens_mask=special)
        return net(input_ids=inputs, labels=labels)

    return masked


@torch.no_grad()
def held_out_loss(
    net: LanguageModelLoss,
    blocks: torch.Tensor,
    loss_fn,
    device: torch.device,
    bf16: bool,
    batch_size: int,
) -> dict[str, float]:
    """Mean loss and perplexity on `blocks`, in eval mode; masking is seeded, so repeatable."""
    from modelyard.train.precision import autocast

    was_training = net.training
    net.eval()
    total, count = 0.0, 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for start in range(0, len(blocks), batch_size):
            batch = {"input_ids": blocks[start : start + batch_size].to(device)}
            with autocast(device, bf16):
                loss = loss_fn(net, batch)
            total += float(loss) * len(batch["input_ids"])
            count += len(batch["input_ids"])
    net.train(was_training)
    mean = total / count
    return {"loss": mean, "perplexity": math.exp(min(mean, 50.0))}
