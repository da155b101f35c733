"""Reading box files and checking them: a table (CSV/TSV/Parquet/JSON lines) with one row per
box, or COCO JSON. Problems are the user's to fix and name their file and row: a missing
column, a coordinate that is not a number, a degenerate box (x2 <= x1 or y2 <= y1), a box
outside its image, a missing image file, an unknown class (evaluate / predict).

Coordinates are pixel edges of the image as stored (x2, y2 exclusive).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modelyard.errors import UserError

COORDINATES = ("x1", "y1", "x2", "y2")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass
class BoxSet:
    """N images: their paths, how errors name each (`where`: file and row), and per image its
    boxes (m_i, 4) float64 and class names (m_i,) as read; `labelled`: the file has boxes;
    `names`: each image as the file writes it (predictions name it so; default the path)."""

    source: str
    paths: list[str]
    where: list[str]
    boxes: list[np.ndarray]
    labels: list[list[str]]
    labelled: bool
    names: list[str] | None = None

    def __len__(self) -> int:
        return len(self.paths)


def read_boxes(
    path: Path, columns, image_folder: Path | None = None, labelled: bool = True
) -> BoxSet:
    """The box file at `path` (table or `.json` COCO); `labelled` False: only the images are
    needed (predict), box columns are read where present. A folder or an image file: its
    images, unlabelled."""
    if not path.exists():
        raise UserError(f"data file '{path}' does not exist")
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return _image_files(path)
    if path.suffix.lower() == ".json":
        return _read_coco(path, image_folder or path.parent)
    return _read_table(path, columns, image_folder or path.parent, labelled)


def _image_files(path: Path) -> BoxSet:
    files = (
        [path]
        if path.is_file()
        else sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    )
    if not files:
        raise UserError(f"folder '{path}' has no image files ({', '.join(IMAGE_SUFFIXES)})")
    empty = [np.zeros((0, 4))] * len(files)
    return BoxSet(
        str(path),
        [str(f) for f in files],
        [f"'{f}'" for f in files],
        empty,
        [[]] * len(files),
        False,
    )


def _read_frame(path: Path) -> pd.DataFrame:
    from modelyard.data.read import read_table

    if path.suffix.lower() in (".csv", ".tsv"):
        separator = "\t" if path.suffix.lower() == ".tsv" else ","
        try:
            return pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False)
        except (ValueError, OSError) as e:
            raise UserError(f"data file '{path}' could not be read: {e}") from None
    return read_table(path).astype(str)


def _read_table(path: Path, columns, folder: Path, labelled: bool) -> BoxSet:
    frame = _read_frame(path)
    wanted = {"image": columns.image, **{c: getattr(columns, c) for c in COORDINATES}}
    wanted["label"] = columns.label
    missing = [name for name in wanted.values() if name not in frame.columns]
    has_boxes = not any(wanted[k] in missing for k in (*COORDINATES, "label"))
    if columns.image in missing or (labelled and missing):
        raise UserError(
            f"data file '{path}': missing column(s) {', '.join(missing)}; a box file has the "
            f"columns {','.join(wanted.values())} (one row per box; data.columns names them)"
        )
    if len(frame) == 0:
        raise UserError(f"data file '{path}' has no rows")
    images = frame[columns.image].str.strip()
    empty = images == ""
    if empty.any():
        row = int(np.flatnonzero(empty)[0]) + 1
        raise UserError(f"data file '{path}' row {row}: no image path in column '{columns.image}'")
    coords = _coordinates(frame, path, [wanted[c] for c in COORDINATES]) if has_boxes else None
    return _group(
        path, folder, images, coords, frame[columns.label].str.strip() if has_boxes else None
    )


def _coordinates(frame: pd.DataFrame, path: Path, names: list[str]) -> np.ndarray:
    """(R, 4) float64, NaN for a box-less row (every box field empty); bad values raise."""
    text = frame[names].apply(lambda s: s.str.strip())
    blank = (text == "").to_numpy()
    values = text.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & ~blank
    partial = blank.any(1) & ~blank.all(1)
    if bad.any() or partial.any():
        row = int(np.flatnonzero(bad.any(1) | partial)[0])
        column = names[int(np.flatnonzero(bad[row] | blank[row])[0])]
        raise UserError(
            f"data file '{path}' row {row + 1}: column '{column}' is "
            f"'{text[column].iloc[row]}', not a number (a row without a box leaves all of "
            f"{', '.join(names)} and the label empty)"
        )
    wide = values[:, 2] <= values[:, 0]
    tall = values[:, 3] <= values[:, 1]
    if (wide | tall).any():
        row = int(np.flatnonzero(wide | tall)[0])
        x1, y1, x2, y2 = values[row]
        side = "x2 must be greater than x1" if wide[row] else "y2 must be greater than y1"
        raise UserError(
            f"data file '{path}' row {row + 1}: degenerate box ({x1:g}, {y1:g}, {x2:g}, "
            f"{y2:g}): {side} (x2, y2 are the exclusive right and bottom pixel edges)"
        )
    return values


def _group(path: Path, folder: Path, images: pd.Series, coords, labels) -> BoxSet:
    """One entry per distinct image path, in order of first appearance."""
    codes, uniques = pd.factorize(images)
    first = np.zeros(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    boxes, names = [[] for _ in uniques], [[] for _ in uniques]
    if coords is not None:
        label_values = labels.to_numpy()
        for row, code in enumerate(codes):
            if not np.isnan(coords[row, 0]):
                if label_values[row] == "":
                    raise UserError(f"data file '{path}' row {row + 1}: the box has no label")
                boxes[code].append(coords[row])
                names[code].append(label_values[row])
    return BoxSet(
        str(path),
        [str(folder / p) for p in uniques],
        [f"data file '{path}' row {r + 1}" for r in first],
        [np.array(b, dtype=np.float64).reshape(-1, 4) for b in boxes],
        names,
        coords is not None,
        [str(p) for p in uniques],
    )


def _read_coco(path: Path, folder: Path) -> BoxSet:
    """COCO JSON: images {id, file_name}, annotations {image_id, bbox [x, y, w, h],
    category_id}, categories {id, name}."""
    try:
        coco = json.loads(path.read_text(encoding="utf-8"))
        images = {im["id"]: im["file_name"] for im in coco["images"]}
        categories = {c["id"]: c["name"] for c in coco.get("categories", [])}
        annotations = coco.get("annotations", [])
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(
            f"data file '{path}' is not COCO JSON (images with id and file_name, annotations, "
            f"categories): {e}"
        ) from None
    order = list(images)
    boxes = {i: [] for i in order}
    names = {i: [] for i in order}
    for n, note in enumerate(annotations):
        where = f"data file '{path}' annotation {n + 1} (id {note.get('id', '?')})"
        box, name = _coco_box(note, images, categories, where)
        boxes[note["image_id"]].append(box)
        names[note["image_id"]].append(name)
    return BoxSet(
        str(path),
        [str(folder / images[i]) for i in order],
        [f"data file '{path}' image id {i}" for i in order],
        [np.array(boxes[i], dtype=np.float64).reshape(-1, 4) for i in order],
        [names[i] for i in order],
        True,
        [str(images[i]) for i in order],
    )


def _coco_box(note: dict, images: dict, categories: dict, where: str) -> tuple[list, str]:
    try:
        x, y, w, h = (float(v) for v in note["bbox"])
        image, category = note["image_id"], note["category_id"]
    except (KeyError, TypeError, ValueError):
        raise UserError(
            f"{where}: needs image_id, category_id and bbox [x, y, width, height]"
        ) from None
    if image not in images:
        raise UserError(f"{where}: image_id {image} is not among the file's images")
    if category not in categories:
        raise UserError(f"{where}: category_id {category} is not among the file's categories")
    if w <= 0 or h <= 0:
        raise UserError(
            f"{where}: degenerate box (bbox width {w:g}, height {h:g}): both must be positive"
        )
    return [x, y, x + w, y + h], categories[category]


def image_sizes(boxes: BoxSet) -> np.ndarray:
    """(N, 2) width, height of each image as stored (read from the file headers); a missing or
    unreadable file, or a box outside its image, raises naming the file and row."""
    from PIL import Image, UnidentifiedImageError

    sizes = np.zeros((len(boxes), 2), dtype=np.int64)
    for i, (path, where) in enumerate(zip(boxes.paths, boxes.where, strict=True)):
        try:
            with Image.open(path) as image:
                sizes[i] = image.size
        except FileNotFoundError:
            raise UserError(f"{where}: image file '{path}' does not exist") from None
        except (UnidentifiedImageError, OSError) as e:
            raise UserError(f"{where}: image file '{path}' cannot be read ({e})") from None
        _check_inside(boxes.boxes[i], sizes[i], where, path)
    return sizes


def _check_inside(boxes: np.ndarray, size: np.ndarray, where: str, path: str) -> None:
    w, h = size
    outside = (boxes[:, 0] < 0) | (boxes[:, 1] < 0) | (boxes[:, 2] > w) | (boxes[:, 3] > h)
    if outside.any():
        x1, y1, x2, y2 = boxes[int(np.flatnonzero(outside)[0])]
        raise UserError(
            f"{where}: box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) lies outside its image '{path}' "
            f"({w}x{h} pixels: x in 0..{w}, y in 0..{h})"
        )


def class_codes(boxes: BoxSet, classes: list[str]) -> list[np.ndarray]:
    """Per image (m_i,) int64 codes into `classes`; an unknown class raises naming the file."""
    index = {name: code for code, name in enumerate(classes)}
    codes = []
    for names, where in zip(boxes.labels, boxes.where, strict=True):
        unknown = [n for n in names if n not in index]
        if unknown:
            raise UserError(
                f"{where}: unknown class '{unknown[0]}' (the image's box rows); the model knows "
                f"{', '.join(classes)}"
            )
        codes.append(np.array([index[n] for n in names], dtype=np.int64))
    return codes


def padded(boxes: BoxSet, codes: list[np.ndarray], scale: np.ndarray):
    """(N, M, 4) float32 boxes times `scale` (N, 2) (x, y) and (N, M) long labels, -1 for
    padding; M the most boxes of an image (at least 1)."""
    import torch

    m = max([len(b) for b in boxes.boxes] + [1])
    out = np.zeros((len(boxes), m, 4), dtype=np.float32)
    labels = np.full((len(boxes), m), -1, dtype=np.int64)
    for i, (b, c) in enumerate(zip(boxes.boxes, codes, strict=True)):
        out[i, : len(b)] = b * np.tile(scale[i], 2)
        labels[i, : len(c)] = c
    return torch.from_numpy(out), torch.from_numpy(labels)
