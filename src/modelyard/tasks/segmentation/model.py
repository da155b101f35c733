"""The segmenter: an image encoder's feature pyramid into a U-Net decoder, a class score per pixel."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from modelyard.tasks.segmentation.feature import IGNORE


def _conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UNetDecoder(nn.Module):
    """[(B, pyramid[i], H / 2^i, W / 2^i) per stage i, finest first] -> (B, classes, H, W).

    From the coarsest stage up: upsample (bilinear, to the next stage's size), concatenate
    that stage's map (the skip connection), `convs` 3x3 conv-BN-ReLU layers of `channels[i]`;
    the coarsest stage gets its own convs first. A 1x1 convolution gives the class scores at
    stage 0's resolution (the input's, for cnn and resnet encoders)."""

    def __init__(self, pyramid: list[int], channels: list[int], classes: int, convs: int = 1):
        super().__init__()
        if len(channels) != len(pyramid):
            raise ValueError("one decoder width per encoder stage")
        top = len(pyramid) - 1
        self.bottom = nn.Sequential(
            _conv(pyramid[top], channels[top]),
            *(_conv(channels[top], channels[top]) for _ in range(convs - 1)),
        )
        self.ups = nn.ModuleList(
            nn.Sequential(
                _conv(channels[i + 1] + pyramid[i], channels[i]),
                *(_conv(channels[i], channels[i]) for _ in range(convs - 1)),
            )
            for i in range(top)
        )
        self.classify = nn.Conv2d(channels[0], classes, 1)

    def forward(self, maps: list[torch.Tensor]) -> torch.Tensor:
        x = self.bottom(maps[-1])
        for i in reversed(range(len(self.ups))):
            skip = maps[i]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = self.ups[i](torch.cat([x, skip], dim=1))
        return self.classify(x)


class Segmenter(nn.Module):
    """batch {image input: (B, C, H, W) uint8 or float 0..255} -> {mask output: (B, K, H, W)
    class scores (logits), K = classes with background}. `encoder` is the image encoder
    (`Pixels` then a `FeaturePyramidEncoder`); `input_names`/`encoders` as in `YardModel`.
    `flip_test`: out of training, the scores are the mean of the image's and those of the
    mirrored image (mirrored back)."""

    def __init__(
        self,
        input_name: str,
        encoder: nn.Module,
        output_name: str,
        decoder: nn.Module,
        flip_test: bool = False,
    ):
        super().__init__()
        self.input_names, self.output_names = [input_name], [output_name]
        self.encoders = nn.ModuleList([encoder])
        self.decoder = decoder
        self.flip_test = flip_test

    def pack(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Table tensors -> model inputs: the images."""
        return {self.input_names[0]: tensors[self.input_names[0]]}

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        images = batch[self.input_names[0]]
        logits = self._scores(images)
        if self.flip_test and not self.training:
            logits = (logits + self._scores(images.flip(-1)).flip(-1)) / 2
        return {self.output_names[0]: logits}

    def _scores(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images -> (B, K, H, W) class scores."""
        pixels, body = self.encoders[0][0], self.encoders[0][1]
        logits = self.decoder(body.feature_pyramid(pixels(images)))  # (B, K, H', W')
        if logits.shape[-2:] != images.shape[-2:]:
            logits = F.interpolate(
                logits, size=images.shape[-2:], mode="bilinear", align_corners=False
            )
        return logits


class MaskLoss:
    """(B, K, H, W) logits, (B, H, W) class per pixel (255: ignored) -> mean cross-entropy over
    the labelled pixels, plus `dice_weight` times the soft Dice loss (1 - mean over classes of
    2|P∩T| / (|P| + |T|), with softmax probabilities, over the batch's labelled pixels)."""

    def __init__(self, dice_weight: float = 0.0):
        self.dice_weight = dice_weight

    def __call__(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, target = logits.float(), target.long()
        loss = F.cross_entropy(logits, target, ignore_index=IGNORE)
        if not self.dice_weight:
            return loss
        return loss + self.dice_weight * soft_dice_loss(logits, target)

    def from_terms(self, terms: torch.Tensor) -> float:
        """The loss of a whole split from its rows' `loss_terms` (N, 2 + 3K): the same value
        as calling the loss on all its logits at once, without holding them."""
        total = terms.sum(dim=0)
        classes = (len(total) - 2) // 3
        loss = float(total[0] / total[1]) if total[1] > 0 else float("nan")
        if not self.dice_weight:
            return loss
        overlap, found, truth = total[2:].split(classes)
        union = found + truth
        present = union > 0
        if not bool(present.any()):
            return loss
        dice = 2 * overlap[present] / union[present].clamp_min(1e-6)
        return loss + self.dice_weight * float(1 - dice.mean())


def loss_terms(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, K, H, W) logits, (B, H, W) targets (255 ignored) -> (B, 2 + 3K) float64 per image:
    the sum of its labelled pixels' cross-entropy, their count, and per class the soft Dice
    loss's sums (probability on the true class's pixels, probability, true pixels). Summed over
    a split's images they give `MaskLoss.from_terms` its loss."""
    logits, target = logits.float(), target.long()
    batch, classes = logits.shape[:2]
    valid = (target != IGNORE).flatten(1)  # (B, HW)
    truth = target.clamp(max=classes - 1).flatten(1)  # (B, HW), ignored pixels weigh 0
    log_probs = logits.log_softmax(dim=1).flatten(2)  # (B, K, HW)
    probs = log_probs.exp() * valid.unsqueeze(1)
    on_truth = probs.gather(1, truth.unsqueeze(1)).squeeze(1)  # (B, HW)
    entropy = -log_probs.gather(1, truth.unsqueeze(1)).squeeze(1) * valid
    per_class = torch.zeros(batch, classes)
    return torch.cat(
        [
            entropy.sum(dim=1, keepdim=True).double(),
            valid.sum(dim=1, keepdim=True).double(),
            per_class.scatter_add(1, truth, on_truth).double(),
            probs.sum(dim=2).double(),
            per_class.scatter_add(1, truth, valid.float()).double(),
        ],
        dim=1,
    )


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, K, H, W) logits, (B, H, W) long targets (255 ignored) -> 1 - mean soft Dice over
    the classes present in the batch's targets or predictions."""
    classes = logits.shape[1]
    valid = (target != IGNORE).unsqueeze(1).float()  # (B, 1, H, W)
    probs = logits.softmax(dim=1) * valid
    onehot = F.one_hot(target.clamp(max=classes - 1), classes).permute(0, 3, 1, 2) * valid
    overlap = (probs * onehot).sum(dim=(0, 2, 3))
    total = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    present = total > 0
    dice = 2 * overlap[present] / total[present].clamp_min(1e-6)
    return 1 - dice.mean() if bool(present.any()) else logits.sum() * 0
