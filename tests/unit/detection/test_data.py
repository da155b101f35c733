"""Reading box files: tables and COCO JSON, and the user's mistakes named by file and row."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from modelyard.config.schema.object_detection import BoxColumns
from modelyard.detection.data import class_codes, image_sizes, padded, read_boxes
from modelyard.errors import UserError

HEADER = "image,x1,y1,x2,y2,label\n"


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "images").mkdir()
    for name in ("a", "b"):
        Image.fromarray(np.zeros((20, 30), np.uint8)).save(tmp_path / f"images/{name}.png")
    return tmp_path


def _table(folder, text: str):
    path = folder / "boxes.csv"
    path.write_text(text)
    return path


def test_rows_are_grouped_by_image_in_order_of_first_appearance(folder):
    path = _table(
        folder,
        HEADER + "images/b.png,1,2,5,6,cat\nimages/a.png,0,0,30,20,dog\n"
        "images/b.png,3,3,9,9,dog\nimages/a.png,,,,,\n",
    )
    boxes = read_boxes(path, BoxColumns())
    assert [p.rsplit("/", 1)[-1] for p in boxes.paths] == ["b.png", "a.png"]
    assert boxes.labels == [["cat", "dog"], ["dog"]]
    np.testing.assert_array_equal(boxes.boxes[0], [[1, 2, 5, 6], [3, 3, 9, 9]])
    assert image_sizes(boxes).tolist() == [[30, 20], [30, 20]]
    codes = class_codes(boxes, ["cat", "dog"])
    tensors, labels = padded(boxes, codes, np.array([[2.0, 1.0], [1.0, 1.0]]))
    assert tensors.shape == (2, 2, 4) and labels.tolist() == [[0, 1], [1, -1]]
    assert tensors[0, 0].tolist() == [2, 2, 10, 6]  # x scaled by 2, y by 1


def test_coco_json_gives_the_same_boxes(folder):
    coco = {
        "images": [{"id": 7, "file_name": "images/a.png", "width": 30, "height": 20}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [1, 2, 4, 5]}],
        "categories": [{"id": 3, "name": "cat"}],
    }
    (folder / "boxes.json").write_text(json.dumps(coco))
    boxes = read_boxes(folder / "boxes.json", BoxColumns())
    np.testing.assert_array_equal(boxes.boxes[0], [[1, 2, 5, 7]])
    assert boxes.labels == [["cat"]]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("images/a.png,5,2,5,9,cat\n", "row 1: degenerate box (5, 2, 5, 9): x2 must be greater"),
        ("images/a.png,1,1,4,4,cat\nimages/a.png,1,9,4,3,cat\n", "row 2: degenerate box"),
        ("images/a.png,1,one,4,4,cat\n", "row 1: column 'y1' is 'one', not a number"),
        ("images/a.png,1,1,4,,cat\n", "row 1: column 'y2' is '', not a number"),
        ("images/a.png,1,1,4,4,\n", "row 1: the box has no label"),
    ],
)
def test_bad_rows_are_named(folder, rows, message):
    path = _table(folder, HEADER + rows)
    with pytest.raises(
        UserError, match="boxes.csv' " + message.replace("(", r"\(").replace(")", r"\)")
    ):
        read_boxes(path, BoxColumns())


def test_a_box_outside_its_image_names_file_row_and_size(folder):
    path = _table(folder, HEADER + "images/a.png,1,1,4,4,cat\nimages/b.png,25,5,31,10,cat\n")
    with pytest.raises(UserError) as error:
        image_sizes(read_boxes(path, BoxColumns()))
    text = str(error.value)
    assert "boxes.csv' row 2" in text and "(25, 5, 31, 10) lies outside" in text
    assert "(30x20 pixels" in text


def test_a_missing_image_file_names_file_and_row(folder):
    path = _table(folder, HEADER + "images/a.png,1,1,4,4,cat\nimages/gone.png,1,1,4,4,cat\n")
    with pytest.raises(
        UserError, match=r"boxes.csv' row 2: image file '.*gone.png' does not exist"
    ):
        image_sizes(read_boxes(path, BoxColumns()))


def test_missing_columns_are_listed(folder):
    path = _table(folder, "image,x1,y1,width,height,class\nimages/a.png,1,1,4,4,cat\n")
    with pytest.raises(
        UserError, match="missing column.s. x2, y2, label; a box file has the columns image,x1"
    ):
        read_boxes(path, BoxColumns())
    only_images = read_boxes(_table(folder, "image\nimages/a.png\n"), BoxColumns(), labelled=False)
    assert len(only_images) == 1 and not only_images.labelled


def test_an_unknown_class_names_file_and_row(folder):
    path = _table(folder, HEADER + "images/a.png,1,1,4,4,cat\nimages/b.png,1,1,4,4,emu\n")
    with pytest.raises(UserError, match="boxes.csv' row 2: unknown class 'emu'.*knows cat, dog"):
        class_codes(read_boxes(path, BoxColumns()), ["cat", "dog"])


def test_coco_degenerate_and_dangling_annotations(folder):
    coco = {
        "images": [{"id": 1, "file_name": "images/a.png"}],
        "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 2, 0, 5]}],
        "categories": [{"id": 1, "name": "cat"}],
    }
    (folder / "c.json").write_text(json.dumps(coco))
    with pytest.raises(UserError, match=r"c.json' annotation 1 \(id 5\): degenerate box"):
        read_boxes(folder / "c.json", BoxColumns())
    coco["annotations"][0].update(bbox=[1, 2, 3, 4], image_id=9)
    (folder / "c.json").write_text(json.dumps(coco))
    with pytest.raises(UserError, match="image_id 9 is not among the file's images"):
        read_boxes(folder / "c.json", BoxColumns())
