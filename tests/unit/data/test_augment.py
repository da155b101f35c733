"""Augmenters of training batches: image crop and flip before normalisation, SpecAugment."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from modelyard.config import schema
from modelyard.data.augment import ImageAugment, SpecAugment, build_augmenters
from modelyard.models.encoders.pixels import Pixels

B, C, H, W = 16, 3, 6, 5
MEAN, STD = [0.2, 0.5, 0.7], [0.1, 0.2, 0.3]


def _images(seed: int = 0) -> torch.Tensor:
    return torch.randint(
        0, 256, (B, C, H, W), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8
    )


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _fill() -> tuple[float, ...]:
    return tuple(m * 255 for m in MEAN)


def test_crop_pads_with_the_channel_mean_so_normalised_padding_is_zero() -> None:
    """Cropping uint8 images before normalising gives what normalising and then cropping with
    zero padding gave (0 = the training mean): each output is some window of that."""
    images = _images()
    crop = ImageAugment("image", _fill(), padding=2)
    pixels = Pixels(MEAN, STD)
    out = pixels(crop({"image": images}, _generator())["image"])
    assert out.shape == (B, C, H, W)
    old_way = nn.functional.pad(pixels(images), (2, 2, 2, 2))  # zeros after normalising
    shifted = 0
    for i in range(B):
        windows = [(dy, dx) for dy in range(5) for dx in range(5)]
        matches = [
            (dy, dx)
            for dy, dx in windows
            if torch.allclose(out[i], old_way[i, :, dy : dy + H, dx : dx + W], rtol=0, atol=1e-5)
        ]
        assert matches, i
        shifted += matches[0] != (2, 2)
    assert shifted > B // 2  # most images moved, so padding was really shown


def test_flip_flips_some_images_horizontally_and_keeps_uint8() -> None:
    images = _images().repeat(2, 1, 1, 1)  # 32 images: both outcomes all but surely occur
    out = ImageAugment("image", _fill(), flip=True)({"image": images}, _generator())["image"]
    assert out.dtype == torch.uint8
    flipped = [torch.equal(out[i], images[i].flip(-1)) for i in range(len(images))]
    kept = [torch.equal(out[i], images[i]) for i in range(len(images))]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert any(flipped) and any(kept)


def test_the_same_generator_state_draws_the_same_augmentation() -> None:
    augment = ImageAugment("image", _fill(), padding=1, flip=True)
    one, two, other = (
        augment({"image": _images()}, _generator(seed))["image"] for seed in (3, 3, 4)
    )
    assert torch.equal(one, two) and not torch.equal(one, other)


def test_spec_augment_masks_spans_and_keeps_the_dtype() -> None:
    x = (torch.randn(64, 1, 8, 16).abs() + 1).half()  # no zeros of its own
    augment = SpecAugment("clip", time_masks=2, time_width=3, freq_masks=1, freq_width=2)
    batch = {"clip": x, "label": torch.zeros(64)}
    out = augment(batch, _generator())
    assert out["label"] is batch["label"] and out["clip"].dtype == torch.float16
    masked = out["clip"]
    zero_frames = (masked == 0).all(dim=2).squeeze(1)  # (64, 16): whole frames masked
    zero_bands = (masked == 0).all(dim=3).squeeze(1)  # (64, 8): whole bands masked
    assert zero_frames.sum(dim=1).max() <= 2 * 3 and zero_bands.sum(dim=1).max() <= 2
    assert zero_frames.any() and zero_bands.any()
    unmasked = ~(zero_frames.unsqueeze(1) | zero_bands.unsqueeze(2)).unsqueeze(1)
    assert torch.equal(masked[unmasked], x[unmasked])


def _feature(kind: str, augment):
    """A real image or audio input's preprocessor with `augment` settings (and, for images,
    the channel means fitting would have found)."""
    from modelyard.data.features.audio import AudioFeature
    from modelyard.data.features.image import ImageFeature

    if kind == "image":
        config = schema.ImageInput(name=kind, type=kind, preprocessing={"augment": augment})
        feature = ImageFeature(config)
        feature.mean = MEAN
        return feature
    config = schema.AudioInput(name=kind, type=kind, preprocessing={"augment": augment})
    return AudioFeature(config)


def test_augmenters_are_built_only_where_the_config_asks_for_them() -> None:
    from modelyard.data.features.tabular import NumberFeature

    number = NumberFeature(schema.NumberInput(name="n", type="number"))
    quiet = [_feature("image", schema.Augment()), _feature("audio", schema.SpecAugment())]
    assert build_augmenters(SimpleNamespace(inputs=[number, *quiet], outputs=[])) == []
    asked = [
        _feature("image", schema.Augment(random_crop=2, horizontal_flip=True)),
        _feature("audio", schema.SpecAugment(time_masks=1, time_width=4)),
    ]
    image, audio = build_augmenters(SimpleNamespace(inputs=[number, *asked], outputs=[]))
    assert image == ImageAugment("image", _fill(), 2, True)
    assert audio == SpecAugment("audio", 1, 4, 0, 8)
