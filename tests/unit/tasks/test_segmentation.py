"""Segmentation pieces: metrics against scikit-learn, the loss, the U-Net's shapes, and the
augmentation moving masks with their images."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, jaccard_score

from modelyard.config.schema.segmentation import MaskOutput
from modelyard.models.encoders.cnn import ImageCnn
from modelyard.models.encoders.pixels import Pixels
from modelyard.models.encoders.resnet import ImageResnet
from modelyard.tasks.segmentation import SegmentationTask
from modelyard.tasks.segmentation.feature import IGNORE
from modelyard.tasks.segmentation.metrics import confusion, mask_metrics, per_class
from modelyard.tasks.segmentation.model import MaskLoss, Segmenter, UNetDecoder, soft_dice_loss


def test_iou_and_dice_count_every_pixel_like_sklearn():
    gen = torch.Generator().manual_seed(0)
    truth = torch.randint(0, 4, (5, 9, 7), generator=gen)
    predicted = torch.where(
        torch.rand(5, 9, 7, generator=gen) < 0.7,
        truth,
        torch.randint(0, 4, (5, 9, 7), generator=gen),
    )
    truth[0, :2] = IGNORE  # ignored pixels count nowhere
    keep = (truth != IGNORE).flatten().numpy()
    t, p = truth.flatten().numpy()[keep], predicted.flatten().numpy()[keep]
    iou, dice = per_class(confusion(predicted, truth, 4))
    np.testing.assert_allclose(iou, jaccard_score(t, p, average=None, labels=range(4)))
    np.testing.assert_allclose(dice, f1_score(t, p, average=None, labels=range(4)))
    found = mask_metrics(confusion(predicted, truth, 4))
    assert found["miou"] == pytest.approx(np.mean(iou))
    assert found["miou_objects"] == pytest.approx(np.mean(iou[1:]))  # without background


def test_a_class_absent_everywhere_is_left_out_of_the_means():
    truth = torch.tensor([[[0, 1], [1, 0]]])
    predicted = torch.tensor([[[0, 1], [2, 0]]])  # class 2 predicted, never true: IoU 0
    iou, _ = per_class(confusion(predicted, truth, 4))  # class 3: nowhere
    assert iou[:3] == [1.0, 0.5, 0.0] and math.isnan(iou[3])
    assert mask_metrics(confusion(predicted, truth, 4))["miou"] == pytest.approx(1.5 / 3)


def test_loss_ignores_ignored_pixels_and_dice_is_zero_when_perfect():
    target = torch.tensor([[[0, 1], [2, IGNORE]]])
    logits = torch.nn.functional.one_hot(target.clamp(max=2), 3).permute(0, 3, 1, 2).float() * 20
    changed = logits.clone()
    changed[0, :, 1, 1] = torch.tensor([0.0, 0.0, 50.0])  # at the ignored pixel only
    loss = MaskLoss(dice_weight=1.0)
    assert loss(logits, target.to(torch.uint8)) == pytest.approx(
        float(loss(changed, target.to(torch.uint8)))
    )
    assert float(soft_dice_loss(logits, target)) < 1e-6


@pytest.mark.parametrize("kind", ["cnn", "resnet"])
def test_unet_gives_a_score_per_pixel_at_odd_sizes(kind):
    channels = [4, 8, 16]
    body = (
        ImageCnn(1, 18, 14, channels, 3, True, 4, 0.0)
        if kind == "cnn"
        else ImageResnet(1, channels, [1, 1, 1], 0.0)
    )
    encoder = torch.nn.Sequential(Pixels([0.5], [0.25]), body)
    model = Segmenter("image", encoder, "mask", UNetDecoder(channels, [4, 4, 8], classes=3))
    images = torch.randint(0, 255, (2, 1, 18, 14), dtype=torch.uint8)
    logits = model({"image": images})["mask"]
    assert logits.shape == (2, 3, 18, 14)
    logits.sum().backward()
    assert body.pyramid_channels == channels
    assert all(p.grad is not None for p in model.decoder.parameters())


def test_flip_testing_averages_with_the_mirrored_image_out_of_training_only():
    torch.manual_seed(0)
    channels = [4, 8]
    encoder = torch.nn.Sequential(
        Pixels([0.5], [0.25]), ImageCnn(1, 8, 10, channels, 3, True, 4, 0.0)
    )
    plain = Segmenter("image", encoder, "mask", UNetDecoder(channels, [4, 4], classes=3)).eval()
    flipping = Segmenter("image", encoder, "mask", plain.decoder, flip_test=True).eval()
    images = torch.randint(0, 255, (2, 1, 8, 10), dtype=torch.uint8)
    with torch.no_grad():
        once = plain({"image": images})["mask"]
        mirrored = plain({"image": images.flip(-1)})["mask"].flip(-1)
        both = flipping({"image": images})["mask"]
        torch.testing.assert_close(both, (once + mirrored) / 2)
        assert not torch.allclose(both, once)
        flipping.train()
        torch.testing.assert_close(
            flipping({"image": images})["mask"], plain.train()({"image": images})["mask"]
        )


def test_augmentation_moves_each_mask_with_its_image():
    config = MaskOutput(
        name="mask",
        type="mask",
        classes=["thing"],
        augment={"shift": 0.3, "flip": True, "zoom": (0.8, 1.2)},
    )
    feature = SimpleNamespace(
        name="mask", config=config, image=SimpleNamespace(name="image", mean=[0.0])
    )
    augment = SegmentationTask().augmenter(feature)
    mask = torch.zeros(8, 24, 24, dtype=torch.uint8)
    mask[:, 4:12, 3:9] = 1
    images = (mask * 200).unsqueeze(1)  # bright exactly where the mask says "thing"
    moved = augment({"image": images, "mask": mask}, torch.Generator().manual_seed(1))
    assert not torch.equal(moved["mask"], mask)  # something moved
    inside = moved["image"][:, 0] > 150
    assert (inside == (moved["mask"] == 1)).float().mean() > 0.97  # edges are interpolated
    assert moved["mask"].dtype == torch.uint8


def test_no_augmentation_asked_gives_none():
    config = MaskOutput(name="mask", type="mask", classes=["thing"])
    feature = SimpleNamespace(
        name="mask", config=config, image=SimpleNamespace(name="image", mean=[0.0])
    )
    assert SegmentationTask().augmenter(feature) is None


def test_masks_follow_the_image_resize_and_ignored_pixels_become_255(tmp_path):
    import pandas as pd
    from PIL import Image

    from modelyard.config.load import validate
    from modelyard.data.features import Preprocessing

    image, mask = np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8)
    mask[:4, :4], mask[4:, 4:] = 1, 9  # 9: ignored
    Image.fromarray(image).save(tmp_path / "i.png")
    Image.fromarray(mask).save(tmp_path / "m.png")
    frame = pd.DataFrame(
        {"image": [str(tmp_path / "i.png")] * 2, "mask": [str(tmp_path / "m.png")] * 2}
    )
    config = validate(
        {
            "inputs": [
                {"name": "image", "type": "image", "preprocessing": {"height": 4, "width": 4}}
            ],
            "outputs": [{"name": "mask", "type": "mask", "classes": ["thing"], "ignore": 9}],
        }
    )
    preprocessing = Preprocessing(config)
    preprocessing.fit(frame)
    target = preprocessing.prepare(frame, "train").tensors["mask"]
    assert target.shape == (2, 4, 4) and target.dtype == torch.uint8
    assert target[0, :2, :2].eq(1).all() and target[0, 2:, 2:].eq(IGNORE).all()
    assert target[0, :2, 2:].eq(0).all()


@pytest.mark.parametrize("dice_weight", [0.0, 0.5])
def test_loss_from_per_image_terms_equals_the_loss_on_all_logits_at_once(dice_weight):
    from modelyard.tasks.segmentation.model import loss_terms

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 4, 9, 11, generator=generator)
    target = torch.randint(0, 3, (7, 9, 11), generator=generator)  # class 3 never true
    target[0, :2] = IGNORE
    loss = MaskLoss(dice_weight)
    terms = torch.cat(
        [loss_terms(lg, t) for lg, t in zip(logits.split(3), target.split(3), strict=True)]
    )
    assert terms.shape == (7, 2 + 3 * 4)
    assert loss.from_terms(terms) == pytest.approx(float(loss(logits, target)), rel=1e-5)


def test_evaluation_keeps_a_byte_per_pixel_and_the_loss_terms():
    task = SegmentationTask()
    feature = SimpleNamespace(name="mask")
    logits = torch.randn(2, 3, 5, 6)
    kept = task.compact(feature, logits, torch.zeros(2, 5, 6, dtype=torch.uint8))
    assert kept["mask"].dtype == torch.uint8 and torch.equal(kept["mask"], logits.argmax(1).byte())
    assert kept["mask/loss_terms"].shape == (2, 11)
    assert set(task.compact(feature, logits, None)) == {"mask"}  # predicting: no labels
