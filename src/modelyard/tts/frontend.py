"""Text -> symbol ids: characters, or IPA phonemes from phonemizer's espeak-ng backend.

The symbol set is fitted on the training texts and saved in the run (preprocessing.json);
id 0 is padding. At synthesis a symbol outside the set is an error naming it, or skipped
(`front_end.unknown`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from modelyard.errors import UserError

PAD = 0

# A phonemizer for tests and callers that bring their own (texts -> symbol strings).
Phonemize = Callable[[list[str]], list[str]]


def espeak_phonemes(language: str) -> Phonemize:
    """phonemizer with the espeak-ng backend: IPA with stress marks, punctuation kept."""

    def phonemize(texts: list[str]) -> list[str]:
        try:
            from phonemizer.backend import EspeakBackend
        except ImportError:
            raise UserError(
                "front_end.type phonemes needs phonemizer: pip install 'modelyard[synthesis]'"
            ) from None
        try:
            backend = EspeakBackend(
                language,
                preserve_punctuation=True,
                with_stress=True,
                language_switch="remove-flags",
            )
        except RuntimeError as e:
            raise UserError(
                f"front_end.type phonemes needs espeak-ng ({e}): sudo apt-get install espeak-ng, "
                "or use front_end.type characters"
            ) from None
        return [" ".join(p.split()) for p in backend.phonemize(texts, strip=True, njobs=1)]

    return phonemize


@dataclass
class FrontEnd:
    """`kind` characters or phonemes; `symbols` the trained set (ids 1..); `phonemize`
    replaces the espeak-ng phonemizer (tests inject one)."""

    kind: str
    language: str = "en-us"
    lowercase: bool = True
    unknown: str = "error"
    symbols: list[str] = field(default_factory=list)
    phonemize: Phonemize | None = None

    def strings(self, texts: Sequence[str]) -> list[str]:
        """The symbol string of each text (before the symbol set)."""
        texts = [t.lower() if self.lowercase else t for t in texts]
        texts = [" ".join(t.split()) for t in texts]
        if self.kind == "characters":
            return texts
        phonemize = self.phonemize or espeak_phonemes(self.language)
        return phonemize(list(texts))

    def fit(self, strings: Sequence[str]) -> None:
        self.symbols = sorted({c for s in strings for c in s})

    def ids(self, strings: Sequence[str], where: Sequence[str]) -> list[list[int]]:
        """Symbol ids of each string; `where[i]` names its row in messages."""
        table = {s: i + 1 for i, s in enumerate(self.symbols)}
        out = []
        for text, row in zip(strings, where, strict=True):
            unknown = sorted({c for c in text if c not in table})
            if unknown and self.unknown == "error":
                raise UserError(
                    f"{row}: {_named(unknown)} not in the trained symbol set ({self.kind}); "
                    "remove them, or set front_end.unknown: skip (synthesize --unknown skip)"
                )
            ids = [table[c] for c in text if c in table]
            if not ids:
                raise UserError(f"{row}: nothing to say (no known {self.kind} left in the text)")
            out.append(ids)
        return out

    def encode(self, texts: Sequence[str], where: Sequence[str]) -> list[list[int]]:
        """Texts -> symbol ids; an empty text is an error naming its row."""
        for text, row in zip(texts, where, strict=True):
            if not isinstance(text, str) or not text.strip():
                raise UserError(f"{row}: the text is empty; give something to say")
        return self.ids(self.strings(texts), where)

    def state(self) -> dict:
        return {
            "kind": self.kind,
            "language": self.language,
            "lowercase": self.lowercase,
            "symbols": self.symbols,
        }

    @classmethod
    def from_state(cls, state: dict, unknown: str) -> FrontEnd:
        return cls(state["kind"], state["language"], state["lowercase"], unknown, state["symbols"])


def _named(symbols: list[str]) -> str:
    shown = ", ".join(
        repr(s) + (f" (U+{ord(s):04X})" if not s.isprintable() else "") for s in symbols
    )
    return f"symbol{'s' if len(symbols) > 1 else ''} {shown}"
