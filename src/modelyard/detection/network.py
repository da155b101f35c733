"""The detector network: image encoder (cnn or resnet) -> FPN-style neck -> CenterNet head.

    images (B, C, H, W) uint8 (or float 0..255, as augmented)
      -> Pixels (the training mean/std)                    (B, C, H, W) float
      -> encoder.feature_pyramid                           [(B, c_i, H / 2^i, W / 2^i)]
      -> neck: 1x1 lateral per level at stride >= s, top-down (upsample + add), 3x3 smoothing
                                                           (B, width, H / s, W / s)
      -> head: 3x3 conv, ReLU, 1x1                         (B, K + 4, H / s, W / s)

The output's channels per cell (the graph ONNX export writes): [0, K) class heatmap logits
(sigmoid: the chance that an object of that class is centred in the cell), [K, K + 2) the
centre's offset within the cell (x, y, in cells), [K + 2, K + 4) log of the box's width and
height in cells. `targets.decode` turns them into boxes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from modelyard.models.encoders.pixels import Pixels

HEAT_PRIOR = 0.01  # the heatmap's initial chance per cell (RetinaNet's focal-loss prior)


def conv_bn(in_channels: int, out_channels: int, kernel: int) -> nn.Sequential:
    """Conv (kernel, same padding) -> BatchNorm -> ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class Neck(nn.Module):
    """Feature pyramid -> one map at stride 2^`first`: FPN's top-down path (Lin et al. 2017)
    over the levels `first`, ..., last."""

    def __init__(self, pyramid_channels: list[int], first: int, width: int):
        super().__init__()
        self.first = first
        self.laterals = nn.ModuleList(nn.Conv2d(c, width, 1) for c in pyramid_channels[first:])
        self.smooth = conv_bn(width, width, 3)

    def forward(self, pyramid: list[torch.Tensor]) -> torch.Tensor:
        """[(B, c_i, H / 2^i, W / 2^i)] -> (B, width, H / 2^first, W / 2^first)."""
        levels = pyramid[self.first :]
        x = self.laterals[-1](levels[-1])
        for lateral, level in zip(reversed(self.laterals[:-1]), reversed(levels[:-1]), strict=True):
            x = lateral(level) + F.interpolate(x, size=level.shape[-2:], mode="nearest")
        return self.smooth(x)


class DetectorNetwork(nn.Module):
    """(B, C, H, W) images -> (B, classes + 4, H / stride, W / stride) (see the module's
    docstring). `encoder`: a FeaturePyramidEncoder (models/encoders/common.py) whose levels
    reach at least down to `stride`."""

    def __init__(
        self,
        pixels: Pixels,
        encoder: nn.Module,
        classes: int,
        stride: int,
        neck_width: int,
        head_width: int,
    ):
        super().__init__()
        self.pixels = pixels
        self.encoder = encoder
        self.classes = classes
        self.stride = stride
        self.neck = Neck(encoder.pyramid_channels, int(math.log2(stride)), neck_width)
        self.head = nn.Sequential(
            conv_bn(neck_width, head_width, 3), nn.Conv2d(head_width, classes + 4, 1)
        )
        with torch.no_grad():  # start every cell at the prior: a stable focal loss
            self.head[-1].bias[:classes].fill_(-math.log((1 - HEAT_PRIOR) / HEAT_PRIOR))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.neck(self.encoder.feature_pyramid(self.pixels(images))))


def build_network(encoder_config, image, classes: int, neck) -> DetectorNetwork:
    """The network for `encoder_config` (schema ImageCnn / ImageResnet), the fitted image
    preprocessor `image` (channels, height, width, mean, std) and the `neck` settings."""
    from modelyard.models.encoders import cnn, resnet

    if encoder_config.type == "cnn":
        body = cnn.ImageCnn(
            image.channels,
            image.height,
            image.width,
            encoder_config.channels,
            encoder_config.kernel_size,
            encoder_config.batch_norm,
            1,  # the pooled head's size: unused here (the pyramid is read before it)
            0.0,
            encoder_config.activation,
        )
    else:
        body = resnet.ImageResnet(
            image.channels, encoder_config.channels, encoder_config.blocks, 0.0
        )
    pixels = Pixels(image.mean, image.std)
    return DetectorNetwork(pixels, body, classes, neck.stride, neck.width, neck.head_width)
