"""The three generative models behind one small interface, chosen by `model.type`.

Each network (an nn.Module) answers:
    forward(batch) -> scalar training loss (diffusion, vae; the gan trains by `gan_step`)
    noise_shape(n) -> the shape of the noise that `sample` starts from
    sample(noise, labels, steps, guidance) -> (B, C, H, W) images in [-1, 1]
    exported() -> (module, example inputs, input names): the graph `modelyard export` writes
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from modelyard.errors import UserError
from modelyard.generation.data import to_unit
from modelyard.registry import Registry

NETWORKS: Registry = Registry("model.type")


class DiffusionNet(nn.Module):
    """The U-Net being trained (`unet`) and its averaged copy (`ema`, used for sampling)."""

    def __init__(self, cfg, shape: tuple[int, int, int], classes: int):
        from modelyard.generation.diffusion import alpha_bars
        from modelyard.generation.unet import UNet

        super().__init__()
        self.shape, self.classes = shape, classes
        self.label_dropout = cfg.label_dropout if classes else 0.0
        self.unet = UNet(shape[0], tuple(cfg.channels), classes)
        self.ema = UNet(shape[0], tuple(cfg.channels), classes).requires_grad_(False)
        self.ema.load_state_dict(self.unet.state_dict())
        self.register_buffer(
            "abar", alpha_bars(cfg.schedule, cfg.timesteps).float(), persistent=False
        )
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        from modelyard.generation.diffusion import diffusion_loss

        images = to_unit(batch["image"])
        return diffusion_loss(self.unet, images, batch.get("label"), self.abar, self.label_dropout)

    def noise_shape(self, n: int) -> tuple[int, ...]:
        return (n, *self.shape)

    def sample(self, noise, labels, steps: int, guidance: float) -> torch.Tensor:
        from modelyard.generation.diffusion import ddim_sample

        return ddim_sample(self.ema, noise, labels, self.abar, steps, guidance)

    def exported(self):
        n = 2
        x = torch.randn(n, *self.shape)
        t = torch.rand(n)
        if self.classes:
            return (
                self.ema,
                (x, t, torch.zeros(n, dtype=torch.long)),
                ["noisy_image", "time", "label"],
            )
        return _Unconditional(self.ema), (x, t), ["noisy_image", "time"]


class _Unconditional(nn.Module):
    def __init__(self, unet: nn.Module):
        super().__init__()
        self.unet = unet

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.unet(x, t)


class VaeNet(nn.Module):
    def __init__(self, cfg, shape: tuple[int, int, int], classes: int):
        from modelyard.generation.networks import Vae

        super().__init__()
        self.shape, self.classes, self.beta = shape, classes, cfg.beta
        self.vae = Vae(cfg.latent, list(cfg.channels), shape, classes)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        from modelyard.generation.networks import vae_loss

        return vae_loss(self.vae, to_unit(batch["image"]), batch.get("label"), self.beta)

    def noise_shape(self, n: int) -> tuple[int, ...]:
        return (n, self.vae.latent)

    @torch.no_grad()
    def sample(self, noise, labels, steps: int, guidance: float) -> torch.Tensor:
        return torch.sigmoid(self.vae.decode(noise, labels).float()) * 2 - 1

    def exported(self):
        from modelyard.generation.networks import VaeDecoder

        return _latent_graph(VaeDecoder(self.vae), self.vae.latent, self.classes)


class GanNet(nn.Module):
    def __init__(self, cfg, shape: tuple[int, int, int], classes: int):
        from modelyard.generation.networks import Gan

        super().__init__()
        self.shape, self.classes = shape, classes
        self.loss = cfg.loss
        self.penalty = cfg.gradient_penalty
        self.critic_steps = cfg.critic_steps or (5 if cfg.loss == "wgan_gp" else 1)
        self.gan = Gan(cfg.latent, cfg.channels, shape, classes)

    def noise_shape(self, n: int) -> tuple[int, ...]:
        return (n, self.gan.generator.latent)

    @torch.no_grad()
    def sample(self, noise, labels, steps: int, guidance: float) -> torch.Tensor:
        return self.gan.generator(noise, labels).float()

    def exported(self):
        return _latent_graph(self.gan.generator, self.gan.generator.latent, self.classes)


def _latent_graph(module: nn.Module, latent: int, classes: int):
    z = torch.randn(2, latent)
    if classes:
        return module, (z, torch.zeros(2, dtype=torch.long)), ["latent", "label"]
    return module, (z,), ["latent"]


NETWORKS.register("diffusion")(DiffusionNet)
NETWORKS.register("vae")(VaeNet)
NETWORKS.register("gan")(GanNet)


def build_network(cfg, shape: tuple[int, int, int], classes: int) -> nn.Module:
    return NETWORKS.get(cfg.type)(cfg, shape, classes)


# ------------------------------------------------------------------ training steps


def ema_step(decay: float):
    """train/loop.Step for diffusion: the default gradient step, then the EMA update."""
    from modelyard.generation.diffusion import Ema
    from modelyard.train.loop import gradient_step

    ema = Ema(decay)

    def step(run, batch, share: float, update: bool) -> torch.Tensor:
        loss = gradient_step(run, batch, share, update)
        if update:
            net = run.model
            ema.update(net.ema, net.unet, int(net.steps))
            net.steps += 1
        return loss

    return step


def gan_step(run, batch, share: float, update: bool) -> torch.Tensor:
    """train/loop.Step for the GAN: a discriminator step on every batch, a generator step
    every `critic_steps` batches. The two are two optimizers in effect: the run's optimizer
    holds both networks' weights, and each step leaves the other network's gradients unset,
    so it skips them (Adam's state is per weight). Under torchrun each network's gradients are
    averaged over the processes before its step, as DDP would (the step calls the networks
    around the DDP wrapper); FSDP's sharded weights are refused. Returns the discriminator's
    loss."""
    from modelyard.train import distributed
    from modelyard.train.precision import autocast
    from modelyard.train.schedule import is_per_step

    net, opt, setup = run.model, run.optimizer, run.setup
    procs = setup.procs
    if distributed.is_sharded(net):
        raise UserError(
            "model.type: gan trains its two networks in turns, which trainer.strategy: fsdp "
            "cannot shard; use trainer.strategy: ddp"
        )
    gan = net.gan
    distributed.broadcast_buffers(gan, procs)
    real = to_unit(batch["image"])
    labels = batch.get("label")
    z = torch.randn(net.noise_shape(real.shape[0]), device=real.device)
    with autocast(setup.device, setup.bf16):
        fake = gan.generator(z, labels).float()
        d_loss = _critic_loss(net, real, fake.detach(), labels)
    opt.zero_grad(set_to_none=True)
    d_loss.backward()
    distributed.average_gradients(gan.discriminator, procs)
    opt.step()
    gan.steps += 1
    if int(gan.steps) % net.critic_steps == 0:
        opt.zero_grad(set_to_none=True)
        with autocast(setup.device, setup.bf16):
            score = gan.discriminator(gan.generator(z, labels), labels).float()
        g_loss = -score.mean() if net.loss == "wgan_gp" else F.softplus(-score).mean()
        g_loss.backward()
        for p in gan.discriminator.parameters():
            p.grad = None
        distributed.average_gradients(gan.generator, procs)
        opt.step()
    opt.zero_grad(set_to_none=True)
    if is_per_step(run.scheduler):
        run.scheduler.step()
    return d_loss.detach()


def _critic_loss(net: GanNet, real, fake, labels) -> torch.Tensor:
    d = net.gan.discriminator
    real_score, fake_score = d(real, labels).float(), d(fake, labels).float()
    if net.loss != "wgan_gp":
        return F.softplus(-real_score).mean() + F.softplus(fake_score).mean()
    mix = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    between = (mix * real + (1 - mix) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(d(between, labels).float().sum(), between, create_graph=True)
    penalty = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
    return fake_score.mean() - real_score.mean() + net.penalty * penalty
