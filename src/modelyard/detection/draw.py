"""Predicted boxes drawn on an image (report.html's overlays), as a base64 PNG."""

from __future__ import annotations

import base64
import io

import torch

ZOOM = 3  # small images are drawn larger, so the labels can be read
COLOURS = (
    "#e6194b",
    "#3cb44b",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#42d4f4",
    "#f032e6",
    "#bfef45",
    "#fabed4",
    "#469990",
)


def overlay_png(
    image: torch.Tensor, boxes: torch.Tensor, names: list[str], scores: torch.Tensor
) -> str:
    """(C, H, W) uint8 image with boxes (n, 4) model pixels, their class names and scores ->
    base64 PNG."""
    from PIL import Image, ImageDraw

    pixels = image.to(torch.uint8).permute(1, 2, 0).numpy()
    picture = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).convert("RGB")
    picture = picture.resize(
        (picture.width * ZOOM, picture.height * ZOOM), Image.Resampling.NEAREST
    )
    pen = ImageDraw.Draw(picture)
    for box, name, score in zip(boxes.tolist(), names, scores.tolist(), strict=True):
        colour = COLOURS[sum(map(ord, name)) % len(COLOURS)]  # stable across runs
        x1, y1, x2, y2 = (v * ZOOM for v in box)
        pen.rectangle([x1, y1, x2 - 1, y2 - 1], outline=colour, width=2)
        pen.text((x1 + 2, y1 + 1), f"{name} {score:.2f}", fill=colour)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
