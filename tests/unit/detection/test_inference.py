"""Running the detector over a split: batches, the held-out loss, flip testing."""

from __future__ import annotations

import math

import torch
from torch import nn

from modelyard.detection.inference import Decoding, run_detector


class _Ramp(nn.Module):
    """A 'network' whose one heatmap is the image itself (so mirroring the image mirrors the
    heatmap) plus a left-to-right ramp (which does not mirror); offsets 0, boxes 2x2 cells."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, _, h, w = images.shape
        ramp = torch.linspace(-8, 8, w).expand(b, 1, h, w)
        heat = images.float() / 64 - 2 + ramp
        regress = torch.cat([torch.zeros(b, 2, h, w), torch.full((b, 2, h, w), math.log(2))], 1)
        return torch.cat([heat, regress], dim=1)


def test_flip_testing_averages_the_mirrored_heatmap_and_keeps_the_boxes():
    images = torch.zeros(3, 1, 8, 8, dtype=torch.uint8)
    images[:, :, 3, 5] = 255
    tensors = {"image": images}
    plain, _, _ = run_detector(_Ramp(), tensors, 2, Decoding(1, (8, 8), 1, None), "cpu", False)
    flipped, loss, _ = run_detector(
        _Ramp(), tensors, 2, Decoding(1, (8, 8), 1, None, True), "cpu", False
    )
    # plain: the ramp pulls the peak to the right edge; averaged with the mirror, the ramp
    # cancels and the object's own cell wins
    assert abs(plain.boxes[0, 0, 0].item() - 6) < 1e-3  # the right edge's cell, 7, less half a box
    torch.testing.assert_close(flipped.boxes[:, 0], torch.tensor([[4.0, 2, 6, 4]]).expand(3, 4))
    expected = (
        torch.sigmoid(torch.tensor(255 / 64 - 2 + 24 / 7))
        + torch.sigmoid(torch.tensor(255 / 64 - 2 - 24 / 7))
    ) / 2
    torch.testing.assert_close(flipped.scores[:, 0], expected.expand(3), atol=1e-4, rtol=0)
    assert loss != loss  # NaN: no boxes to measure against


def test_the_held_out_loss_is_the_mean_over_images_whatever_the_batch():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (5, 1, 8, 8), dtype=torch.uint8)
    boxes = torch.tensor([[1.0, 1, 5, 6]]).expand(5, 1, 4)
    tensors = {"image": images, "boxes": boxes, "labels": torch.zeros(5, 1, dtype=torch.long)}
    decoding = Decoding(1, (8, 8), 3, 0.5)
    _, by_two, _ = run_detector(_Ramp(), tensors, 2, decoding, "cpu", False)
    _, at_once, _ = run_detector(_Ramp(), tensors, 5, decoding, "cpu", False)
    assert abs(by_two - at_once) < 1e-4 * abs(at_once)
