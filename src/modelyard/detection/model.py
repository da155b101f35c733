"""The Python API of object detection: train a CenterNet-style detector on images with boxes,
measure mAP, predict boxes with scores.

`Model.from_config` returns an `ObjectDetector` for `task: object_detection` configs (and
`Model.load` for such a run). Training runs through the shared skeleton (fitting.Fitting) and
loop (train/loop.py): same run directory, checkpoints, --resume, early stopping and `keep:
best` on the validation map_50; test is measured once, at the end.

model/ holds modelyard.json (the resolved config), preprocessing.json (the image size,
channels, mean and std, and the class names in code order), weights.safetensors, meta.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard import run
from modelyard.detection.data import BoxSet
from modelyard.errors import UserError
from modelyard.fitting import Fitting
from modelyard.train.progress import log

PREDICTION_COLUMNS = ("image", "x1", "y1", "x2", "y2", "label", "score")
SPLITS = ("train", "validation", "test")
OVERLAYS = 6  # test images drawn with their predicted boxes in report.html


@dataclass
class _Split:
    """A split's images as the model sees them: tensors {image (N, C, H, W) uint8, boxes
    (N, M, 4) float32 in model pixels, labels (N, M) long, -1 padding} and `scale` (N, 2),
    model pixels per stored pixel (x, y)."""

    boxes: BoxSet
    tensors: dict[str, torch.Tensor]
    scale: np.ndarray


class ObjectDetector(Fitting):
    """An image encoder's feature pyramid, an FPN-style neck and a CenterNet head
    (detection/network.py), trained with CenterNet's loss (detection/targets.py)."""

    reads_from_config = "object detection reads its box files from the config (data.train)"

    def __init__(self, config, base_dir: Path | None = None):
        self.config = config
        self.base_dir = base_dir or Path.cwd()
        self.image = None  # the fitted ImageFeature (size, channels, mean, std)
        self.classes: list[str] = []
        self.module: torch.nn.Module | None = None
        self.metrics: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []

    # ------------------------------------------------------------ the steps of Fitting

    def _prepare(self, data, saved_run: Path | None, procs) -> dict[str, _Split]:
        files = {name: getattr(self.config.data, name) for name in SPLITS}
        from modelyard.detection.data import image_sizes

        sets = {name: self._read(self.base_dir / f) for name, f in files.items() if f}
        sizes = {name: image_sizes(boxes) for name, boxes in sets.items()}  # files exist
        if saved_run is not None:  # a resume keeps the preprocessing it started with
            self._load_state(run.read_json(saved_run / run.MODEL_DIR / "preprocessing.json"))
        else:
            self._fit_preprocessing(sets["train"])
        prepared = {name: self._tensors(boxes, sizes=sizes[name]) for name, boxes in sets.items()}
        if procs.is_main:
            sizes = ", ".join(
                f"{len(p.boxes)} {name} images ({int((p.tensors['labels'] >= 0).sum())} boxes)"
                for name, p in prepared.items()
            )
            log(f"data: {sizes}; {len(self.classes)} classes")
        return prepared

    def _read(self, path: Path, labelled: bool = True) -> BoxSet:
        from modelyard.detection.data import read_boxes

        folder = self.config.data.image_folder
        return read_boxes(
            path, self.config.data.columns, self.base_dir / folder if folder else None, labelled
        )

    def _fit_preprocessing(self, train: BoxSet) -> None:
        from modelyard.data.features.image import ImageFeature

        self.classes = sorted({name for names in train.labels for name in names})
        if not self.classes:
            raise UserError(f"data file '{train.source}' has no boxes to learn from")
        self.image = ImageFeature(self._image_input())
        self.image.fit(pd.Series(train.paths))

    def _image_input(self):
        from modelyard.config.schema.inputs import ImageInput, ImagePreprocessing

        settings = self.config.images.model_dump()
        return ImageInput(name="image", type="image", preprocessing=ImagePreprocessing(**settings))

    def _tensors(self, boxes: BoxSet, labelled: bool = True, sizes=None) -> _Split:
        """`sizes`: (N, 2) the images' stored width and height, where already read."""
        from modelyard.detection.data import class_codes, image_sizes, padded

        sizes = image_sizes(boxes) if sizes is None else sizes
        scale = np.array([self.image.width, self.image.height]) / sizes
        codes = class_codes(boxes, self.classes) if labelled and boxes.labelled else None
        images = self.image.transform(pd.Series(boxes.paths))
        tensors = {"image": images}
        if codes is not None:
            tensors["boxes"], tensors["labels"] = padded(boxes, codes, scale)
        return _Split(boxes, tensors, scale)

    def _build(self, prepared) -> torch.nn.Module:
        from modelyard.detection.network import build_network

        return build_network(
            self.config.model.encoder, self.image, len(self.classes), self.config.model.neck
        )

    def _objective(self, prepared):
        from modelyard.detection.targets import detection_loss

        stride = self.config.model.neck.stride

        def objective(network, batch) -> torch.Tensor:
            return detection_loss(network(batch["image"]), batch["boxes"], batch["labels"], stride)

        return objective

    def _validation(self, prepared, device: torch.device, bf16: bool):
        if "validation" not in prepared:
            return None
        part = prepared["validation"]
        return lambda network: self._measure(network, part, device, bf16)[0]

    def _epoch_metrics(self) -> tuple[str, ...]:
        return ("map_50", "map")

    def _train_source(self, prepared):
        from modelyard.data.source import InMemorySource

        settings = self.config.trainer
        tensors = prepared["train"].tensors
        return InMemorySource(tensors, settings.batch_size, settings.seed, self._augmenters())

    def _augmenters(self) -> list:
        from modelyard.data.geometry import SpatialAugment

        a = self.config.augment
        if a.zoom == (1.0, 1.0) and a.shift == 0 and not a.horizontal_flip:
            return []
        fill = tuple(m * 255.0 for m in self.image.mean)  # the training mean: 0 once normalised
        augment = SpatialAugment(
            "image",
            "boxes",
            "labels",
            None,
            a.zoom,
            a.shift,
            a.horizontal_flip,
            fill,
            keep_visible=a.keep_visible,
        )
        return [augment]

    def _final_metrics(self, prepared, device: torch.device) -> dict[str, Any]:
        from modelyard.train.precision import use_bf16

        bf16 = use_bf16(self.config.trainer.precision, device)
        network = self.module.to(device)
        self.metrics, details = {}, {}
        for name in ("validation", "test"):
            if name in prepared:
                self.metrics[name], found = self._measure(network, prepared[name], device, bf16)
                details[name] = {"boxes": {"figures": self._overlays(prepared[name], found)}}
        return {"test": details["test"]} if "test" in details else details

    def _save_start(self, run_dir: Path, prepared) -> None:
        run.write_config(run_dir, self.config)
        folder = run_dir / run.MODEL_DIR
        folder.mkdir(parents=True, exist_ok=True)
        run.write_json(folder / "preprocessing.json", self._state())  # a resume reads it back

    # ------------------------------------------------------------ measuring

    def _decoding(self):
        from modelyard.detection.inference import Decoding

        d = self.config.detections
        size = (self.image.height, self.image.width)
        return Decoding(self.config.model.neck.stride, size, d.top_k, d.nms_iou, d.flip_test)

    def _run(self, network, tensors, device, bf16: bool):
        """(detections, mean loss, seconds) of the network over `tensors` (inference.py)."""
        from modelyard.detection.inference import run_detector

        batch = self.config.trainer.eval_batch_size
        return run_detector(network, tensors, batch, self._decoding(), device, bf16)

    def _measure(self, network, part: _Split, device, bf16: bool) -> tuple[dict[str, float], Any]:
        """({loss, map_50, map, rows, seconds, images_per_second}, detections)."""
        from modelyard.detection.metrics import mean_average_precision

        found, loss, seconds = self._run(network, part.tensors, device, bf16)
        scores = mean_average_precision(found, part.tensors["boxes"], part.tensors["labels"])
        n = len(part.boxes)
        result = {"loss": loss, **scores, "rows": n, "seconds": seconds}
        result["images_per_second"] = n / max(seconds, 1e-9)
        return result, found

    def _overlays(self, part: _Split, found) -> list[dict[str, Any]]:
        from modelyard.detection.draw import overlay_png

        figures = []
        for i in range(min(OVERLAYS, len(part.boxes))):
            keep = (found.labels[i] >= 0) & (found.scores[i] >= self.config.detections.min_score)
            names = [self.classes[c] for c in found.labels[i][keep].tolist()]
            png = overlay_png(
                part.tensors["image"][i], found.boxes[i][keep], names, found.scores[i][keep]
            )
            figures.append(
                {
                    "caption": f"{Path(part.boxes.paths[i]).name}: predicted boxes",
                    "png": png,
                    "wide": False,
                }
            )
        return figures

    # ------------------------------------------------------------ applying

    def _bf16(self) -> bool:
        from modelyard.train.precision import use_bf16

        return use_bf16(self.config.trainer.precision, torch.device("cpu"))

    def evaluate(self, data: Any) -> dict[str, float]:
        """map_50, map (COCO's mAP@[0.5:0.95]), loss and images_per_second on a box file."""
        part = self._tensors(self._read(Path(data)))
        if "boxes" not in part.tensors:
            raise UserError(f"data file '{data}' has no boxes to evaluate against")
        found, _ = self._measure(self.module, part, torch.device("cpu"), self._bf16())
        return found

    def predict(self, data: Any, **options: Any) -> pd.DataFrame:
        """One row per box scoring at least detections.min_score: image (as the file names
        it: the table's image column, COCO's file_name, or the image file's path),
        x1, y1, x2, y2 (pixel edges of the image as stored, x2/y2 exclusive), label, score.
        `data`: a box or image table (its image column; a label column must name known
        classes), COCO JSON, an image file or a folder of images."""
        boxes = self._read(Path(data), labelled=False)
        return self._box_rows(self._tensors(boxes), boxes.names or boxes.paths)

    def detect(self, paths: list[str]) -> pd.DataFrame:
        """`predict`'s rows for image files (serve)."""
        from modelyard.detection.data import _image_files

        sets = [_image_files(Path(p)) for p in paths]
        boxes = BoxSet(
            "request",
            [s.paths[0] for s in sets],
            [s.where[0] for s in sets],
            [s.boxes[0] for s in sets],
            [[] for _ in sets],
            False,
        )
        return self._box_rows(self._tensors(boxes, labelled=False), paths)

    def _box_rows(self, part: _Split, names: list[str]) -> pd.DataFrame:
        images = {"image": part.tensors["image"]}
        found, _, _ = self._run(self.module, images, torch.device("cpu"), self._bf16())
        keep = (found.labels >= 0) & (found.scores >= self.config.detections.min_score)
        image, slot = keep.nonzero(as_tuple=True)
        scale = torch.from_numpy(part.scale).float().repeat(1, 2)[image]  # model px per stored px
        coords = (found.boxes[image, slot] / scale).numpy().round(2)
        order = np.lexsort((-found.scores[image, slot].numpy(), image.numpy()))
        frame = pd.DataFrame(
            {
                "image": np.asarray(names, dtype=object)[image.numpy()],
                "x1": coords[:, 0],
                "y1": coords[:, 1],
                "x2": coords[:, 2],
                "y2": coords[:, 3],
                "label": np.asarray(self.classes, dtype=object)[found.labels[image, slot].numpy()],
                "score": found.scores[image, slot].numpy().round(4),
            }
        )
        return frame.iloc[order].reset_index(drop=True)[list(PREDICTION_COLUMNS)]

    def create_app(self, **options: Any):
        """`modelyard serve`'s app (detection/serve.py)."""
        from modelyard.detection.serve import create_detection_app

        return create_detection_app(self, **options)

    def export_network(self, fmt: str, out: Path, data: Any = None) -> dict[str, Any]:
        """`modelyard export`: the network as ONNX (detection/export.py) or safetensors."""
        from modelyard.detection.export import export_detector

        return export_detector(self, fmt, out)

    def require(self, capability: str, tool: str) -> None:
        if capability in ("serve", "export"):
            return
        raise UserError(f"{tool} works on supervised runs; this is an object detection run")

    def generate(self, prompt: str, **options: Any) -> str:
        raise UserError(
            "generate needs a causal language model (task: language_model); this is an object detection run"
        )

    # ------------------------------------------------------------ saving

    def _state(self) -> dict[str, Any]:
        return {"image": self.image.state(), "classes": self.classes}

    def _load_state(self, state: dict[str, Any]) -> None:
        from modelyard.data.features.image import ImageFeature

        self.image = ImageFeature(self._image_input())
        self.image.load_state(state["image"])
        self.classes = list(state["classes"])

    def save(self, directory: str | Path) -> None:
        """The whole model folder (see the module's docstring)."""
        import modelyard
        from modelyard.models.size import model_size

        meta = {
            "modelyard_version": modelyard.__version__,
            "torch_version": torch.__version__,
            "task": "object_detection",
            "classes": len(self.classes),
            "parameters": model_size(self.module),
        }
        run.save_model(
            Path(directory),
            self.config.model_dump(mode="json"),
            self._state(),
            self.module.state_dict(),
            meta,
        )

    @classmethod
    def load(cls, folder: Path) -> ObjectDetector:
        model, weights = cls._open_saved(folder)
        model._load_state(run.read_json(folder / "preprocessing.json"))
        return model._finish_loading(model._build(None), weights)
