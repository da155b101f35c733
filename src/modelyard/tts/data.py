"""Reading (text, audio[, speaker]) tables into symbol ids and log-mel frames, and the
training batches (padded per batch, rows of similar length together).

Rows are named in messages as `<split> data row N` (N counts from 1 after the header, as a
spreadsheet shows it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from modelyard.errors import UserError
from modelyard.train import distributed


@dataclass
class Clips:
    """One split: texts, symbol ids, speaker ids, log-mels (M, T) and audio paths per row."""

    texts: list[str]
    tokens: list[list[int]]
    speakers: list[int]
    mels: list[torch.Tensor] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    def keep(self, chosen: list[int]) -> Clips:
        pick = lambda xs: [xs[i] for i in chosen] if xs else xs  # noqa: E731
        return Clips(
            pick(self.texts),
            pick(self.tokens),
            pick(self.speakers),
            pick(self.mels),
            pick(self.paths),
            pick(self.rows),
            dict(self.left_out),
        )


def read_tts_table(path: Path) -> pd.DataFrame:
    """A table with text cells as read (CSV/TSV cells stay text)."""
    from modelyard.qa.data import read_qa_table

    if not path.is_file():
        raise UserError(f"data file '{path}' does not exist")
    return read_qa_table(path)


def require_columns(frame: pd.DataFrame, columns, where: str, audio: bool = True) -> None:
    wanted = [columns.text] + ([columns.audio] if audio else [])
    for name in wanted:
        if name not in frame.columns:
            raise UserError(
                f"{where}: no column '{name}' (it has {', '.join(map(str, frame.columns))}); "
                f"set data.columns.{'text' if name == columns.text else 'audio'}"
            )


def speaker_names(frame: pd.DataFrame, column: str | None) -> list[str]:
    """The voices of the training table, sorted; one unnamed voice without the column."""
    if column is None or column not in frame.columns:
        return [""]
    return sorted({str(s) for s in frame[column]})


def speaker_ids(frame: pd.DataFrame, column: str | None, known: list[str], where: str) -> list[int]:
    """Each row's speaker id; an unknown speaker is an error listing the known ones. A table
    without the column (or a single-voice run) speaks with the first voice."""
    if column is None or column not in frame.columns or known == [""]:
        return [0] * len(frame)
    index = {name: i for i, name in enumerate(known)}
    ids = []
    for n, name in enumerate(frame[column]):
        if str(name) not in index:
            raise UserError(unknown_speaker(str(name), known, f"{where} row {n + 1}"))
        ids.append(index[str(name)])
    return ids


def unknown_speaker(name: str, known: list[str], where: str) -> str:
    return f"{where}: unknown speaker '{name}'; this model knows {', '.join(known)}"


def load_mels(paths: list[Path], rows: list[str], column: str, scale) -> list[torch.Tensor]:
    """Each audio file as a (M, T) log-mel in `scale`'s format (resampled where needed)."""
    from modelyard.data.features.audio import read_audio

    bank = scale.bank()
    mels = []
    for path, row in zip(paths, rows, strict=True):
        wave, rate = read_audio(str(path), column, row)
        wave = resample(wave, rate, scale.sample_rate)
        mels.append(scale.log_mel(torch.from_numpy(wave)[None], bank)[0])
    return mels


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return wave.astype(np.float32)
    import librosa

    return librosa.resample(wave.astype(np.float32), orig_sr=rate, target_sr=target)


def mismatched(clips: Clips, reduction: int, ratio: float) -> list[tuple[int, str]]:
    """(index, why) of rows whose audio is wildly longer or shorter than their text: frames
    per symbol beyond `ratio` times (or below 1/`ratio` of) the median, or fewer frame steps
    than symbols (each symbol needs at least one)."""
    per = np.array([m.shape[1] / len(t) for m, t in zip(clips.mels, clips.tokens, strict=True)])
    median = float(np.median(per))
    found = []
    for i, (mel, tokens) in enumerate(zip(clips.mels, clips.tokens, strict=True)):
        steps = mel.shape[1] // reduction
        if steps < len(tokens):
            found.append((i, f"{steps} frame steps for {len(tokens)} symbols"))
        elif not median / ratio <= per[i] <= median * ratio:
            found.append((i, f"{per[i]:.1f} frames per symbol, the median is {median:.1f}"))
    return found


def mismatch_error(clips: Clips, found: list[tuple[int, str]]) -> UserError:
    shown = "; ".join(f"{clips.rows[i]} ('{clips.paths[i]}': {why})" for i, why in found[:10])
    more = f" and {len(found) - 10} more" if len(found) > 10 else ""
    return UserError(
        f"{len(found)} audio files do not match their text's length: {shown}{more}; check "
        "those rows (wrong file or text?), or set data.mismatch: drop to leave them out"
    )


class ClipSource:
    """Training batches of clips: each epoch shuffles the rows by (seed, epoch), sorts pools
    of 32 batches by length (less padding) and yields the batches in shuffled order; each
    batch is padded to its longest row. (B, L) tokens, (B,) speaker, (B, M, T) mel, (B,)
    frames."""

    def __init__(self, clips: Clips, batch_size: int | str, seed: int, floor: float):
        self.clips, self.seed, self.floor = clips, seed, floor
        self.rows = len(clips)
        self.batch_size = self.rows if batch_size == "full" else min(int(batch_size), self.rows)
        self.steps_per_epoch = -(-self.rows // self.batch_size)
        self.device = torch.device("cpu")

    def to(self, device: torch.device) -> ClipSource:
        moved = ClipSource(self.clips, self.batch_size, self.seed, self.floor)
        moved.device = device
        return moved

    def fingerprint(self) -> dict[str, str]:
        lengths = torch.tensor([m.shape[1] for m in self.clips.mels])
        return {"clips": str(self.rows), "frames": str(int(lengths.sum()))}

    def order(self, epoch: int) -> list[torch.Tensor]:
        from modelyard.data.source import epoch_generator

        generator = epoch_generator(self.seed, epoch)
        order = torch.randperm(self.rows, generator=generator)
        lengths = torch.tensor([m.shape[1] for m in self.clips.mels])
        pool = self.batch_size * 32
        batches = []
        for at in range(0, self.rows, pool):
            chunk = order[at : at + pool]
            chunk = chunk[torch.argsort(lengths[chunk], stable=True)]
            batches.extend(chunk.split(self.batch_size))
        shuffle = torch.randperm(len(batches), generator=generator)
        return [batches[i] for i in shuffle]

    def batches(
        self, epoch: int, procs: distributed.Processes, start_step: int = 0
    ) -> Iterator[tuple[dict[str, torch.Tensor], float]]:
        for index in self.order(epoch)[start_step:]:
            share = 1.0
            if procs.world > 1:
                index, share = distributed.share(index, procs)
            batch = collate(self.clips, index.tolist(), self.floor)
            yield {k: v.to(self.device) for k, v in batch.items()}, share


def collate(clips: Clips, index: list[int], floor: float) -> dict[str, torch.Tensor]:
    """Rows `index` of `clips`, padded: tokens with 0, mels with `floor` (silence)."""
    tokens = [torch.tensor(clips.tokens[i]) for i in index]
    batch = {
        "tokens": torch.nn.utils.rnn.pad_sequence(tokens, batch_first=True),
        "speaker": torch.tensor([clips.speakers[i] for i in index]),
    }
    if clips.mels:
        mels = [clips.mels[i] for i in index]
        frames = torch.tensor([m.shape[1] for m in mels])
        mel = torch.full((len(index), mels[0].shape[0], int(frames.max())), floor)
        for row, m in enumerate(mels):
            mel[row, :, : m.shape[1]] = m
        batch.update(mel=mel, frames=frames)
    return batch
