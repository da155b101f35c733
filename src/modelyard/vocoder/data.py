"""The vocoder's data: the clips of a table's audio column, decoded and resampled to the mel
scale's rate, and the training batches of random segments of them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import torch

from modelyard.errors import UserError
from modelyard.train import checkpoint, distributed


@dataclass
class Clips:
    """Clips end to end: `audio` (total samples,) int16, clip i at starts[i]:starts[i]+lengths[i]."""

    audio: torch.Tensor
    starts: torch.Tensor  # (N,) int64
    lengths: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.starts)

    def clip(self, i: int) -> torch.Tensor:
        """(samples,) float32 in [-1, 1]."""
        start, length = int(self.starts[i]), int(self.lengths[i])
        return self.audio[start : start + length].float() / 32768.0


def read_clips(
    table: Path, column: str, sample_rate: int, limit: int | None = None, where: str = ""
) -> Clips:
    """The first `limit` (all: None) clips of `column` in the table file `table`."""
    from modelyard.data.features.base import map_files, row_label
    from modelyard.data.read import read_table

    frame = read_table(table)
    if column not in frame.columns:
        raise UserError(
            f"{where or table}: column '{column}' is not in '{table}' (columns: "
            f"{', '.join(frame.columns)}); set data.audio to the column of audio file paths"
        )
    paths = frame[column].iloc[:limit] if limit is not None else frame[column]
    jobs = [
        (str(table.parent / str(p)), column, f"{row_label(paths, i)} of '{table}'", sample_rate)
        for i, p in enumerate(paths)
    ]
    waves = map_files(_load, jobs)
    lengths = torch.tensor([len(w) for w in waves], dtype=torch.int64)
    starts = torch.cumsum(lengths, 0) - lengths
    audio = np.concatenate(waves) if waves else np.zeros(0, np.float32)
    audio = torch.from_numpy((np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16))
    return Clips(audio, starts, lengths)


def _load(path: str, column: str, row: str, sample_rate: int) -> np.ndarray:
    from modelyard.data.features.audio import read_audio

    wave, rate = read_audio(path, column, row)
    if rate != sample_rate:
        from scipy.signal import resample_poly

        common = gcd(rate, sample_rate)
        wave = resample_poly(wave, sample_rate // common, rate // common)
    return wave.astype(np.float32)


class SegmentSource:
    """Training batches {"wave": (b, segment) float32}: each epoch visits every clip once in
    an order drawn from (seed, epoch) and cuts a random segment of it, starting at a
    multiple of `hop`; the offsets of a step come from (seed, epoch, step) alone, so a run
    resumed mid-epoch draws the same batches. A clip shorter than `segment` is zero-padded."""

    def __init__(self, clips: Clips, segment: int, hop: int, batch_size: int | str, seed: int):
        self.clips, self.segment, self.hop, self.seed = clips, segment, hop, seed
        self.rows = len(clips)
        self.batch_size = self.rows if batch_size == "full" else min(int(batch_size), self.rows)
        self.steps_per_epoch = -(-self.rows // self.batch_size)
        self._padded = torch.cat([clips.audio, torch.zeros(segment, dtype=torch.int16)])
        self.device = torch.device("cpu")

    def to(self, device: torch.device) -> SegmentSource:
        self.device = device
        return self

    def fingerprint(self) -> dict[str, str]:
        return checkpoint.fingerprint({"lengths": self.clips.lengths})

    def batches(
        self, epoch: int, procs: distributed.Processes, start_step: int = 0
    ) -> Iterator[tuple[dict[str, torch.Tensor], float]]:
        from modelyard.data.source import epoch_order, step_seed

        order = epoch_order(self.rows, self.seed, epoch)
        for step in range(start_step, self.steps_per_epoch):
            index = order[step * self.batch_size : (step + 1) * self.batch_size]
            share = 1.0
            if procs.world > 1:
                index, share = distributed.share(index, procs)
            generator = torch.Generator().manual_seed(step_seed(self.seed * 7919 + epoch, step))
            yield {"wave": self._cut(index, generator).to(self.device)}, share

    def _cut(self, index: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """(b,) clip rows -> (b, segment) float32 segments."""
        room = (self.clips.lengths[index] - self.segment).clamp(min=0) // self.hop + 1
        offsets = (torch.rand(len(index), generator=generator) * room).long() * self.hop
        first = self.clips.starts[index] + offsets
        at = first.view(-1, 1) + torch.arange(self.segment).view(1, -1)
        ends = (self.clips.starts[index] + self.clips.lengths[index]).view(-1, 1)
        pieces = self._padded[at].float() / 32768.0
        return torch.where(at < ends, pieces, 0.0)
