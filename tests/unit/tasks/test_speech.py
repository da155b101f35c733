"""CTC speech to text: greedy decoding and prefix beam search against simple references, the
loss, and the model's outputs in training and evaluation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from modelyard.data.features.text_target import TOKENS
from modelyard.errors import UserError
from modelyard.evaluate import per_epoch
from modelyard.models.encoders import audio
from modelyard.tasks.speech import (
    CtcLoss,
    SpeechToText,
    greedy_decode,
    prefix_beam_search,
)


def reference_greedy(log_probs: torch.Tensor) -> list[list[int]]:
    """The textbook rule, one row at a time: best per frame, collapse runs, drop blanks."""
    rows = []
    for row in log_probs.argmax(dim=-1).tolist():
        rows.append([token for token, _ in itertools.groupby(row) if token != 0])
    return rows


def reference_best_labelling(log_probs: np.ndarray) -> tuple[int, ...]:
    """Sum the probability of every alignment per labelling (brute force) and take the best."""
    frames, vocab = log_probs.shape
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(vocab), repeat=frames):
        labelling = tuple(t for t, _ in itertools.groupby(path) if t != 0)
        p = float(np.exp(sum(log_probs[i, t] for i, t in enumerate(path))))
        totals[labelling] = totals.get(labelling, 0.0) + p
    return max(totals, key=totals.get)


def _log_probs(*shape, seed=0, sharpness=3.0) -> torch.Tensor:
    logits = torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * sharpness
    return F.log_softmax(logits, dim=-1)


@pytest.mark.parametrize("seed", range(5))
def test_greedy_decode_matches_the_reference(seed):
    log_probs = _log_probs(6, 12, 4, seed=seed)
    ids = greedy_decode(log_probs)
    assert ids.shape == (6, 12)
    for row, expected in zip(ids.tolist(), reference_greedy(log_probs), strict=True):
        assert row == expected + [0] * (12 - len(expected))


def test_greedy_keeps_a_repeat_separated_by_a_blank():
    frames = torch.tensor([[1, 1, 0, 1, 2, 2, 0]])
    log_probs = F.one_hot(frames, 3).float().log_softmax(-1) * 10
    assert greedy_decode(log_probs).tolist() == [[1, 1, 2, 0, 0, 0, 0]]


@pytest.mark.parametrize("seed", range(6))
def test_wide_beam_search_finds_the_most_probable_labelling(seed):
    log_probs = _log_probs(5, 3, seed=seed, sharpness=1.0).numpy()
    assert tuple(prefix_beam_search(log_probs, beam_size=16)) == reference_best_labelling(log_probs)


def test_beam_search_can_beat_greedy():
    """Greedy picks the blank in both frames (0.55 > 0.45), but the alignments of 'a' together
    are more probable: P('a') = 1 - 0.55**2 = 0.6975 > P('') = 0.3025."""
    log_probs = np.log(np.array([[0.55, 0.45], [0.55, 0.45]]))
    assert greedy_decode(torch.tensor(log_probs)[None]).tolist() == [[0, 0]]
    assert prefix_beam_search(log_probs, beam_size=4) == [1]


def test_ctc_loss_reads_targets_with_bos_eos_and_padding():
    log_probs = _log_probs(2, 10, 6)
    stored = torch.tensor([[2, 4, 5, 4, 3, 0], [2, 5, 3, 0, 0, 0]])  # [BOS] ... [EOS] 0...
    expected = F.ctc_loss(
        log_probs.transpose(0, 1),
        torch.tensor([4, 5, 4, 5]),
        torch.tensor([10, 10]),
        torch.tensor([3, 1]),
    )
    torch.testing.assert_close(CtcLoss()(log_probs, stored), expected)


def test_a_transcript_that_cannot_fit_the_frames_is_a_user_error():
    stored = torch.tensor([[2, 4, 5, 4, 4, 3]])  # 4 tokens, one repeat: 5 frames needed
    with pytest.raises(UserError, match="needs 5 frames but the audio encoder gives 4"):
        CtcLoss()(_log_probs(1, 4, 6), stored)
    assert torch.isfinite(CtcLoss()(_log_probs(1, 5, 6), stored))  # exactly enough


def _model(beam_size=1) -> SpeechToText:
    torch.manual_seed(0)
    body = audio.AudioRnn(8, "gru", 6, 1, True, 2, "mean", 0.0)
    encoder = audio.Spectrogram(body)
    return SpeechToText("clip", encoder, "text", 7, beam_size)


def test_model_gives_log_probs_in_training_and_ids_in_eval():
    model = _model()
    x = torch.randn(3, 1, 8, 20).half()
    out = model.train()({"clip": x})
    assert set(out) == {"text"} and out["text"].shape == (3, 10, 7)
    torch.testing.assert_close(out["text"].exp().sum(-1), torch.ones(3, 10))
    out = model.eval()({"clip": x})
    assert out["text" + TOKENS].shape == (3, 10) and out["text" + TOKENS].dtype == torch.long
    assert torch.equal(out["text" + TOKENS], greedy_decode(out["text"]))


def test_beam_model_decodes_greedily_during_per_epoch_validation():
    model = _model(beam_size=3).eval()
    x = torch.randn(2, 1, 8, 20)
    with per_epoch(model):
        assert model.beam_size == 1
        greedy = model({"clip": x})["text" + TOKENS]
    assert model.beam_size == 3
    assert model({"clip": x})["text" + TOKENS].shape == greedy.shape


def test_a_cnn_reading_frames_only_has_no_unused_weights():
    """DDP (torchrun) fails on weights outside the loss: CTC drops the cnn's pooling head."""
    body = audio.AudioCnn(8, 20, [4, 6], 3, True, 5, 0.0)
    body.drop_head()
    model = SpeechToText("clip", audio.Spectrogram(body), "text", 7, 1)
    model.train()({"clip": torch.randn(2, 1, 8, 20)})["text"].sum().backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


def test_transcripts_are_scored_against_the_raw_references():
    import pandas as pd

    from modelyard.config.schema import TextOutput
    from modelyard.data.features.text_target import TextTargetFeature
    from modelyard.metrics.text import transcription_metrics
    from modelyard.tasks.speech import transcript_metrics

    config = TextOutput(
        name="said", type="text", decoder={"type": "ctc"}, preprocessing={"tokenizer": "characters"}
    )
    feature = TextTargetFeature(config, is_output=True)
    feature.fit(pd.Series(["ab ba", "aab"]))
    references = ["ab ba", "abc"]  # 'c' was never in training: the ids hold [UNK] for it
    ids = feature.transform(pd.Series(references))  # a model that says exactly what the ids say
    found = transcript_metrics(feature, ids, references)
    assert found == transcription_metrics(references, feature.decode(ids))
    assert found["cer"] > 0  # scored against 'abc', not against 'ab[UNK]' rebuilt from ids
