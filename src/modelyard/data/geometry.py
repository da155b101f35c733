"""Geometric augmentation that moves boxes and masks with their image: random zoom, shift and
horizontal flip, one affine transform per image, vectorised over the batch (`grid_sample`).

An augmenter in the sense of `data/augment.py`: (batch {name: (B, ...)}, generator) -> batch,
applied by the batch source to training batches only. In one batch:

    image  (B, C, H, W) uint8 or float, 0..255 before the model's normalisation
    boxes  (B, M, 4) float pixel edges x1, y1, x2, y2 (x2, y2 exclusive), M = most per image
    labels (B, M) long class per box, -1 for padding rows (and for boxes pushed out)
    mask   (B, H, W) long class per pixel

Coordinates: a pixel edge u in [0, W] is n = 2u / W - 1 in `grid_sample`'s normalised space
(align_corners=False), so boxes and images move by the same map. A box keeps its label while
at least `keep_visible` of its moved area stays inside the image; it is clipped to the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

Tensors = dict[str, torch.Tensor]


@dataclass(frozen=True)
class SpatialAugment:
    """Zoom by a factor drawn from `zoom` (1.0, 1.0: none), shift by up to `shift` of the
    image's side in each direction, flip horizontally with probability 0.5 if `flip`.
    `fill`: (C,) the value uncovered image pixels get (each channel's training mean);
    uncovered mask pixels get `mask_fill` (the background class)."""

    image: str
    boxes: str | None = None
    labels: str | None = None
    mask: str | None = None
    zoom: tuple[float, float] = (1.0, 1.0)
    shift: float = 0.0
    flip: bool = False
    fill: tuple[float, ...] = (0.0,)
    mask_fill: int = 0
    keep_visible: float = 0.4

    def __call__(self, batch: Tensors, generator: torch.Generator) -> Tensors:
        images = batch[self.image]
        b, c, h, w = images.shape
        scale, offset = self._draw(b, images.device, generator)
        out = dict(batch)
        out[self.image] = _warp_image(images, scale, offset, self.fill)
        if self.mask is not None:
            out[self.mask] = _warp_mask(batch[self.mask], scale, offset, self.mask_fill)
        if self.boxes is not None:
            boxes, labels = move_boxes(
                batch[self.boxes], batch[self.labels], scale, offset, (h, w), self.keep_visible
            )
            out[self.boxes], out[self.labels] = boxes, labels
        return out

    def _draw(
        self, b: int, device: torch.device, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per image: (B, 2) scale of normalised x and y (negative x: flipped) and (B, 2)
        offset, both of the forward map n_out = scale * n_in + offset."""
        low, high = self.zoom
        zoom = low + (high - low) * torch.rand(b, device=device, generator=generator)
        sign = torch.ones(b, device=device)
        if self.flip:
            flipped = torch.rand(b, device=device, generator=generator) < 0.5
            sign = torch.where(flipped, -1.0, 1.0)
        scale = torch.stack([zoom * sign, zoom], dim=1)
        # a shift of `shift` of the side is 2 * shift in normalised units
        offset = (torch.rand(b, 2, device=device, generator=generator) * 2 - 1) * 2 * self.shift
        return scale, offset


def _grid(scale: torch.Tensor, offset: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """The sampling grid of the inverse map n_in = (n_out - offset) / scale: (B, H, W, 2)."""
    b = scale.shape[0]
    theta = torch.zeros(b, 2, 3, device=scale.device)
    theta[:, 0, 0] = 1 / scale[:, 0]
    theta[:, 1, 1] = 1 / scale[:, 1]
    theta[:, :, 2] = -offset / scale
    return F.affine_grid(theta, list(size), align_corners=False)


def _warp_image(
    images: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor, fill: tuple[float, ...]
) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, W) float32, bilinear; uncovered pixels get `fill` (C,)."""
    c = images.shape[1]
    base = torch.tensor(fill, device=images.device).float().expand(c).reshape(1, c, 1, 1)
    grid = _grid(scale, offset, images.shape)
    moved = F.grid_sample(images.float() - base, grid, mode="bilinear", align_corners=False)
    return moved + base


def _warp_mask(
    mask: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor, fill: int
) -> torch.Tensor:
    """(B, H, W) integer classes -> (B, H, W), nearest neighbour; uncovered pixels get `fill`."""
    b, h, w = mask.shape
    grid = _grid(scale, offset, (b, 1, h, w))
    shifted = (mask.float() - fill).unsqueeze(1)  # 0 where uncovered after the shift back
    moved = F.grid_sample(shifted, grid, mode="nearest", align_corners=False)
    return (moved.squeeze(1) + fill).round().to(mask.dtype)


def move_boxes(
    boxes: torch.Tensor,
    labels: torch.Tensor,
    scale: torch.Tensor,
    offset: torch.Tensor,
    size: tuple[int, int],
    keep_visible: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, M, 4) pixel-edge boxes and (B, M) labels through n_out = scale * n_in + offset:
    corners moved (a flip swaps x1 and x2), clipped to the image; a box with less than
    `keep_visible` of its moved area inside gets label -1 (and stays as clipped)."""
    h, w = size
    extent = torch.tensor([w, h, w, h], device=boxes.device, dtype=torch.float32)
    normal = boxes.float() / extent * 2 - 1  # (B, M, 4)
    s = scale.repeat(1, 2).unsqueeze(1)  # (B, 1, 4): sx, sy, sx, sy
    t = offset.repeat(1, 2).unsqueeze(1)
    moved = (normal * s + t + 1) / 2 * extent  # pixel edges again, corners maybe swapped
    x1 = torch.minimum(moved[..., 0], moved[..., 2])
    x2 = torch.maximum(moved[..., 0], moved[..., 2])
    y1 = torch.minimum(moved[..., 1], moved[..., 3])
    y2 = torch.maximum(moved[..., 1], moved[..., 3])
    area = (x2 - x1) * (y2 - y1)
    cx1, cx2 = x1.clamp(0, w), x2.clamp(0, w)
    cy1, cy2 = y1.clamp(0, h), y2.clamp(0, h)
    visible = (cx2 - cx1) * (cy2 - cy1)
    kept = (labels >= 0) & (visible >= keep_visible * area.clamp_min(1e-6)) & (visible > 0)
    return torch.stack([cx1, cy1, cx2, cy2], dim=-1), torch.where(kept, labels, -1)
