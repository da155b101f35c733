"""Geometric augmentation moves boxes and masks exactly as it moves the image."""

from __future__ import annotations

import torch

from modelyard.data.geometry import SpatialAugment

H, W = 32, 40


def _batch(boxes: list[list[tuple[int, int, int, int]]]) -> dict[str, torch.Tensor]:
    """Images with a bright filled rectangle per box, masks with class k + 1 on box k."""
    b, m = len(boxes), max(len(r) for r in boxes)
    images = torch.zeros(b, 1, H, W, dtype=torch.uint8)
    masks = torch.zeros(b, H, W, dtype=torch.long)
    table = torch.zeros(b, m, 4)
    labels = torch.full((b, m), -1)
    for i, row in enumerate(boxes):
        for k, (x1, y1, x2, y2) in enumerate(row):
            images[i, 0, y1:y2, x1:x2] = 200
            masks[i, y1:y2, x1:x2] = k + 1
            table[i, k] = torch.tensor([x1, y1, x2, y2], dtype=torch.float32)
            labels[i, k] = k
    return {"image": images, "boxes": table, "labels": labels, "mask": masks}


AUGMENT = dict(image="image", boxes="boxes", labels="labels", mask="mask")


def test_no_change_leaves_everything_as_it_was() -> None:
    batch = _batch([[(3, 4, 10, 12)], [(20, 5, 39, 30)]])
    out = SpatialAugment(**AUGMENT)(batch, torch.Generator().manual_seed(0))
    assert torch.allclose(out["image"], batch["image"].float())
    assert torch.equal(out["mask"], batch["mask"])
    assert torch.allclose(out["boxes"], batch["boxes"])
    assert torch.equal(out["labels"], batch["labels"])


def test_flip_mirrors_boxes_and_masks_exactly() -> None:
    batch = _batch([[(3, 4, 10, 12)]] * 8)
    out = SpatialAugment(**AUGMENT, flip=True)(batch, torch.Generator().manual_seed(1))
    flipped = out["boxes"][:, 0, 0] > W / 2
    assert 0 < int(flipped.sum()) < 8  # some images flipped, some not
    assert torch.allclose(out["boxes"][flipped, 0], torch.tensor([W - 10.0, 4, W - 3, 12]))
    assert torch.equal(out["mask"][flipped], batch["mask"][flipped].flip(-1))
    assert torch.allclose(out["image"][flipped], batch["image"][flipped].float().flip(-1))


def test_zoom_and_shift_keep_boxes_on_their_pixels() -> None:
    """After a random zoom and shift, each box still frames its rectangle's pixels (to a
    pixel) and the mask's class-k pixels fill the same place."""
    batch = _batch([[(6, 5, 18, 15), (22, 12, 34, 28)]] * 16)
    augment = SpatialAugment(**AUGMENT, zoom=(0.7, 1.3), shift=0.1, flip=True)
    out = augment(batch, torch.Generator().manual_seed(2))
    for i in range(16):
        for k in range(2):
            if out["labels"][i, k] < 0:
                continue
            ys, xs = torch.nonzero(out["mask"][i] == k + 1, as_tuple=True)
            x1, y1, x2, y2 = out["boxes"][i, k].tolist()
            assert abs(xs.min() - x1) <= 1 and abs(xs.max() + 1 - x2) <= 1
            assert abs(ys.min() - y1) <= 1 and abs(ys.max() + 1 - y2) <= 1
            bright = out["image"][i, 0] > 100
            assert (bright & (out["mask"][i] == k + 1)).sum() >= 0.8 * len(xs)


def test_a_box_pushed_out_of_the_image_loses_its_label() -> None:
    batch = _batch([[(0, 0, 4, 4), (14, 10, 26, 22)]] * 32)
    augment = SpatialAugment(**AUGMENT, shift=0.3, keep_visible=0.5)
    out = augment(batch, torch.Generator().manual_seed(3))
    corner, centre = out["labels"][:, 0], out["labels"][:, 1]
    assert (corner == -1).any() and (centre == 1).all()
    boxes = out["boxes"]
    assert (boxes[..., 0] >= 0).all() and (boxes[..., 2] <= W).all() and (boxes[..., 3] <= H).all()


def test_uncovered_pixels_get_the_fill() -> None:
    batch = _batch([[(10, 10, 20, 20)]])
    out = SpatialAugment("image", zoom=(0.5, 0.5), fill=(37.0,))(batch, torch.Generator())
    assert torch.allclose(out["image"][0, 0, 0, 0], torch.tensor(37.0))
    # halved about the centre (20, 16): the box 10..20 x 10..20 lands on 15..20 x 13..18
    assert torch.allclose(out["image"][0, 0, 15, 17], torch.tensor(200.0))
