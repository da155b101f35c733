"""Speech to text with connectionist temporal classification (CTC, Graves et al. 2006).

An audio encoder's `frames` (one state per subsampled spectrogram frame), a linear layer to
a token (or blank) per frame, trained with `F.ctc_loss`. Decoding: greedy (the best token per
frame, repeats collapsed, blanks dropped) or, with `beam_size` > 1, prefix beam search.
Token ids come from the text output's feature (data/features/text_target.py): 0 is both
padding and the CTC blank; targets are stored as `[BOS] tokens [EOS]` padded with 0.

Model outputs follow that feature's contract: `outputs[name]` is (B, T', V) log-probabilities
(what `CtcLoss` reads), and in eval mode `outputs[name + TOKENS]` is (B, T') decoded ids,
padded with 0.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from modelyard.data.features.text_target import TOKENS
from modelyard.errors import UserError

BLANK = 0


class SpeechToText(nn.Module):
    """batch {audio input: (B, 1, M, T)} -> {output: (B, T', V) log-probs} and, in eval mode,
    {output + '.tokens': (B, T') decoded ids}."""

    def __init__(
        self, input_name: str, encoder: nn.Module, output_name: str, vocab_size: int, beam_size: int
    ):
        super().__init__()
        self.input_names, self.output_names = [input_name], [output_name]
        self.encoders = nn.ModuleList([encoder])
        self.head = nn.Linear(encoder.frame_size, vocab_size)
        self.beam_size = beam_size

    def pack(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Table tensors -> model inputs: the spectrograms only."""
        return {name: tensors[name] for name in self.input_names}

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        states = self.encoders[0].frames(batch[self.input_names[0]])  # (B, T', H)
        log_probs = F.log_softmax(self.head(states).float(), dim=-1)  # (B, T', V)
        name = self.output_names[0]
        if self.training:
            return {name: log_probs}
        return {name: log_probs, name + TOKENS: self.decode(log_probs)}

    def decode(self, log_probs: torch.Tensor) -> torch.Tensor:
        """(B, T', V) -> (B, T') token ids, 0-padded: greedy, or prefix beam search."""
        if self.beam_size == 1:
            return greedy_decode(log_probs)
        rows = [prefix_beam_search(row.numpy(), self.beam_size) for row in log_probs.detach().cpu()]
        ids = torch.zeros(log_probs.shape[:2], dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return ids.to(log_probs.device)


def greedy_decode(log_probs: torch.Tensor) -> torch.Tensor:
    """(B, T', V) -> (B, T') ids: argmax per frame, repeats collapsed, blanks dropped, left-aligned
    and 0-padded."""
    best = log_probs.argmax(dim=-1)  # (B, T')
    repeat = torch.zeros_like(best, dtype=torch.bool)
    repeat[:, 1:] = best[:, 1:] == best[:, :-1]
    keep = (best != BLANK) & ~repeat
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)  # kept ids first, in order
    return torch.where(torch.gather(keep, 1, order), torch.gather(best, 1, order), 0)


def prefix_beam_search(log_probs: np.ndarray, beam_size: int) -> list[int]:
    """(T', V) log-probabilities -> the most probable token sequence found by CTC prefix beam
    search (Hannun et al. 2014), without a language model. Each prefix keeps the probability of
    its alignments ending in a blank and in its last token. Per frame only the `beam_size` most
    probable tokens (besides the blank) extend a prefix. Hand-written: no installed library
    offers CTC beam search without torchaudio."""
    neg = -np.inf
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, neg)}  # (blank, token)
    for frame in log_probs:
        order = np.argsort(frame)[::-1][: beam_size + 1]
        candidates = [int(c) for c in order if c != BLANK][:beam_size]
        following: defaultdict[tuple[int, ...], list[float]] = defaultdict(lambda: [neg, neg])
        for prefix, (blank, token) in beams.items():
            total = np.logaddexp(blank, token)
            stay = following[prefix]
            stay[0] = np.logaddexp(stay[0], total + frame[BLANK])
            for c in candidates:
                p = frame[c]
                extended = following[(*prefix, c)]
                if prefix and prefix[-1] == c:
                    stay[1] = np.logaddexp(stay[1], token + p)  # a repeat collapses into prefix
                    extended[1] = np.logaddexp(extended[1], blank + p)  # blank between: a new one
                else:
                    extended[1] = np.logaddexp(extended[1], total + p)
        ranked = sorted(following.items(), key=lambda kv: -np.logaddexp(*kv[1]))
        beams = {prefix: (b, t) for prefix, (b, t) in ranked[:beam_size]}
    return list(max(beams.items(), key=lambda kv: np.logaddexp(*kv[1]))[0])


class CtcLoss:
    """(B, T', V) log-probs, (B, L) `[BOS] ids [EOS]` 0-padded targets -> mean CTC loss per
    target token (F.ctc_loss, reduction mean). A transcript that cannot fit in the encoder's
    frames (each token needs a frame, a repeated one two) is the user's error."""

    def __call__(self, log_probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target = target.long()
        lengths = (target != 0).sum(dim=1) - 2  # without [BOS] and [EOS]
        frames = torch.full((log_probs.shape[0],), log_probs.shape[1], dtype=torch.long)
        _check_alignments_fit(target[:, 1:], lengths, log_probs.shape[1])
        return F.ctc_loss(
            log_probs.float().transpose(0, 1),  # (T', B, V)
            target[:, 1:],  # the [EOS] after each text lies beyond its length
            frames,
            lengths,
            blank=BLANK,
            zero_infinity=True,
        )


def _check_alignments_fit(tokens: torch.Tensor, lengths: torch.Tensor, frames: int) -> None:
    """tokens (B, L), lengths (B,): raise if some transcript needs more than `frames` frames."""
    inside = torch.arange(tokens.shape[1], device=tokens.device) < lengths[:, None]
    repeats = ((tokens[:, 1:] == tokens[:, :-1]) & inside[:, 1:]).sum(dim=1)
    needed = int((lengths + repeats).max())
    if needed > frames:
        raise UserError(
            f"a transcript needs {needed} frames but the audio encoder gives {frames} per clip; "
            "use a smaller encoder.subsample, fewer cnn/resnet channel stages, a smaller hop_ms, "
            "or longer clips (preprocessing.max_seconds)"
        )


def transcript_metrics(feature, predicted: torch.Tensor, references: list[str]) -> dict[str, float]:
    """`wer` and `cer` of decoded ids (N, T'), decoded to text by the output's feature, against
    the N raw transcripts of the data (not rebuilt from token ids)."""
    from modelyard.metrics.text import transcription_metrics

    return transcription_metrics(references, feature.decode(predicted))
