"""Windows over long contexts, answers from characters to tokens and back, the choice of
the best span across windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modelyard.errors import UserError
from modelyard.qa.spans import Choice, best_answers
from modelyard.qa.windows import char_to_tokens, label, make_windows, tokens_to_chars
from tests.qa_fixtures import tiny_tokenizer

CONTEXT = " ".join(f"the cat sat in the park {i} ." for i in range(6))  # about 48 tokens


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def _context_tokens(windows, w):
    return np.flatnonzero(windows.offsets[w, :, 0] >= 0)


def test_a_long_context_becomes_overlapping_windows_that_cover_it(tokenizer):
    windows = make_windows(tokenizer, ["where is the cat ?"], [CONTEXT], 24, 6)
    assert len(windows) > 2 and set(windows.example) == {0}
    assert windows.tensors["input_ids"].shape == (len(windows), 24)
    spans = [windows.offsets[w, _context_tokens(windows, w)] for w in range(len(windows))]
    for before, after in zip(spans, spans[1:], strict=False):
        overlap = {tuple(s) for s in before} & {tuple(s) for s in after}
        assert len(overlap) == 6  # `stride` tokens are read twice
    assert spans[0][0, 0] == 0 and spans[-1][-1, 1] == len(CONTEXT)


def test_a_context_longer_than_a_window_without_stride_is_an_error_naming_the_row(tokenizer):
    with pytest.raises(UserError, match=r"row 2: .*windows\.stride"):
        make_windows(tokenizer, ["where ?", "where ?"], ["the cat .", CONTEXT], 24, None)
    fits = make_windows(tokenizer, ["where ?"], ["the cat sat ."], 24, None)
    assert len(fits) == 1


def test_a_question_leaving_no_room_is_an_error(tokenizer):
    with pytest.raises(UserError, match="row 1: the question takes"):
        make_windows(tokenizer, [CONTEXT], ["the cat ."], 24, 6)


@pytest.mark.parametrize("answer", ["park 3", "the cat", "cat sat in the park 5 ."])
def test_answers_map_to_tokens_and_back_to_the_same_characters(tokenizer, answer):
    start = CONTEXT.index(answer)
    span = (start, start + len(answer))
    windows = make_windows(tokenizer, ["where is the cat ?"], [CONTEXT], 24, 8)
    holding = 0
    for w in range(len(windows)):
        first, last = char_to_tokens(windows.offsets[w], span)
        if (first, last) == (0, 0):
            inside = windows.offsets[w, _context_tokens(windows, w)]
            assert inside[0, 0] > span[0] or inside[-1, 1] < span[1]  # not all of it here
            continue
        holding += 1
        assert tokens_to_chars(windows.offsets[w], first, last) == span
    assert holding >= 1
    label(windows, [span])
    assert (windows.tensors["start"] > 0).sum() == holding


def _windows_with_scores(tokenizer, picks, background=-10.0):
    """Windows of CONTEXT, with start/end scores `background` plus the value of each
    (window, start, end, value) of `picks` at its start and end."""
    windows = make_windows(tokenizer, ["where is the cat ?"], [CONTEXT], 24, 6)
    start = torch.full(windows.offsets.shape[:2], background)
    end = torch.full(windows.offsets.shape[:2], background)
    for w, s, e, value in picks:
        start[w, s] += value
        end[w, e] += value
    return windows, start, end


def test_the_best_span_is_chosen_across_windows(tokenizer):
    probe = make_windows(tokenizer, ["where is the cat ?"], [CONTEXT], 24, 6)
    last = len(probe) - 1
    tokens = _context_tokens(probe, last)
    windows, start, end = _windows_with_scores(
        tokenizer,
        [
            (0, _context_tokens(probe, 0)[0], _context_tokens(probe, 0)[1], 3.0),
            (last, tokens[2], tokens[4], 5.0),
        ],
    )
    (answer,) = best_answers(windows, start, end, [CONTEXT], Choice())
    s, e = tokens_to_chars(windows.offsets[last], tokens[2], tokens[4])
    assert (answer.start, answer.end, answer.text) == (s, e, CONTEXT[s:e])
    assert 0 < answer.score < 1


def test_spans_too_long_reversed_or_outside_the_context_are_never_chosen(tokenizer):
    probe = make_windows(tokenizer, ["where is the cat ?"], [CONTEXT], 24, 6)
    tokens = _context_tokens(probe, 0)
    windows, start, end = _windows_with_scores(
        tokenizer,
        [
            (0, tokens[8], tokens[6], 100.0),  # end before start
            (0, tokens[0], tokens[-1], 100.0),  # too long for max_answer_length 3
            (0, 1, 2, 100.0),  # question tokens
            (0, tokens[2], tokens[3], 60.0),  # each trap pair scores 0, this one -80
        ],
        background=-100.0,
    )
    (answer,) = best_answers(windows, start, end, [CONTEXT], Choice(max_answer_length=3))
    assert (answer.start, answer.end) == tokens_to_chars(windows.offsets[0], tokens[2], tokens[3])


def test_no_answer_wins_when_the_cls_score_beats_the_best_span_by_the_threshold(tokenizer):
    probe = make_windows(tokenizer, ["where is the cat ?"], [CONTEXT], 24, 6)
    tokens = _context_tokens(probe, 0)
    picks = [(0, tokens[1], tokens[2], 1.0)] + [(w, 0, 0, 2.0) for w in range(len(probe))]
    windows, start, end = _windows_with_scores(tokenizer, picks)
    (answer,) = best_answers(windows, start, end, [CONTEXT], Choice(no_answer=True))
    assert (answer.text, answer.start, answer.end) == ("", 0, 0)
    (kept,) = best_answers(windows, start, end, [CONTEXT], Choice(no_answer=True, threshold=3.0))
    assert kept.text != ""
    (plain,) = best_answers(windows, start, end, [CONTEXT], Choice())
    assert plain.text == kept.text
