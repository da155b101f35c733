"""The acoustic model: symbols (+ speaker) -> normalised log-mel frames, FastSpeech 2-style
with Glow-TTS's alignment: durations come from monotonic alignment search (tts/mas.py) over
a per-symbol Gaussian prior, so no external aligner is needed.

    symbols (B, L) -> embedding -> conv blocks -> Transformer blocks -> h (B, L, D) (+ speaker)
    h -> prior means mu (B, L, R*M)  --MAS against the target frames-->  path (B, L, T')
    h.detach() -> duration predictor -> log(1 + frames per symbol) (B, L)
    path^T h, path^T mu (length regulator) -> ConvNeXt decoder -> (B, T', R*M) -> (B, M, T'R)

T' = T / R: the decoder predicts R frames per step (`reduction`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from modelyard.tts.mas import gaussian_log_likelihood, monotonic_alignment


class _ConvBlock(nn.Module):
    """(B, L, D) -> (B, L, D): conv, ReLU, LayerNorm, dropout, residual; padding kept at 0."""

    def __init__(self, dim: int, kernel: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv(x.transpose(1, 2)).transpose(1, 2))
        return (x + self.drop(self.norm(y))) * mask[..., None]


class _ConvNeXtBlock(nn.Module):
    """(B, T, D) -> (B, T, D): depthwise conv, LayerNorm, pointwise 2D GELU D, residual."""

    def __init__(self, dim: int, kernel: int, dropout: float):
        super().__init__()
        self.depthwise = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.up = nn.Linear(dim, 2 * dim)
        self.down = nn.Linear(2 * dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.depthwise(x.transpose(1, 2)).transpose(1, 2))
        return (x + self.drop(self.down(F.gelu(self.up(y))))) * mask[..., None]


class AcousticModel(nn.Module):
    """Symbols and speakers -> log-mel frames; `forward(batch)` gives the training losses,
    `synthesize` the frames. `mel_mean`/`mel_std` (M,) normalise the targets (training
    statistics, saved with the weights)."""

    def __init__(
        self,
        symbols: int,
        speakers: int,
        n_mels: int,
        dim: int = 192,
        encoder_layers: int = 3,
        attention_layers: int = 2,
        heads: int = 2,
        decoder_layers: int = 4,
        decoder_dim: int = 192,
        kernel: int = 5,
        reduction: int = 2,
        speaker_dim: int = 64,
        dropout: float = 0.1,
        duration_weight: float = 1.0,
        prior_weight: float = 1.0,
    ):
        super().__init__()
        self.n_mels, self.reduction = n_mels, reduction
        self.weights = (duration_weight, prior_weight)
        width = n_mels * reduction
        self.embed = nn.Embedding(symbols + 1, dim, padding_idx=0)
        self.convs = nn.ModuleList(_ConvBlock(dim, kernel, dropout) for _ in range(encoder_layers))
        self.attention = nn.ModuleList(
            nn.TransformerEncoderLayer(
                dim, heads, 2 * dim, dropout, batch_first=True, norm_first=True
            )
            for _ in range(attention_layers)
        )
        self.speaker = nn.Embedding(speakers, speaker_dim)
        self.speaker_proj = nn.Linear(speaker_dim, dim)
        self.prior = nn.Linear(dim, width)
        self.durations = nn.ModuleList(_ConvBlock(dim, 3, dropout) for _ in range(2))
        self.duration_out = nn.Linear(dim, 1)
        self.decoder_in = nn.Linear(dim + width, decoder_dim)
        self.decoder = nn.ModuleList(
            _ConvNeXtBlock(decoder_dim, 7, dropout) for _ in range(decoder_layers)
        )
        self.out = nn.Linear(decoder_dim, width)
        self.register_buffer("mel_mean", torch.zeros(n_mels))
        self.register_buffer("mel_std", torch.ones(n_mels))

    # ------------------------------------------------------------ pieces

    def encode(self, tokens: torch.Tensor, speakers: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(B, L) symbol ids (0 pad), (B,) speaker ids -> h (B, L, D), mu (B, L, R*M),
        log-duration (B, L), mask (B, L)."""
        mask = (tokens != 0).float()
        h = self.embed(tokens) * mask[..., None]
        for block in self.convs:
            h = block(h, mask)
        for layer in self.attention:
            h = layer(h, src_key_padding_mask=mask == 0) * mask[..., None]
        h = h + self.speaker_proj(self.speaker(speakers))[:, None, :] * mask[..., None]
        d = h.detach()
        for block in self.durations:
            d = block(d, mask)
        return h, self.prior(h), self.duration_out(d).squeeze(-1) * mask, mask

    def decode(self, h: torch.Tensor, mu: torch.Tensor, path: torch.Tensor) -> torch.Tensor:
        """h (B, L, D), mu (B, L, R*M), path (B, L, T') -> (B, T', R*M) normalised frames."""
        frames = path.transpose(1, 2) @ torch.cat([h, mu], dim=-1)
        mask = path.sum(1).clamp(max=1)
        x = self.decoder_in(frames) * mask[..., None]
        for block in self.decoder:
            x = block(x, mask)
        return self.out(x) * mask[..., None]

    def stack(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, M, T) log-mel -> (B, T // R, R*M) normalised, R frames per step."""
        x = ((mel.transpose(1, 2) - self.mel_mean) / self.mel_std).float()
        b, t, m = x.shape
        t = t // self.reduction
        return x[:, : t * self.reduction].reshape(b, t, self.reduction * m)

    def unstack(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T', R*M) normalised -> (B, M, T'R) log-mel."""
        b, t, _ = x.shape
        frames = x.reshape(b, t * self.reduction, self.n_mels).float()
        return (frames * self.mel_std + self.mel_mean).transpose(1, 2)

    # ------------------------------------------------------------ training and synthesis

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """batch: tokens (B, L), speaker (B,), mel (B, M, T), frames (B,) real frames ->
        {loss, mel_l1, prior, duration} scalars."""
        h, mu, log_d, mask = self.encode(batch["tokens"], batch["speaker"])
        target = self.stack(batch["mel"])  # (B, T', R*M)
        steps = (batch["frames"] // self.reduction).clamp(max=target.shape[1])
        frame_mask = (
            torch.arange(target.shape[1], device=target.device)[None] < steps[:, None]
        ).float()
        log_p = gaussian_log_likelihood(target, mu)
        path = monotonic_alignment(log_p, mask.sum(1).long(), steps)  # (B, L, T')
        predicted = self.decode(h, mu, path)
        count = frame_mask.sum() * target.shape[-1]
        mel_l1 = ((predicted - target).abs() * frame_mask[..., None]).sum() / count
        aligned = path.transpose(1, 2) @ mu.float()  # (B, T', R*M)
        prior = 0.5 * (((aligned - target) ** 2) * frame_mask[..., None]).sum() / count
        wanted = torch.log1p(path.sum(-1)) * mask
        duration = ((log_d - wanted) ** 2).sum() / mask.sum()
        d_w, p_w = self.weights
        return {
            "loss": mel_l1 + p_w * prior + d_w * duration,
            "mel_l1": mel_l1,
            "prior": prior,
            "duration": duration,
        }

    @torch.no_grad()
    def synthesize(
        self, tokens: torch.Tensor, speakers: torch.Tensor, speed: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L) symbol ids, (B,) speakers -> ((B, M, T) log-mel, (B,) real frames)."""
        h, mu, log_d, mask = self.encode(tokens, speakers)
        steps = (torch.round(torch.expm1(log_d.float()).clamp(min=0) / speed).clamp(min=1)) * mask
        path = _path(steps.long())
        frames = self.decode(h, mu, path.to(h.dtype))
        return self.unstack(frames), path.sum((1, 2)).long() * self.reduction


def _path(steps: torch.Tensor) -> torch.Tensor:
    """(B, L) frames per symbol -> (B, L, T') 0/1 length-regulator matrix."""
    ends = steps.cumsum(1)
    starts = ends - steps
    t = torch.arange(int(ends[:, -1].max().clamp(min=1)), device=steps.device)
    return ((t[None, None] >= starts[..., None]) & (t[None, None] < ends[..., None])).float()
