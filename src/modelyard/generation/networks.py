"""The VAE and the DCGAN of `model.type: vae | gan` (the diffusion U-Net is in unet.py).

Images are (B, C, H, W) in [-1, 1]. A conditional network (`classes` > 0) takes (B,) int64
labels; its class embedding joins the noise or latent values. Sizes that are not multiples
of 4 are generated at the next multiple and cropped.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def _coarse(size: int, halvings: int) -> int:
    return math.ceil(size / 2**halvings)


class Generator(nn.Module):
    """DCGAN generator: (B, latent) noise [+ labels] -> (B, C, H, W) images in [-1, 1]."""

    def __init__(self, latent: int, width: int, shape: tuple[int, int, int], classes: int):
        super().__init__()
        c, h, w = shape
        self.latent, self.classes, self.shape = latent, classes, shape
        self.coarse = (_coarse(h, 2), _coarse(w, 2))
        self.label = nn.Embedding(classes, latent) if classes else None
        self.project = nn.Linear(latent, 2 * width * self.coarse[0] * self.coarse[1])
        self.body = nn.Sequential(
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, c, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        if self.label is not None:
            z = z + self.label(label)
        h = self.project(z).view(z.shape[0], -1, *self.coarse)
        c, height, width = self.shape
        return self.body(h)[:, :, :height, :width]


class Discriminator(nn.Module):
    """(B, C, H, W) images [+ labels] -> (B,) scores (logits; a critic's values for wgan_gp).
    Conditional by projection (Miyato & Koyama 2018): score += <embed(label), features>."""

    def __init__(self, width: int, shape: tuple[int, int, int], classes: int):
        super().__init__()
        c, h, w = shape
        self.body = nn.Sequential(
            nn.Conv2d(c, width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            nn.GroupNorm(1, 2 * width),  # no batch norm: the gradient penalty is per image
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        features = 2 * width * (h // 4) * (w // 4)
        self.score = nn.Linear(features, 1)
        self.label = nn.Embedding(classes, features) if classes else None
        if self.label is not None:  # unit-normal rows would dwarf the score: start at 0
            nn.init.zeros_(self.label.weight)

    def forward(self, x: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        f = self.body(x)  # (B, F)
        score = self.score(f).squeeze(1)
        if self.label is not None:
            score = score + (self.label(label) * f).sum(1)
        return score


class Gan(nn.Module):
    """The generator and discriminator trained together (generation/steps.gan_step)."""

    def __init__(self, latent: int, width: int, shape: tuple[int, int, int], classes: int):
        super().__init__()
        self.classes = classes
        self.generator = Generator(latent, width, shape, classes)
        self.discriminator = Discriminator(width, shape, classes)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))


class Vae(nn.Module):
    """Convolutional VAE: encoder (B, C, H, W) -> mean, log-variance (B, latent); decoder
    (B, latent) [+ labels] -> (B, C, H, W) logits of pixels in [0, 1]."""

    def __init__(self, latent: int, channels: list[int], shape: tuple[int, int, int], classes: int):
        super().__init__()
        c, h, w = shape
        n = len(channels)
        self.latent, self.classes, self.shape = latent, classes, shape
        self.coarse = (_coarse(h, n), _coarse(w, n))
        widths = [c, *channels]
        self.encoder = nn.Sequential(
            *[
                layer
                for i in range(n)
                for layer in (nn.Conv2d(widths[i], widths[i + 1], 3, 2, 1), nn.SiLU())
            ],
            nn.Flatten(),
        )
        flat = channels[-1] * self.coarse[0] * self.coarse[1]
        self.label = nn.Embedding(classes, flat) if classes else None
        self.label_z = nn.Embedding(classes, latent) if classes else None
        self.moments = nn.Linear(flat, 2 * latent)
        self.project = nn.Linear(latent, flat)
        back = list(reversed(widths))
        layers: list[nn.Module] = []
        for i in range(n):
            layers.append(nn.ConvTranspose2d(back[i], back[i + 1], 4, 2, 1))
            if i < n - 1:
                layers.append(nn.SiLU())
        self.decoder_body = nn.Sequential(*layers)

    def encode(
        self, x: torch.Tensor, label: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.encoder(x)
        if self.label is not None:
            f = f + self.label(label)
        mean, log_var = self.moments(f).chunk(2, dim=1)
        return mean, log_var.clamp(-20, 10)

    def decode(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        """(B, latent) -> (B, C, H, W) logits."""
        if self.label_z is not None:
            z = z + self.label_z(label)
        h = F.silu(self.project(z)).view(z.shape[0], -1, *self.coarse)
        c, height, width = self.shape
        return self.decoder_body(h)[:, :, :height, :width]


def vae_loss(
    vae: Vae, images: torch.Tensor, labels: torch.Tensor | None, beta: float
) -> torch.Tensor:
    """Per pixel: binary cross-entropy of the reconstruction (pixels mapped to [0, 1]) plus
    beta times the KL divergence from the unit Gaussian prior (summed over latent values)."""
    mean, log_var = vae.encode(images, labels)
    z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
    logits = vae.decode(z, labels).float()
    target = (images.float() + 1) / 2
    pixels = images[0].numel()
    reconstruction = F.binary_cross_entropy_with_logits(logits, target, reduction="sum")
    kl = -0.5 * (1 + log_var - mean.pow(2) - log_var.exp()).float().sum()
    return (reconstruction + beta * kl) / (images.shape[0] * pixels)


class VaeDecoder(nn.Module):
    """The exported VAE: (B, latent) [+ labels] -> (B, C, H, W) images in [-1, 1]."""

    def __init__(self, vae: Vae):
        super().__init__()
        self.vae = vae

    def forward(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.vae.decode(z, label)) * 2 - 1
