"""How far the canvas segmentation can go when telling garments apart is the hard part: the
mIoU a segmenter would reach with a perfect outline of every object and, as each object's
class, the prediction of a dedicated Fashion-MNIST classifier (a run of
examples/fashion_mnist/config.yaml) on that object's source image.

Each image of the Fashion-MNIST test set counts with its silhouette's pixels (ink above
examples/canvas/prepare.py's threshold and the holes it encloses, as prepare.py paints
masks), so the per-class IoU is that of a canvas whose objects are these images: the
classifier's confusion weighted by area. Background is perfect (IoU 1). Scaling and occlusion
on real canvases make the segmenter's job harder than this, so the figure is an upper bound
for any segmenter whose per-object classification is no better than that classifier's.

    python examples/fashion_mnist/prepare.py && modelyard train examples/fashion_mnist/config.yaml
    python bench/segmentation_ceiling.py --classifier runs/fashion_mnist
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples/canvas"))
from prepare import INK  # noqa: E402  (the canvases' own silhouette threshold)
from scipy.ndimage import binary_fill_holes  # noqa: E402


def silhouette_area(path: Path) -> int:
    return int(binary_fill_holes(np.asarray(Image.open(path)) > INK).sum())


def area_confusion(truth: list[str], predicted: list[str], areas: list[int], classes: list[str]):
    """(C, C) pixels of true class i given class j."""
    index = {c: i for i, c in enumerate(classes)}
    confusion = np.zeros((len(classes), len(classes)))
    for t, p, a in zip(truth, predicted, areas, strict=True):
        confusion[index[t], index[p]] += a
    return confusion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classifier", default="runs/fashion_mnist")
    parser.add_argument("--data", default=str(ROOT / "examples/fashion_mnist/data/test.csv"))
    args = parser.parse_args()

    from modelyard import Model

    table = pd.read_csv(args.data)
    folder = Path(args.data).parent
    located = table.assign(image=[str(folder / p) for p in table["image"]])
    predicted = Model.load(args.classifier).predict(located)["label_prediction"].tolist()
    areas = [silhouette_area(folder / p) for p in table["image"]]
    classes = sorted(table["label"].unique())
    confusion = area_confusion(table["label"].tolist(), predicted, areas, classes)
    hits = np.diag(confusion)
    iou = hits / (confusion.sum(0) + confusion.sum(1) - hits)
    accuracy = float(np.mean(np.asarray(predicted) == table["label"].to_numpy()))
    print(f"classifier accuracy on {len(table)} test images: {accuracy:.4f}")
    for name, value in sorted(zip(classes, iou, strict=True), key=lambda x: x[1]):
        print(f"  IoU {name:<12} {value:.3f}")
    print(f"mIoU without background (miou_objects): {iou.mean():.3f}")
    print(f"mIoU with a perfect background (miou):  {(iou.sum() + 1) / (len(iou) + 1):.3f}")


if __name__ == "__main__":
    main()
