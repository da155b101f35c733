"""The vocoder's random training segments: inside their clip, hop-aligned, padded when the
clip is short, and the same for the same (seed, epoch, step): a resume draws them again."""

from __future__ import annotations

import torch

from modelyard.train.distributed import Processes
from modelyard.vocoder.data import Clips, SegmentSource

ONE = Processes(rank=0, local_rank=0, world=1)


def _clips() -> Clips:
    lengths = torch.tensor([1000, 300, 2000, 640])
    starts = torch.cumsum(lengths, 0) - lengths
    audio = torch.cat(
        [torch.full((int(n),), i + 1, dtype=torch.int16) for i, n in enumerate(lengths)]
    )
    return Clips(audio, starts, lengths)


def test_segments_stay_in_their_clip_and_short_clips_are_padded():
    source = SegmentSource(_clips(), segment=640, hop=64, batch_size=4, seed=0)
    ((batch, share),) = list(source.batches(1, ONE))
    waves = (batch["wave"] * 32768).round()
    assert waves.shape == (4, 640) and share == 1.0
    for row in waves:
        values = set(row.unique().tolist()) - {0.0}
        assert len(values) == 1  # one clip only
        clip = int(values.pop()) - 1
        if clip == 1:  # 300 samples: the clip, then zeros
            assert (row[:300] == 2).all() and (row[300:] == 0).all()
        else:
            assert (row != 0).all()


def test_the_same_step_draws_the_same_segments_and_epochs_differ():
    clips = _clips()
    clips.audio = torch.arange(len(clips.audio), dtype=torch.int16)
    source = SegmentSource(clips, segment=128, hop=64, batch_size=2, seed=3)
    full = [b["wave"] for b, _ in source.batches(1, ONE)]
    resumed = [b["wave"] for b, _ in source.batches(1, ONE, start_step=1)]
    assert torch.equal(full[1], resumed[0])
    other = [b["wave"] for b, _ in source.batches(2, ONE)]
    assert not all(torch.equal(a, b) for a, b in zip(full, other, strict=False))
    starts = (torch.cat(full)[:, 0] * 32768).round().long()
    offsets = starts - clips.starts[torch.searchsorted(clips.starts, starts, right=True) - 1]
    assert (offsets % 64 == 0).all()
