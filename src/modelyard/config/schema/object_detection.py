"""The object-detection task's config: images with boxes (a CSV of image,x1,y1,x2,y2,label or
COCO JSON), the image preprocessing, the encoder with its neck and CenterNet head, training
augmentation, and how boxes are decoded."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from modelyard.config.schema.common import Probability, Strict, tagged_union
from modelyard.config.schema.encoders import ImageCnn, ImageResnet
from modelyard.config.schema.trainer import (
    AdamW,
    EarlyStopping,
    Optimizer,
    Schedule,
    Tracking,
    Trainer,
)

Path = Annotated[str, Field(min_length=1)]
Column = Annotated[str, Field(min_length=1)]


class BoxColumns(Strict):
    """The columns of a box table: one row per box, the rows of an image grouped by its path
    (relative to the table's folder). x1, y1, x2, y2: pixel edges of the image as stored (x2,
    y2 exclusive: a box of the whole W x H image is 0, 0, W, H)."""

    image: Column = "image"
    x1: Column = "x1"
    y1: Column = "y1"
    x2: Column = "x2"
    y2: Column = "y2"
    label: Column = "label"


class DetectionData(Strict):
    """Box files relative to the config's folder: `.csv`/`.tsv` tables (`columns`) or COCO
    JSON (`.json`: `images`, `annotations` with `bbox` [x, y, width, height], `categories`;
    image `file_name`s relative to the JSON's folder, or to `image_folder`). `train` with
    `validation` and `test` (optional). An image without boxes is a row with empty box
    fields (CSV) or an image without annotations (COCO)."""

    train: Path
    validation: Path | None = None
    test: Path | None = None
    columns: BoxColumns = BoxColumns()
    image_folder: Path | None = None


class DetectionImages(Strict):
    """Images are resized to `height` x `width` (default: the first training image's size;
    boxes are scaled with them), `grayscale` or `rgb` (`auto`: from the first image) and
    normalised with the training images' mean and std (`standard`) or to 0..1 (`scale`)."""

    height: PositiveInt | None = None
    width: PositiveInt | None = None
    color: Literal["auto", "grayscale", "rgb"] = "auto"
    normalization: Literal["standard", "scale"] = "standard"


DetectionEncoder = tagged_union(ImageCnn, ImageResnet)


class Neck(Strict):
    """The FPN-style neck: the encoder's pyramid levels at stride >= `stride` merged top-down
    into one map of `width` channels at `stride` pixels per cell, where the head (a 3x3 conv
    of `head_width` channels) predicts per cell a heatmap per class, the centre's offset and
    the box's size. `stride` 4 suits objects from about 8 pixels; the encoder needs at least
    log2(stride) + 1 stages. Cost: the neck and head run at (H / stride) x (W / stride)."""

    stride: Literal[1, 2, 4, 8, 16] = 4
    width: PositiveInt = 64
    head_width: PositiveInt = 64


class DetectionModel(Strict):
    """`encoder`: `cnn` (conv-BN-ReLU-maxpool per stage; the default, cheap) or `resnet`
    (residual stages; deeper, slower). Each stage halves the resolution; the deepest stage's
    receptive field should cover the largest objects (five cnn stages: about 70 pixels)."""

    encoder: DetectionEncoder = ImageCnn(channels=[16, 32, 64, 96, 128])
    neck: Neck = Neck()


class DetectionAugment(Strict):
    """Training-time only (data/geometry.SpatialAugment): zoom by a factor drawn from `zoom`,
    shift by up to `shift` of the side, flip horizontally if `horizontal_flip`; the boxes move
    with the image, and a box less than `keep_visible` of whose area stays inside is dropped."""

    zoom: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = (1.0, 1.0)
    shift: Annotated[float, Field(ge=0, le=0.5)] = 0.0
    horizontal_flip: bool = False
    keep_visible: Probability = 0.4


class Detections(Strict):
    """How the heatmap becomes boxes: the `top_k` highest peaks per image, then class-aware
    non-maximum suppression at IoU `nms_iou` (null: none; CenterNet's peaks rarely need it).
    `predict` and `serve` return the boxes scoring at least `min_score`; mAP is measured on
    all top_k (as COCO evaluation expects ranked candidates). `flip_test`: average each
    class heatmap with that of the mirrored image (CenterNet's flip testing; worth it when
    training flips images too): about a point more mAP for twice the network's time."""

    top_k: PositiveInt = 100
    nms_iou: Probability | None = 0.6
    min_score: Probability = 0.3
    flip_test: bool = False


class DetectionTrainer(Trainer):
    """As `trainer` elsewhere, with detection defaults (AdamW 2e-3 with a cosine schedule,
    batches of 32, the epoch best in validation map_50 kept)."""

    epochs: PositiveInt = 30
    optimizer: Optimizer = AdamW(lr=2e-3, weight_decay=1e-4)
    schedule: Schedule = Schedule(type="cosine", warmup_steps=100)
    eval_batch_size: PositiveInt = 64
    early_stopping: EarlyStopping | None = EarlyStopping(metric="map_50", patience=5)


class ObjectDetectionConfig(Strict):
    """Object detection: boxes with classes in images (CenterNet-style, anchor-free)."""

    task: Literal["object_detection"]
    name: str = "run"
    data: DetectionData
    images: DetectionImages = DetectionImages()
    model: DetectionModel = DetectionModel()
    augment: DetectionAugment = DetectionAugment()
    detections: Detections = Detections()
    trainer: DetectionTrainer = DetectionTrainer()
    tracking: Tracking = Tracking()
