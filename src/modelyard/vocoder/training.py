"""The vocoder's training step (train/loop.Step): a discriminator update, then a generator
update, through the loop's one optimizer over both networks. Each update touches only its
own network's parameters (the other's gradients are None, which Adam/AdamW skip), so this
is the two-optimizer GAN step of HiFi-GAN with per-parameter optimizer state in one
checkpoint. Before `adversarial_from_step`, the generator trains on the mel loss alone."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from modelyard.data.mel import MelScale

Outputs = list[tuple[torch.Tensor, list[torch.Tensor]]]


def discriminator_loss(real: Outputs, fake: Outputs) -> torch.Tensor:
    """Least-squares GAN: real scores towards 1, generated towards 0 (summed over discriminators)."""
    return sum(
        ((1 - r) ** 2).mean() + (f**2).mean() for (r, _), (f, _) in zip(real, fake, strict=True)
    )


def generator_adversarial_loss(fake: Outputs) -> torch.Tensor:
    return sum(((1 - f) ** 2).mean() for f, _ in fake)


def feature_matching_loss(real: Outputs, fake: Outputs) -> torch.Tensor:
    """Mean L1 between the feature maps of real (detached) and generated audio."""
    total, count = 0.0, 0
    for (_, real_maps), (_, fake_maps) in zip(real, fake, strict=True):
        for r, f in zip(real_maps, fake_maps, strict=True):
            total = total + F.l1_loss(f, r.detach())
            count += 1
    return total / max(count, 1)


def vocoder_step(scale: MelScale, losses):
    """The Step for `losses` (config VocoderLosses). Returns the mel L1 as the step's loss."""
    from modelyard.train.loop import Training
    from modelyard.train.schedule import is_per_step

    bank = scale.bank()

    def step(run: Training, batch, share: float, update: bool) -> torch.Tensor:
        pair = run.model
        wave = batch["wave"]
        mel = scale.log_mel(wave, bank.to(wave.device))  # (B, n_mels, T)
        fake = pair.generator(mel)  # (B, segment)
        adversarial = int(pair.steps) >= losses.adversarial_from_step and (
            losses.adversarial > 0 or losses.feature > 0
        )  # (both 0: the mel loss alone, no discriminator runs)
        real_out = None
        if adversarial:
            real_out = pair.discriminators(wave)
            d_loss = discriminator_loss(real_out, pair.discriminators(fake.detach()))
            _update(run, d_loss, pair.discriminators)
        mel_loss = F.l1_loss(scale.log_mel(fake, bank.to(wave.device)), mel)
        g_loss = losses.mel * mel_loss
        if adversarial:
            fake_out = pair.discriminators(fake)
            g_loss = g_loss + losses.adversarial * generator_adversarial_loss(fake_out)
            g_loss = g_loss + losses.feature * feature_matching_loss(real_out, fake_out)
        _update(run, g_loss, pair.generator)
        if is_per_step(run.scheduler):
            run.scheduler.step()
        pair.steps += 1
        return mel_loss.detach()

    return step


def _update(run, loss: torch.Tensor, network: nn.Module) -> None:
    """Backward `loss`, then an optimizer step on `network`'s parameters only."""
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    mine = {id(p) for p in network.parameters()}
    for p in run.model.parameters():
        if id(p) not in mine:
            p.grad = None
    clip = run.setup.settings.gradient_clip
    if clip:
        nn.utils.clip_grad_norm_(network.parameters(), clip)
    run.optimizer.step()
    run.optimizer.zero_grad(set_to_none=True)
