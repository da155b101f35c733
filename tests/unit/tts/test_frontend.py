"""The text front end: symbol sets, unknown symbols (error naming them, or skip), empty text,
an injected phonemizer in place of espeak-ng."""

from __future__ import annotations

import pytest

from modelyard.errors import UserError
from modelyard.tts.frontend import FrontEnd


def fitted(**options) -> FrontEnd:
    front = FrontEnd("characters", **options)
    front.fit(front.strings(["Hello there", "a cab"]))
    return front


def test_characters_are_lowercased_and_numbered_from_one():
    front = fitted()
    assert front.symbols == sorted(set("hello therea cab"))
    assert front.encode(["Ab"], ["row 1"]) == [
        [front.symbols.index("a") + 1, front.symbols.index("b") + 1]
    ]


def test_unknown_symbols_are_named_with_their_row():
    with pytest.raises(UserError, match=r"row 3: symbols '7', 'z' not in the trained symbol set"):
        fitted().encode(["haz 7"], ["row 3"])


def test_unknown_symbols_skipped_when_asked():
    front = fitted(unknown="skip")
    assert front.encode(["haz"], ["r"]) == front.encode(["ha"], ["r"])


def test_empty_text_and_text_of_only_unknown_symbols_are_errors():
    with pytest.raises(UserError, match="row 2: the text is empty"):
        fitted().encode(["  "], ["row 2"])
    with pytest.raises(UserError, match="nothing to say"):
        fitted(unknown="skip").encode(["zzz"], ["row 5"])


def test_phonemes_come_from_the_injected_phonemizer_and_state_round_trips():
    front = FrontEnd("phonemes", phonemize=lambda texts: [t.replace("c", "k") for t in texts])
    front.fit(front.strings(["a cab"]))
    assert "c" not in front.symbols and "k" in front.symbols
    again = FrontEnd.from_state(front.state(), "error")
    assert again.symbols == front.symbols and again.kind == "phonemes"
