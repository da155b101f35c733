"""Image features: PNGs written in the test, resizing, colour, mean/std, bad files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from modelyard.config.schema import ImageInput
from modelyard.data.features.image import ImageFeature
from modelyard.errors import UserError


def write(path, value, size=(4, 6), mode="L"):
    """A PNG of one colour; `size` is (width, height)."""
    Image.new(mode, size, value).save(path)
    return str(path)


def feature(**preprocessing) -> ImageFeature:
    return ImageFeature(ImageInput(name="photo", type="image", preprocessing=preprocessing))


def fitted(paths, **preprocessing) -> ImageFeature:
    f = feature(**preprocessing)
    f.fit(pd.Series(paths))
    return f


@pytest.fixture
def gray(tmp_path):
    return [write(tmp_path / "a.png", 0), write(tmp_path / "b.png", 255)]


def test_grayscale_images_keep_their_size(gray):
    f = fitted(gray)
    pixels = f.transform(pd.Series(gray))
    assert pixels.dtype == torch.uint8
    assert pixels.shape == (2, 1, 6, 4)
    assert pixels[0].max() == 0 and pixels[1].min() == 255
    assert f.notes == ["photo: images resized to 6x4, grayscale"]


def test_mean_and_std_from_training_images(gray):
    f = fitted(gray)
    assert f.mean == pytest.approx([0.5])
    expected_std = float(torch.tensor([0.0] * 24 + [1.0] * 24).std())
    assert f.std == pytest.approx([expected_std])


def test_scale_normalisation_has_unit_statistics(gray):
    f = fitted(gray, normalization="scale")
    assert (f.mean, f.std) == ([0.0], [1.0])


def test_rgb_images_and_resize(tmp_path):
    paths = [
        write(tmp_path / "r.png", (255, 0, 0), mode="RGB"),
        write(tmp_path / "g.png", (0, 255, 0), size=(8, 8), mode="RGB"),
    ]
    f = fitted(paths, height=2, width=3)
    pixels = f.transform(pd.Series(paths))
    assert pixels.shape == (2, 3, 2, 3)
    assert pixels[0, 0].min() == 255 and pixels[0, 1].max() == 0
    assert pixels[1, 1].min() == 255
    assert f.mean == pytest.approx([0.5, 0.5, 0.0])


def test_size_defaults_to_the_first_image_and_others_are_resized(tmp_path):
    paths = [
        write(tmp_path / "a.png", 10, size=(5, 3)),
        write(tmp_path / "b.png", 10, size=(10, 10)),
    ]
    assert fitted(paths).transform(pd.Series(paths)).shape == (2, 1, 3, 5)


def test_color_setting_converts(tmp_path, gray):
    rgb = write(tmp_path / "c.png", (10, 20, 30), mode="RGB")
    assert fitted([rgb], color="grayscale").transform(pd.Series([rgb])).shape[1] == 1
    assert fitted(gray, color="rgb").transform(pd.Series(gray)).shape[1] == 3


def test_statistics_do_not_change_on_other_images(tmp_path, gray):
    f = fitted(gray)
    before = f.state()
    f.transform(pd.Series([write(tmp_path / "w.png", 255)]))
    assert f.state() == before


def test_state_round_trip(gray):
    f = fitted(gray, height=3, width=3)
    g = feature()
    g.load_state(f.state())
    assert torch.equal(g.transform(pd.Series(gray)), f.transform(pd.Series(gray)))


def test_corrupt_image_names_the_file_and_row(tmp_path, gray):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    f = fitted(gray)
    with pytest.raises(
        UserError, match=r"column 'photo' row 2: image file '.*broken\.png' cannot be read"
    ):
        f.transform(pd.Series([gray[0], str(bad)]))


def test_missing_image_file(tmp_path, gray):
    with pytest.raises(
        UserError, match=r"column 'photo' row 1: image file '.*gone\.png' does not exist"
    ):
        fitted(gray).transform(pd.Series([str(tmp_path / "gone.png")]))


def test_missing_path_is_an_error_unless_dropped(gray):
    with pytest.raises(
        UserError, match=r"row 2: no image path \(1 rows\); .* preprocessing.missing: drop"
    ):
        fitted(gray).transform(pd.Series([gray[0], np.nan]))
    assert feature(missing="drop").drops_missing(training=True)
    # evaluation too (an image cannot be filled in; the rows left out are recorded), while
    # prediction keeps every row: `Preprocessing.prepare(labels=False)` drops none
    assert feature(missing="drop").drops_missing(training=False)
    assert not feature().drops_missing(training=True)


def test_random_crop_larger_than_the_first_images_size_is_refused(gray):
    """The gray images are 6 high and 4 wide: padding 2 or more could crop away most of them."""
    with pytest.raises(UserError) as caught:
        fitted(gray, augment={"random_crop": 32})
    assert str(caught.value) == (
        "input 'photo': preprocessing.augment.random_crop: 32 pixels of padding is too much for "
        "6x4 images (a crop could keep less than half of the image); use at most 1"
    )
    assert fitted(gray, augment={"random_crop": 1}).height == 6
