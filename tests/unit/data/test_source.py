"""The in-memory batch source: the shuffle and batches of before, each process's share,
resuming at a step, and augmentation of training batches only, drawn per rank."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from modelyard.data.augment import ImageAugment
from modelyard.data.source import InMemorySource, balanced_row_weights
from modelyard.train.distributed import Processes

ROWS = 37  # uneven: the last batch of 4 has one row


def _tensors() -> dict[str, torch.Tensor]:
    """ "id": (ROWS,) each row's number, to see which rows a batch holds; "x": (ROWS, 2)."""
    x = torch.randn(ROWS, 2, generator=torch.Generator().manual_seed(0))
    return {"id": torch.arange(ROWS), "x": x}


ONE = Processes()


def _ids(source: InMemorySource, epoch: int, procs: Processes = ONE, start_step: int = 0):
    return [
        (batch["id"].tolist(), share) for batch, share in source.batches(epoch, procs, start_step)
    ]


@pytest.mark.parametrize(("batch_size", "steps"), [(4, 10), (10, 4), ("full", 1), (100, 1)])
def test_the_batches_of_a_seed_are_those_fit_cut_before(batch_size, steps) -> None:
    """The loop's old order: randperm by a generator seeded with seed * 100_003 + epoch, cut
    into batches of batch_size ("full" or larger: all rows); every row once per epoch."""
    source = InMemorySource(_tensors(), batch_size, seed=5)
    assert (source.rows, source.steps_per_epoch) == (ROWS, steps)
    size = ROWS if batch_size == "full" else min(batch_size, ROWS)
    for epoch in (1, 2):
        order = torch.randperm(ROWS, generator=torch.Generator().manual_seed(5 * 100_003 + epoch))
        before = [order[i : i + size].tolist() for i in range(0, ROWS, size)]
        assert _ids(source, epoch) == [(rows, 1.0) for rows in before]
    batch, _ = next(source.batches(1, Processes()))
    assert torch.equal(batch["x"], _tensors()["x"][batch["id"]])  # every tensor, same rows


def test_two_ranks_share_each_global_batch_exactly_once() -> None:
    source = InMemorySource(_tensors(), 4, seed=0)
    whole = _ids(source, 3)
    rank0, rank1 = (_ids(source, 3, Processes(rank, 2, rank)) for rank in (0, 1))
    assert len(rank0) == len(rank1) == len(whole) == 10  # every process runs every step
    for (rows, _), (mine, f0), (theirs, f1) in zip(whole, rank0, rank1, strict=True):
        if len(rows) == 1:  # rank 0 takes the lone row; rank 1 runs a row with factor 0
            assert (mine, f0, f1) == (rows, 2.0, 0.0)
            assert len(theirs) == 1
            continue
        assert sorted(mine + theirs) == sorted(rows) and not set(mine) & set(theirs)
        # factors: each process's mean loss, scaled, averages to the global batch's mean
        assert f0 * len(theirs) == f1 * len(mine)
        assert (f0 + f1) / 2 == pytest.approx(1.0)


def _augmented(seed: int = 0) -> InMemorySource:
    """32 copies of one image: whatever differs between batches is augmentation."""
    image = torch.randint(0, 256, (1, 3, 6, 6), generator=torch.Generator().manual_seed(1))
    tensors = {"image": image.to(torch.uint8).repeat(32, 1, 1, 1), "id": torch.arange(32)}
    augment = ImageAugment("image", (100.0, 120.0, 140.0), padding=2, flip=True)
    return InMemorySource(tensors, 8, seed, [augment])


def test_start_step_resumes_an_epoch_with_the_same_remaining_batches() -> None:
    for source, procs in (
        (InMemorySource(_tensors(), 4, 0), Processes()),
        (_augmented(), Processes(1, 2, 1)),
    ):
        whole = list(source.batches(2, procs))
        resumed = list(source.batches(2, procs, start_step=2))
        assert len(resumed) == len(whole) - 2
        for (batch, share), (again, share_again) in zip(whole[2:], resumed, strict=True):
            assert share == share_again and batch.keys() == again.keys()
            assert all(torch.equal(batch[k], again[k]) for k in batch)


def test_augmentation_differs_per_rank_and_epoch_and_repeats_on_rerun() -> None:
    source = _augmented()
    stored = source.tensors["image"][0]

    def images(epoch: int, rank: int) -> torch.Tensor:
        batches = source.batches(epoch, Processes(rank, 2, rank))
        return torch.cat([batch["image"] for batch, _ in batches])

    rank0 = images(1, 0)
    assert rank0.dtype == torch.float32  # cropped: padded with the means, not whole values
    assert sum(not torch.equal(image, stored.float()) for image in rank0) > len(rank0) // 2
    assert torch.equal(rank0, images(1, 0))  # a resumed epoch draws the same
    assert not torch.equal(rank0, images(1, 1))  # each rank its own draws
    assert not torch.equal(rank0, images(2, 0))  # each epoch its own
    assert torch.equal(source.tensors["image"][0], stored)  # the stored images stay as they were


def test_a_source_without_augmenters_gives_the_stored_values() -> None:
    source = InMemorySource(_tensors(), 4, 0)
    for batch, _ in source.batches(1, Processes(0, 2, 0)):
        assert torch.equal(batch["x"], _tensors()["x"][batch["id"]])


def test_training_batches_are_augmented_and_predictions_are_not(tmp_path, monkeypatch) -> None:
    """The model's `Pixels` receives cropped images (float, means at the border) in training
    and the stored uint8 images, untouched, in `predict`."""
    from PIL import Image

    from modelyard import Model
    from modelyard.models.encoders.pixels import Pixels
    from tests.conftest import write_images

    monkeypatch.chdir(tmp_path)
    frame = write_images(tmp_path / "pics", count=16, size=8)
    seen: list[tuple[bool, torch.Tensor]] = []
    normalise = Pixels.forward

    def recording(self, images):
        seen.append((self.training, images.clone()))
        return normalise(self, images)

    monkeypatch.setattr(Pixels, "forward", recording)
    config = {
        "name": "pics",
        "data": {"split": {"validation": 0.0, "test": 0.0}},
        "inputs": [
            {
                "name": "image",
                "type": "image",
                "encoder": {"type": "mlp", "hidden": [4]},
                "preprocessing": {"augment": {"random_crop": 2, "horizontal_flip": True}},
            }
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {"epochs": 1, "batch_size": 16},
    }
    model = Model.from_config(config).fit(frame)
    (training, images), *_ = seen
    assert training and images.dtype == torch.float32
    stored = torch.from_numpy(
        np.stack([np.asarray(Image.open(tmp_path / path)) for path in frame["image"]])
    ).unsqueeze(1)
    moved = sum(not any(torch.equal(image, s.float()) for s in stored) for image in images)
    assert moved > len(images) // 2
    seen.clear()
    predictions = model.predict(pd.DataFrame({"image": frame["image"]}))
    assert len(predictions) == 16
    assert [training for training, _ in seen] == [False]
    assert torch.equal(seen[0][1], stored)


def _balanced(labels: torch.Tensor, seed: int = 3) -> InMemorySource:
    tensors = {"id": torch.arange(len(labels)), "y": labels}
    return InMemorySource(tensors, 25, seed=seed, row_weights=balanced_row_weights(labels))


def test_balanced_sampling_draws_every_class_about_as_often() -> None:
    labels = torch.tensor([0] * 180 + [1] * 20)  # 9:1
    source = _balanced(labels)
    drawn = torch.cat([b["y"] for epoch in (1, 2, 3) for b, _ in source.batches(epoch, ONE)])
    assert len(drawn) == 600 and source.steps_per_epoch == 8  # an epoch is still N rows
    assert 0.4 < drawn.float().mean() < 0.6  # the rare class: a tenth of the rows, half the draws
    torch.testing.assert_close(
        balanced_row_weights(torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0])),
        torch.tensor([1 / 2, 1 / 3, 1 / 3, 1 / 2, 1 / 3], dtype=torch.float64),
    )


def test_balanced_sampling_resumes_mid_epoch_and_shares_among_ranks() -> None:
    source = _balanced(torch.tensor([0] * 90 + [1] * 10))
    whole = _ids(source, 2)
    assert _ids(source, 2, start_step=2) == whole[2:]
    assert _ids(_balanced(torch.tensor([0] * 90 + [1] * 10)), 2) == whole  # (seed, epoch) alone
    assert _ids(source, 3) != whole
    rank0, rank1 = (_ids(source, 2, Processes(rank, 2, rank)) for rank in (0, 1))
    for (rows, _), (mine, _), (theirs, _) in zip(whole, rank0, rank1, strict=True):
        assert sorted(mine + theirs) == sorted(rows)
