"""The vocoder's networks and GAN step: shapes, the magnitude prior, which parameters each
update touches."""

from __future__ import annotations

import math

import pytest
import torch

from modelyard.data.mel import MelScale
from modelyard.vocoder.networks import Discriminators, VocoderPair, VocosGenerator, _interpolation

SCALE = MelScale(8000, 20, 32.0, 8.0)  # window 256 (FFT 256), hop 64


def _generator() -> VocosGenerator:
    torch.manual_seed(0)
    return VocosGenerator(SCALE, dim=16, layers=2, hidden=32)


def test_generator_turns_frames_into_hop_samples_each():
    mel = torch.randn(3, SCALE.n_mels, 11)
    wave = _generator()(mel)
    assert wave.shape == (3, 10 * SCALE.hop) and wave.dtype == torch.float32


def test_the_prior_gives_a_flat_spectrum_back_from_its_mel():
    bank = SCALE.bank()
    flat = torch.full((bank.shape[0],), 0.25)
    mel = flat @ bank  # (n_mels,)
    back = _interpolation(bank) @ mel
    covered = bank.sum(1) > 0
    torch.testing.assert_close(back[covered], flat[covered], rtol=1e-4, atol=1e-6)


def test_an_untrained_generator_already_gives_the_mel_envelope_back():
    """The head starts at zero correction: the output's mel follows the input's (the prior)."""
    t = torch.arange(4000) / SCALE.sample_rate
    wave = (0.3 * torch.sin(2 * math.pi * 440 * t)).view(1, -1)
    mel = SCALE.log_mel(wave)
    out = _generator()(mel)
    again = SCALE.log_mel(out)
    band = int(mel[0, :, 20].argmax())
    assert abs(int(again[0, :, 20].argmax()) - band) <= 1  # (random phases smear it a little)
    assert again[0, band, 20] > again[0, :, 20].median() + 4


def test_discriminators_score_and_give_feature_maps():
    d = Discriminators([2, 3], [128], channels=4)
    outs = d(torch.randn(2, 1024))
    assert len(outs) == 3
    for score, maps in outs:
        assert score.shape[0] == 2 and len(maps) == 5


@pytest.mark.parametrize(
    ("adversarial_from_step", "weight", "discriminates"),
    [(0, 1.0, True), (5, 1.0, False), (0, 0.0, False)],
)
def test_the_gan_step_updates_each_network_with_its_own_loss(
    adversarial_from_step, weight, discriminates
):
    from types import SimpleNamespace

    from modelyard.config.schema.vocoder import VocoderLosses
    from modelyard.vocoder.training import vocoder_step

    pair = VocoderPair(_generator(), Discriminators([2], [128], channels=4))
    optimizer = torch.optim.AdamW(pair.parameters(), lr=1e-3)
    settings = SimpleNamespace(gradient_clip=None)
    run = SimpleNamespace(
        model=pair, optimizer=optimizer, scheduler=None, setup=SimpleNamespace(settings=settings)
    )
    losses = VocoderLosses(
        adversarial_from_step=adversarial_from_step, adversarial=weight, feature=weight
    )
    before = {k: v.clone() for k, v in pair.state_dict().items()}
    loss = vocoder_step(SCALE, losses)(run, {"wave": 0.1 * torch.randn(2, 640)}, 1.0, True)
    after = pair.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k]) and k != "steps"}
    assert any(k.startswith("generator.") for k in changed)
    assert any(k.startswith("discriminators.") for k in changed) == discriminates
    assert int(pair.steps) == 1 and loss.ndim == 0 and loss > 0
