"""The diffusion pieces against what they must compute: the schedules, DDIM with an exact
noise predictor, classifier-free guidance's mix, the EMA warm-up, the U-Net's shapes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from modelyard.generation.diffusion import Ema, alpha_bars, ddim_sample, diffusion_loss
from modelyard.generation.unet import UNet


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_schedules_decrease_from_nearly_one_to_nearly_zero(schedule):
    abar = alpha_bars(schedule, 1000)
    assert abar.shape == (1000,) and (abar[1:] < abar[:-1]).all()
    assert abar[0] > 0.99 and 0 < abar[-1] < 0.01


class _Oracle(nn.Module):
    """The exact noise predictor when every training image is `target`."""

    classes = 2

    def __init__(self, target: torch.Tensor, abar: torch.Tensor):
        super().__init__()
        self.target, self.abar = target, abar

    def forward(self, x, t, label=None):
        step = (t * len(self.abar)).round().long() - 1
        a = self.abar[step].float().view(-1, 1, 1, 1)
        return (x - a.sqrt() * self.target) / (1 - a).sqrt()


@pytest.mark.parametrize("steps", [1, 5, 50])
def test_ddim_with_the_exact_noise_lands_on_the_data(steps):
    abar = alpha_bars("cosine", 100)
    target = torch.rand(1, 1, 4, 4) * 1.6 - 0.8
    noise = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    images = ddim_sample(_Oracle(target, abar), noise, None, abar, steps, 1.0)
    torch.testing.assert_close(images, target.expand(3, -1, -1, -1), atol=1e-3, rtol=0)


class _Constant(nn.Module):
    """Predicts noise 1 for class 0, 3 for "no class" (index 2)."""

    classes = 2

    def forward(self, x, t, label):
        return torch.where(label == 2, 3.0, 1.0).view(-1, 1, 1, 1).expand_as(x)


def test_guidance_mixes_conditional_and_unconditional_noise():
    from modelyard.generation.diffusion import _noise

    x, labels = torch.zeros(2, 1, 2, 2), torch.zeros(2, dtype=torch.long)
    guided = _noise(_Constant(), x, 5, 10, labels, 2.0)  # 3 + 2 * (1 - 3)
    assert torch.equal(guided, torch.full_like(x, -1.0))
    assert torch.equal(_noise(_Constant(), x, 5, 10, labels, None), torch.ones_like(x))


def test_ema_warms_up_then_keeps_the_decay():
    ema = Ema(0.999)
    assert ema.rate(0) == pytest.approx(0.1) and ema.rate(90) == pytest.approx(0.91)
    assert ema.rate(10**6) == 0.999
    averaged, trained = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    nn.init.zeros_(averaged.weight)
    nn.init.ones_(trained.weight)
    ema.update(averaged, trained, step=0)  # d = 0.1: nearly the trained weights at once
    assert averaged.weight.item() == pytest.approx(0.9)


def test_unet_keeps_the_image_shape_and_learns_from_the_loss():
    net = UNet(3, (8, 16, 16), classes=4)
    x = torch.randn(2, 3, 10, 14)  # not a power of two: skips are matched by size
    out = net(x, torch.rand(2), torch.tensor([0, 4]))
    assert out.shape == x.shape
    loss = diffusion_loss(net, x.clamp(-1, 1), torch.tensor([1, 2]), alpha_bars("cosine", 50), 0.5)
    loss.backward()
    assert net.label.weight.grad is not None and net.stem.weight.grad.abs().sum() > 0
