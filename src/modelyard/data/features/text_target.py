"""Text outputs (translation targets, transcripts): a target tokenizer and token ids with BOS/EOS.

The same feature serves both decoders of a `type: text` output: the transformer decoder
(tasks/seq2seq.py) and the ctc decoder (tasks/speech.py). Ids: 0 is padding (and the ctc
blank), then [UNK], [BOS], [EOS]; `shared` reuses the text input's tokenizer with [BOS] and
[EOS] added.

Model outputs of a text output, in evaluation mode (what `evaluate.score` reads):
`outputs[name]` is what the output's loss reads, `outputs[name + TOKENS]` the predicted ids
(N, T), padded with 0, as `decode` takes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.data.features.base import Feature, is_missing, row_label
from modelyard.errors import UserError

PAD, UNK, BOS, EOS = "[PAD]", "[UNK]", "[BOS]", "[EOS]"
SPECIALS = [PAD, UNK, BOS, EOS]  # ids 0, 1, 2, 3 of the tokenizers trained here
TOKENS = ".tokens"  # outputs[name + TOKENS]: predicted ids (N, T)


class TextTargetFeature(Feature):
    """Target texts -> (N, L) int64 ids `[BOS] tokens [EOS]` padded with 0 to the longest text
    (at most `preprocessing.max_length` ids); lengths are `(ids != 0).sum(1)`."""

    type = "text"
    source_input: Feature | None = None  # the text input whose tokenizer `shared` reuses

    def attach(self, inputs: list[Feature]) -> None:
        """Remember the (single) text input, for `tokenizer: shared`."""
        texts = [f for f in inputs if f.type == "text"]
        self.source_input = texts[0] if texts else None

    def fit(self, series: pd.Series) -> None:
        texts = self._texts(series)
        kind = self.config.preprocessing.tokenizer
        if kind == "shared":
            self.tokenizer = _shared_tokenizer(self._shared_source())
        else:
            self.tokenizer = _train_tokenizer(texts, self.config.preprocessing)

    def _shared_source(self):
        source = self.source_input
        if source is None or getattr(source, "pretrained", False):
            raise UserError(
                f"output '{self.name}': preprocessing.tokenizer shared needs a text input with its own "
                "(not pretrained) tokenizer; use tokenizer: bpe"
            )
        return source.tokenizer

    def _texts(self, series: pd.Series) -> list[str]:
        empty = np.flatnonzero(is_missing(series))
        if len(empty):
            raise UserError(
                f"output '{self.name}' {row_label(series, int(empty[0]))}: the target text in column "
                f"'{self.column}' is empty ({len(empty)} rows); fill it in or remove the row"
            )
        return [str(v) for v in series]

    def references(self, frame: pd.DataFrame) -> list[str]:
        """The raw target texts of `frame`'s rows, which metrics score against (not texts
        rebuilt from ids: no [UNK], normalisation or cut at max_length)."""
        return self._texts(self.column_of(frame))

    def transform(self, series: pd.Series) -> torch.Tensor:
        """(N, L) int64: [BOS] ids [EOS], then 0s; L = longest, capped at max_length."""
        encodings = self.tokenizer.encode_batch(self._texts(series))
        limit = self.config.preprocessing.max_length - 2
        length = 2 + min(limit, max(len(e.ids) for e in encodings))
        ids = np.zeros((len(encodings), length), dtype=np.int64)
        truncated = 0
        for row, encoding in enumerate(encodings):
            if len(encoding.ids) > limit and self.config.decoder.type == "ctc":
                raise UserError(
                    f"output '{self.name}' {row_label(series, row)}: the transcript has {len(encoding.ids)} "
                    f"tokens, more than preprocessing.max_length {limit + 2} allows (with [BOS] and [EOS]); "
                    "raise max_length (a transcript is never cut)"
                )
            tokens = [self.bos_id, *encoding.ids[:limit], self.eos_id]
            truncated += len(encoding.ids) > limit
            ids[row, : len(tokens)] = tokens
        if truncated:
            self.note(f"{truncated} target texts truncated to {limit} tokens")
        return torch.from_numpy(ids)

    def decode(self, ids: torch.Tensor | np.ndarray) -> list[str]:
        """(N, T) ids -> N texts: up to the first [EOS]; padding, [BOS] and [EOS] dropped."""
        rows = np.asarray(ids, dtype=np.int64)
        texts = []
        for row in rows:
            ends = np.flatnonzero(row == self.eos_id)
            row = row[: ends[0]] if len(ends) else row
            kept = [int(i) for i in row if i not in (0, self.bos_id)]
            texts.append(self.tokenizer.decode(kept, skip_special_tokens=False).strip())
        return texts

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    @property
    def bos_id(self) -> int:
        return self.tokenizer.token_to_id(BOS)

    @property
    def eos_id(self) -> int:
        return self.tokenizer.token_to_id(EOS)

    def state(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer.to_str()}

    def load_state(self, state: dict[str, Any]) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_str(state["tokenizer"])


def _shared_tokenizer(input_tokenizer):
    """A copy of the input's tokenizer with [BOS] and [EOS] added (appended to its vocabulary)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(input_tokenizer.to_str())
    tokenizer.add_special_tokens([BOS, EOS])
    return tokenizer


def _train_tokenizer(texts: Iterable[str], prep: Any):
    """bpe: SentencePiece-style pieces (spaces kept as '▁', so decoding restores them);
    wordpiece: BERT-style pieces (decoding puts a space around punctuation); characters: one id
    per character, spaces included (for ctc)."""
    from modelyard.data.tokenizers import train_tokenizer

    settings = {"vocab_size": prep.vocab_size, "min_frequency": prep.min_frequency}
    if prep.tokenizer == "characters":  # every character seen in training is kept, however rare
        kind, split, settings = "word", "characters", {"vocab_size": 1_000_000, "min_frequency": 1}
    else:
        kind, split = prep.tokenizer, "metaspace" if prep.tokenizer == "bpe" else "punctuation"
    return train_tokenizer(
        texts, kind, split=split, specials=SPECIALS, unk=UNK, lowercase=prep.lowercase, **settings
    )
