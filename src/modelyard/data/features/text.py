"""Text inputs: a tokenizer trained on the training split with Hugging Face `tokenizers`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from modelyard.data.features.base import Feature, is_missing, parts
from modelyard.errors import UserError
from modelyard.models.encoders.common import TokenEmbedder
from modelyard.models.encoders.pretrained import load_tokenizer

PAD, UNK, CLS = "[PAD]", "[UNK]", "[CLS]"
SPECIALS = [PAD, UNK, CLS]  # ids 0, 1, 2
UNK_ID = 1


def split_words(value: Any) -> tuple[list[str], bool]:
    """A value's words and whether it was a JSON list: a list (Parquet, JSON lines), a string
    holding a JSON list of strings, or else a space-separated string. Missing values have none."""
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value], True
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return [], False
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(v, str) for v in parsed):
            return parsed, True
    return text.split(), False


@dataclass
class Alignment:
    """Word mode: which word each token position of the last transformed rows belongs to.

    `word_ids[i][p]`: the word index of row i's token position p, None for padding and special
    tokens; `word_counts[i]`: row i's words (truncated ones included); `json_rows[i]`: row i was
    a JSON list; `rows`: the rows' index, so a reader can check it has the same rows;
    `length`: L of the (N, L) or (N, 2, L) ids.
    """

    word_ids: list[list[int | None]]
    word_counts: list[int]
    json_rows: list[bool]
    rows: pd.Index
    length: int

    def first_pieces(self, row: int) -> dict[int, int]:
        """{word index: position of its first token} for one row (words cut by truncation are absent)."""
        starts: dict[int, int] = {}
        for position, word in enumerate(self.word_ids[row]):
            if word is not None:
                starts.setdefault(word, position)
        return starts


class TextFeature(Feature):
    """Token ids (N, L) padded with 0 to the longest text, at most `max_length`; with a
    pretrained encoder, (N, 2, L) ids and attention mask from the checkpoint's tokenizer.

    `source` is the pretrained checkpoint (or saved tokenizer) directory, set by `Preprocessing`.
    Word mode (`words`, set by a tags output reading this text): each value is pre-split words
    (see `split_words`), tokenised word by word; the same tensors, plus `alignment` of the rows
    transformed last.
    """

    type = "text"
    source: Path | None = None
    saved = False  # True when `source` is a saved fine-tuned model's own backbone folder
    words = False
    alignment: Alignment | None = None
    sentences: Any = None  # sentence mode (tasks/summary/sentences.DocumentSentences), or None
    request_type = str | list[str]
    explain_kind = "text"
    export_preprocessing = "token ids of the tokenizer named here, truncated to max_length (0 = padding); pretrained: (batch, 2, length) ids and attention mask"

    @classmethod
    def variant(cls, config: Any) -> type[Feature]:
        """`BowTextFeature` (n-grams and counts) for the bow encoder, else token ids."""
        if config.encoder.type == "bow":
            from modelyard.data.features.bow import BowTextFeature

            return BowTextFeature
        return cls

    @property
    def pretrained(self) -> bool:
        return self.config.encoder.type == "pretrained"

    # A tokenizer is trained from an iterator over the training texts, read a second time
    # (Preprocessing.end_fit gives it): a streamed fit never holds the whole column. (Feeding
    # tokenizers' trainer from a thread during the first pass deadlocks: its trainer pulls the
    # iterator on its own rayon pool, which a second text column or a failed fit exhausts.)
    trains_from_iterator = True

    def fit(self, series: pd.Series) -> None:
        self.start_fit()
        for part in parts(series):
            self.fit_part(part)
        self.end_fit_from(lambda: parts(series))

    def start_fit(self) -> None:
        self._seen = {"text": False, "words": False}  # any text; any value that is not a number

    def fit_part(self, series: pd.Series) -> None:
        """Checks only: the texts are read again to train the tokenizer (`end_fit_from`)."""
        present = series[~is_missing(series)]
        self._seen["text"] |= bool(len(present))
        self._seen["words"] |= bool(len(present)) and not pd.api.types.is_numeric_dtype(
            present.infer_objects()
        )

    def end_fit(self) -> None:
        raise RuntimeError("a text feature's fit ends with end_fit_from(its parts again)")

    def _require_text(self) -> None:
        """A UserError when the training column held no text, or numbers only."""
        if not self._seen["text"]:
            raise UserError(f"column '{self.column}' has no text in the training data")
        if not self._seen["words"]:
            raise UserError(
                f"column '{self.column}' holds numbers, not text; use type: number or category for it"
            )

    def end_fit_from(self, again) -> None:
        """`again()`: the training column once more, part by part (Series)."""
        self._require_text()
        if self.pretrained:
            self.tokenizer = load_tokenizer(self.source)
            return
        texts = (text for part in again() for text in self._fit_texts(part))
        self.tokenizer = _train_tokenizer(texts, self.config.preprocessing)

    def _fit_texts(self, series: pd.Series) -> list[str]:
        if self.words:
            return [" ".join(w) for w in self._words(series)]
        return self._texts(series)

    def _texts(self, series: pd.Series) -> list[str]:
        missing = is_missing(series)
        if missing.any():
            self.note(f"{int(missing.sum())} missing texts treated as empty")
            self.record_filled(int(missing.sum()), "empty", "")
        return ["" if m else str(v) for v, m in zip(series, missing, strict=True)]

    def _words(self, series: pd.Series) -> list[list[str]]:
        """Word mode: each row's words; missing rows have none."""
        self._texts(series)  # the same checks and notes as for whole texts
        return [split_words(v)[0] for v in series]

    def transform(self, series: pd.Series) -> torch.Tensor:
        """(N, L) int64 token ids, 0 = padding; L = longest text, capped at max_length.
        Pretrained: (N, 2, L) ids and attention mask. Sentence mode: (N, S, ...) per sentence."""
        if self.sentences is not None:
            return self.sentences.transform(self, series)
        if self.words:
            return self._transform_words(series)
        if self.pretrained:
            return self._transform_pretrained(self._texts(series))[0]
        return self._pad(self.tokenizer.encode_batch(self._texts(series)))

    def _transform_words(self, series: pd.Series) -> torch.Tensor:
        """Word mode: the same tensors from pre-split words; sets `alignment`."""
        words = self._words(series)
        if self.pretrained:
            ids, encoded = self._transform_pretrained(words, is_split_into_words=True)
            word_ids = [encoded.word_ids(i) for i in range(len(words))]
        else:
            encodings = self.tokenizer.encode_batch(words, is_pretokenized=True)
            ids = self._pad(encodings)
            word_ids = [e.word_ids[: ids.shape[-1]] for e in encodings]
        self.alignment = Alignment(
            word_ids,
            [len(w) for w in words],
            [split_words(v)[1] for v in series],
            series.index,
            ids.shape[-1],
        )
        return ids

    def _pad(self, encodings: list) -> torch.Tensor:
        """`tokenizers` encodings -> (N, L) ids padded with 0, cut at max_length (with a note)."""
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

    def _transform_pretrained(self, texts: list, **options) -> tuple[torch.Tensor, Any]:
        """(N, 2, L) ids and attention mask, and the tokenizer's encoding (for `word_ids`)."""
        limit = min(self.config.preprocessing.max_length, self.tokenizer.model_max_length)
        encoded = self.tokenizer(
            texts,
            truncation=True,
            max_length=limit,
            padding="longest",
            return_tensors="np",
            **options,
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
        return torch.from_numpy(np.stack([ids, mask], axis=1)), encoded

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    # --- what tools ask a text input

    def example_tensor(self, rows: int, generator: torch.Generator) -> torch.Tensor:
        """(rows, max_length) int64 ids, the second half of each row padding; pretrained: see
        `_example_pretrained`."""
        if self.pretrained:
            return self._example_pretrained(rows, generator)
        length = self.config.preprocessing.max_length
        ids = torch.randint(3, self.vocab_size, (rows, length), generator=generator)
        ids[:, length // 2 :] = 0  # padding, as short texts have
        return ids

    def _example_pretrained(self, rows: int, generator: torch.Generator) -> torch.Tensor:
        """(rows, 2, L) ids from the checkpoint tokenizer's vocabulary and an attention mask
        covering a different number of tokens per row, padded with the tokenizer's padding id."""
        tokenizer = self.tokenizer
        length = min(self.config.preprocessing.max_length, tokenizer.model_max_length, 16)
        ids = torch.randint(0, len(tokenizer), (rows, length), generator=generator)
        real = torch.linspace(2, length, rows).long().view(-1, 1)  # (rows, 1) tokens per row
        mask = (torch.arange(length).view(1, -1) < real).long()  # (rows, L)
        ids = torch.where(mask.bool(), ids, tokenizer.pad_token_id)
        return torch.stack([ids, mask], dim=1)

    def length_axis(self) -> tuple[int, int]:
        """The token axis (1 of (N, L); 2 of pretrained (N, 2, L)) and the most tokens a text
        keeps (max_length, or the checkpoint's limit if smaller)."""
        limit = self.config.preprocessing.max_length
        if self.pretrained:
            limit = min(limit, self.tokenizer.model_max_length)
        return (2 if self.pretrained else 1), limit

    def export_description(self) -> dict[str, Any]:
        """How the tensor is made, and where the tokenizer is, relative to the run directory."""
        if self.pretrained:
            where = f"model/backbones/{self.name}/"
            how = f"transformers.AutoTokenizer.from_pretrained('{where}'), right padding"
        else:
            where = f"model/preprocessing.json, key {self.name}.tokenizer"
            how = "tokenizers.Tokenizer.from_str(that string); pad with 0"
        return {
            **super().export_description(),
            "tokenizer": where,
            "tokenize": how,
            "max_length": self.length_axis()[1],
        }

    def attribution_layer(self, encoder: TokenEmbedder) -> nn.Module:
        """The token embedding: attributions per token position."""
        return encoder.token_embedding()

    def explain_baseline(self, x: torch.Tensor) -> torch.Tensor:
        """Padding; pretrained (N, 2, L) ids and mask: the pad token at real tokens, mask kept."""
        if x.ndim != 3:
            return torch.zeros_like(x)
        pad = self.tokenizer.pad_token_id or 0
        base = x.clone()
        base[:, 0] = torch.where(x[:, 1].bool(), torch.full_like(x[:, 0], pad), x[:, 0])
        return base

    def token_strings(self, ids: list[int]) -> list[str]:
        """Each token id as its tokenizer's string ("?" for an id it does not know)."""
        if self.pretrained:
            return list(self.tokenizer.convert_ids_to_tokens(ids))
        return [self.tokenizer.id_to_token(i) or "?" for i in ids]

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


def _train_tokenizer(texts: Iterable[str], prep: Any):
    """A BPE, WordPiece (both over words and punctuation), whitespace word-level or
    character-level (spaces included) tokenizer trained on `texts`, NFKC-normalised."""
    from modelyard.data.tokenizers import train_tokenizer

    kind, split = {
        "whitespace": ("word", "whitespace"),
        "characters": ("word", "characters"),
    }.get(prep.tokenizer, (prep.tokenizer, "punctuation"))
    return train_tokenizer(
        texts,
        kind,
        split=split,
        vocab_size=prep.vocab_size,
        min_frequency=prep.min_frequency,
        specials=SPECIALS,
        unk=UNK,
        lowercase=prep.lowercase,
    )
