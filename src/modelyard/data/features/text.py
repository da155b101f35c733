"""Text inputs: a tokenizer trained on the training split with Hugging Face `tokenizers`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.data.features.base import Feature, is_missing
from modelyard.errors import UserError
from modelyard.models.encoders.pretrained import load_tokenizer

PAD, UNK, CLS = "[PAD]", "[UNK]", "[CLS]"
SPECIALS = [PAD, UNK, CLS]  # ids 0, 1, 2
UNK_ID = 1


class TextFeature(Feature):
    """Token ids (N, L) padded with 0 to the longest text, at most `max_length`; with a
    pretrained encoder, (N, 2, L) ids and attention mask from the checkpoint's tokenizer.

    `source` is the pretrained checkpoint (or saved tokenizer) directory, set by `Preprocessing`.
    """

    type = "text"
    source: Path | None = None
    saved = False  # True when `source` is a saved fine-tuned model's own backbone folder

    @property
    def pretrained(self) -> bool:
        return self.config.encoder.type == "pretrained"

    def fit(self, series: pd.Series) -> None:
        texts = self._texts(series)
        if not any(t.strip() for t in texts):
            raise UserError(f"column '{self.column}' has no text in the training data")
        if self.pretrained:
            self.tokenizer = load_tokenizer(self.source)
        else:
            self.tokenizer = _train_tokenizer(texts, self.config.preprocessing)

    def _texts(self, series: pd.Series) -> list[str]:
        present = series[~is_missing(series)]
        if len(present) and pd.api.types.is_numeric_dtype(present.infer_objects()):
            raise UserError(
                f"column '{self.column}' holds numbers, not text; use type: number or category for it"
            )
        missing = is_missing(series)
        if missing.any():
            self.note(f"{int(missing.sum())} missing texts treated as empty")
        return ["" if m else str(v) for v, m in zip(series, missing, strict=True)]

    def transform(self, series: pd.Series) -> torch.Tensor:
        """(N, L) int64 token ids, 0 = padding; L = longest text, capped at max_length.
        Pretrained: (N, 2, L) ids and attention mask."""
        if self.pretrained:
            return self._transform_pretrained(self._texts(series))
        encodings = self.tokenizer.encode_batch(self._texts(series))
        max_length = self.config.preprocessing.max_length
        length = max(1, min(max_length, max(len(e.ids) for e in encodings)))
        ids = np.zeros((len(encodings), length), dtype=np.int64)
        truncated = 0
        for row, encoding in enumerate(encodings):
            tokens = encoding.ids[:length] or [UNK_ID]
            truncated += len(encoding.ids) > length
            ids[row, : len(tokens)] = tokens
        if truncated:
            self.note(f"{truncated} texts truncated to {max_length} tokens")
        return torch.from_numpy(ids)

    def _transform_pretrained(self, texts: list[str]) -> torch.Tensor:
        limit = min(self.config.preprocessing.max_length, self.tokenizer.model_max_length)
        encoded = self.tokenizer(
            texts, truncation=True, max_length=limit, padding="longest", return_tensors="np"
        )
        ids, mask = (
            encoded["input_ids"].astype(np.int64),
            encoded["attention_mask"].astype(np.int64),
        )
        truncated = int((mask.sum(axis=1) >= limit).sum())
        if truncated:
            self.note(
                f"{truncated} texts reach the {limit}-token limit (longer ones are truncated)"
            )
        return torch.from_numpy(np.stack([ids, mask], axis=1))

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def state(self) -> dict[str, Any]:
        if self.pretrained:
            return {"pretrained": True}  # the tokenizer is saved as files beside the backbone
        return {"tokenizer": self.tokenizer.to_str()}

    def load_state(self, state: dict[str, Any]) -> None:
        if self.pretrained:
            self.tokenizer = load_tokenizer(self.source)
            return
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_str(state["tokenizer"])


def _train_tokenizer(texts: list[str], prep: Any):
    """A BPE, WordPiece or whitespace word-level tokenizer trained on `texts`."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    kind = prep.tokenizer
    if kind == "bpe":
        tokenizer = Tokenizer(models.BPE(unk_token=UNK))
        trainer: Any = trainers.BpeTrainer(
            vocab_size=prep.vocab_size,
            min_frequency=prep.min_frequency,
            special_tokens=SPECIALS,
            show_progress=False,
        )
    elif kind == "wordpiece":
        tokenizer = Tokenizer(models.WordPiece(unk_token=UNK))
        trainer = trainers.WordPieceTrainer(
            vocab_size=prep.vocab_size,
            min_frequency=prep.min_frequency,
            special_tokens=SPECIALS,
            show_progress=False,
        )
    else:
        tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
        trainer = trainers.WordLevelTrainer(
            vocab_size=prep.vocab_size,
            min_frequency=prep.min_frequency,
            special_tokens=SPECIALS,
            show_progress=False,
        )
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if prep.lowercase else [])
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = (
        pre_tokenizers.Whitespace() if kind != "whitespace" else pre_tokenizers.WhitespaceSplit()
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer
