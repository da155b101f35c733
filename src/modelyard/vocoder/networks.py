"""The neural vocoder's networks: a Vocos-style generator (ConvNeXt blocks at the frame rate
predicting each STFT frame's magnitude and phase, then one inverse STFT) and the two
discriminators of its adversarial training (multi-period on the waveform, multi-resolution
on spectrograms; Vocos, Siuzdak 2023, after HiFi-GAN, Kong et al. 2020).

Why Vocos-style rather than HiFi-GAN: its layers run once per frame (hop samples), not
once per sample after upsampling; on CPU that is ~30x fewer operations per second of audio
for a generator of the same width (bench/vocoder.py measures the real-time factor).
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn
from torch.nn import functional as F

from modelyard.data.mel import MelScale


class ConvNeXtBlock(nn.Module):
    """Depthwise conv (kernel 7) -> LayerNorm -> pointwise MLP -> scaled residual.
    (B, dim, T) -> (B, dim, T)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.depthwise = nn.Conv1d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)
        self.scale = nn.Parameter(torch.full((dim,), 1.0 / 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.depthwise(x).transpose(1, 2)  # (B, T, dim)
        h = self.down(F.gelu(self.up(self.norm(h))))
        return x + (self.scale * h).transpose(1, 2)


class VocosGenerator(nn.Module):
    """log-mel (B, n_mels, T) -> waveform (B, (T - 1) * hop).

    ConvNeXt blocks at the frame rate predict, per frame, a correction to the log magnitude
    that the mel bank's own interpolation back to linear frequencies gives (a fixed prior:
    the network learns the fine structure, not the envelope) and a phase (atan2 of two
    outputs); `torch.istft` (the scale's window and hop, center=True) makes the waveform.
    """

    def __init__(self, scale: MelScale, dim: int, layers: int, hidden: int):
        super().__init__()
        self.n_fft, self.hop, self.window_length = scale.n_fft, scale.hop, scale.window
        bins = scale.n_fft // 2 + 1
        self.register_buffer("prior", _interpolation(scale.bank()), persistent=False)
        self.register_buffer("window", torch.hann_window(scale.window), persistent=False)
        self.embed = nn.Conv1d(scale.n_mels, dim, 7, padding=3)
        self.norm = nn.LayerNorm(dim)
        self.blocks = nn.ModuleList(ConvNeXtBlock(dim, hidden) for _ in range(layers))
        self.final = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 3 * bins)  # log-magnitude correction, phase (x, y)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        with torch.no_grad():  # phase starts at random directions, not all zero
            self.head.weight[bins:].normal_(0, 0.1)

    def spectrum(self, log_mel: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, T) log-mel -> (B, n_fft // 2 + 1, T) complex STFT."""
        h = self.norm(self.embed(log_mel).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            h = block(h)
        out = self.head(self.final(h.transpose(1, 2))).transpose(1, 2)  # (B, 3 * bins, T)
        correction, x, y = out.float().chunk(3, dim=1)
        prior = torch.log(torch.einsum("fm,bmt->bft", self.prior, log_mel.exp()) + 1e-7)
        magnitude = torch.exp((0.5 * prior + correction).clamp(max=12.0))
        angle = torch.atan2(y, x + 1e-9)
        return torch.polar(magnitude, angle)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        spectrum = self.spectrum(log_mel)
        frames = log_mel.shape[-1]
        return torch.istft(
            spectrum,
            self.n_fft,
            hop_length=self.hop,
            win_length=self.window_length,
            window=self.window,
            center=True,
            length=(frames - 1) * self.hop,
        )


def _interpolation(bank: torch.Tensor) -> torch.Tensor:
    """(bins, n_mels) Slaney bank -> (bins, n_mels) weights that spread each mel band's power
    back over its bins: for a flat power spectrum p, prior @ mel gives p again."""
    per_bin = bank / bank.sum(dim=1, keepdim=True).clamp(min=1e-8)  # share of each band
    return per_bin / bank.sum(dim=0, keepdim=True).clamp(min=1e-8)  # band power -> bin power


class PeriodDiscriminator(nn.Module):
    """The waveform folded into (B, 1, samples / period, period); 2D convs along time.
    (B, samples) -> (score (B, -1), feature maps)."""

    def __init__(self, period: int, channels: int):
        super().__init__()
        self.period = period
        sizes = [1, channels, channels * 2, channels * 4, channels * 4]
        self.convs = nn.ModuleList(
            nn.utils.parametrizations.weight_norm(
                nn.Conv2d(a, b, (5, 1), (3 if i < 3 else 1, 1), padding=(2, 0))
            )
            for i, (a, b) in enumerate(pairwise(sizes))
        )
        self.out = nn.utils.parametrizations.weight_norm(
            nn.Conv2d(sizes[-1], 1, (3, 1), padding=(1, 0))
        )

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, n = wave.shape
        pad = -n % self.period
        x = F.pad(wave, (0, pad), mode="reflect").view(b, 1, -1, self.period)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            features.append(x)
        x = self.out(x)
        features.append(x)
        return x.flatten(1), features


class ResolutionDiscriminator(nn.Module):
    """2D convs over one STFT resolution's log magnitude (B, 1, frames, bins).
    (B, samples) -> (score (B, -1), feature maps)."""

    def __init__(self, n_fft: int, channels: int):
        super().__init__()
        self.n_fft = n_fft
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        kernels = [((7, 5), (2, 2)), ((5, 3), (2, 1)), ((5, 3), (2, 1)), ((3, 3), (1, 1))]
        sizes = [1, channels, channels, channels, channels]
        self.convs = nn.ModuleList(
            nn.utils.parametrizations.weight_norm(
                nn.Conv2d(a, b, k, s, padding=(k[0] // 2, k[1] // 2))
            )
            for (a, b), (k, s) in zip(pairwise(sizes), kernels, strict=True)
        )
        self.out = nn.utils.parametrizations.weight_norm(nn.Conv2d(channels, 1, 3, padding=1))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = torch.stft(
            wave, self.n_fft, self.n_fft // 4, window=self.window, return_complex=True
        )
        x = torch.log(spec.abs().clamp(min=1e-5)).transpose(1, 2).unsqueeze(1)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            features.append(x)
        x = self.out(x)
        features.append(x)
        return x.flatten(1), features


class Discriminators(nn.Module):
    """All discriminators; (B, samples) -> [(score, feature maps)] one per discriminator."""

    def __init__(self, periods: list[int], resolutions: list[int], channels: int):
        super().__init__()
        self.members = nn.ModuleList(
            [PeriodDiscriminator(p, channels) for p in periods]
            + [ResolutionDiscriminator(n, channels) for n in resolutions]
        )

    def forward(self, wave: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return [member(wave) for member in self.members]


class VocoderPair(nn.Module):
    """What the training loop trains: the generator and its discriminators (one module, so
    the run's checkpoint holds both and their optimizer state)."""

    def __init__(self, generator: VocosGenerator, discriminators: Discriminators):
        super().__init__()
        self.generator = generator
        self.discriminators = discriminators
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))  # generator updates
