"""The acoustic model: losses are finite and reach every weight; synthesis gives frames in
the log-mel format, as many as the predicted durations say; padding does not leak."""

from __future__ import annotations

import torch

from modelyard.tts.network import AcousticModel


def tiny(**options) -> AcousticModel:
    torch.manual_seed(0)
    settings = dict(
        dim=8,
        encoder_layers=1,
        attention_layers=1,
        decoder_layers=1,
        decoder_dim=8,
        speaker_dim=4,
        dropout=0.0,
    )
    return AcousticModel(symbols=6, speakers=2, n_mels=5, **{**settings, **options})


def batch() -> dict[str, torch.Tensor]:
    return {
        "tokens": torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0]]),
        "speaker": torch.tensor([0, 1]),
        "mel": torch.randn(2, 5, 20),
        "frames": torch.tensor([20, 9]),
    }


def test_losses_are_finite_and_reach_every_weight():
    model = tiny()
    out = model(batch())
    assert all(torch.isfinite(v) for v in out.values())
    out["loss"].backward()
    missing = [
        n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert missing == ["embed.weight"] or missing == []  # padding row aside, all learn


def test_synthesis_shape_follows_the_predicted_durations():
    model = tiny(reduction=2).eval()
    mel, frames = model.synthesize(torch.tensor([[1, 2, 3], [4, 0, 0]]), torch.tensor([0, 1]))
    assert mel.shape[:2] == (2, 5) and mel.shape[2] == int(frames.max())
    assert frames.tolist()[0] >= 3 * 2 and frames.tolist()[1] >= 2  # every symbol >= 1 step
    slower, slow_frames = model.synthesize(torch.tensor([[1, 2, 3]]), torch.tensor([0]), speed=0.25)
    assert slow_frames[0] >= frames[0]


def test_padding_symbols_do_not_change_the_frames_of_a_row():
    model = tiny().eval()
    alone, _ = model.synthesize(torch.tensor([[5, 6]]), torch.tensor([1]))
    padded, n = model.synthesize(torch.tensor([[5, 6, 0, 0]]), torch.tensor([1]))
    assert torch.allclose(alone, padded[:, :, : alone.shape[2]], atol=1e-5)
