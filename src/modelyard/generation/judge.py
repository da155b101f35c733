"""FID and KID offline: in the feature space of an image classifier trained by modelyard.

The judge is a supervised run (`evaluation.judge`) with one image input and one category
output; its features are the combiner's output, the layer before the classification head
(penultimate features, as Inception's pool layer is for the usual FID). torchmetrics
computes FID and KID with it as the custom feature extractor.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from modelyard.errors import UserError


class Judge(nn.Module):
    """uint8 pixels (B, C, H, W) of any size -> (B, D) features (resized and recoloured to the
    judge's input first). `classes`: the head's class names, in logit order."""

    def __init__(
        self, module: nn.Module, input_name: str, shape: tuple[int, int, int], classes: list[str]
    ):
        super().__init__()
        self.module, self.input_name, self.shape, self.classes = module, input_name, shape, classes
        self.num_features = int(self._hidden(torch.zeros(1, *shape, dtype=torch.uint8)).shape[1])

    def _fit(self, pixels: torch.Tensor) -> torch.Tensor:
        c, h, w = self.shape
        if pixels.shape[1] != c:
            pixels = pixels.float().mean(1, keepdim=True).expand(-1, c, -1, -1)
        if tuple(pixels.shape[-2:]) != (h, w):
            pixels = F.interpolate(pixels.float(), size=(h, w), mode="bilinear", antialias=True)
        return pixels.round().clamp(0, 255).to(torch.uint8)

    def _hidden(self, pixels: torch.Tensor) -> torch.Tensor:
        m = self.module
        encoded = [m.encoders[m.input_names.index(self.input_name)](pixels)]
        return m.combiner(encoded).float()

    @torch.no_grad()
    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self._hidden(self._fit(pixels))

    @torch.no_grad()
    def predict(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B,) the judge's class index of each image."""
        hidden = self._hidden(self._fit(pixels))
        return self.module.heads[0](hidden).argmax(1)


def load_judge(path: Path) -> Judge:
    """The judge of a supervised run directory; a run of another shape is the user's error."""
    from modelyard.api import Model

    where = f"evaluation.judge '{path}'"
    if not path.exists():
        raise UserError(f"{where} does not exist; train the classifier first (modelyard train ...)")
    model = Model.load(path)
    config = model.config
    images = [f for f in getattr(config, "inputs", []) if f.type == "image"]
    outputs = getattr(config, "outputs", [])
    if (
        config.task != "supervised"
        or len(images) != 1
        or len(config.inputs) != 1
        or len(outputs) != 1
        or outputs[0].type != "category"
    ):
        raise UserError(
            f"{where} must be a supervised run with one image input and one category output "
            "(an image classifier trained on the real images)"
        )
    feature = next(p for p in model.preprocessing.inputs if p.name == images[0].name)
    vocab = next(p for p in model.preprocessing.outputs if p.name == outputs[0].name).vocab
    shape = (feature.channels, feature.height, feature.width)
    return Judge(model.module.eval(), images[0].name, shape, list(vocab)).eval()


def fid_kid(
    judge: Judge, real: torch.Tensor, fake: torch.Tensor, batch: int = 500
) -> dict[str, float]:
    """FID and KID (mean over subsets) of two uint8 image sets (N, C, H, W) in the judge's
    feature space."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    subset = min(1000, len(real), len(fake))
    fid = FrechetInceptionDistance(feature=judge, reset_real_features=False)
    with warnings.catch_warnings():  # "will save all extracted features": a few thousand here
        warnings.filterwarnings("ignore", message=".*save all extracted features.*")
        kid = KernelInceptionDistance(feature=judge, subsets=50, subset_size=subset)
    for images, is_real in ((real, True), (fake, False)):
        for at in range(0, len(images), batch):
            part = images[at : at + batch]
            fid.update(part, real=is_real)
            kid.update(part, real=is_real)
    kid_mean, _ = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean)}
