"""Imbalanced labels through the CLI: stratified splits, class weights, and their mistakes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file

from modelyard.data.source import InMemorySource
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration


def _project(tmp_path, output: dict, split: dict | None = None, labels=None):
    rng = np.random.default_rng(0)
    labels = labels if labels is not None else ["common"] * 108 + ["rare"] * 12
    x = rng.normal(size=len(labels)) + 2.0 * (np.array(labels) == "rare")
    pd.DataFrame({"x": x.round(4), "label": labels, "price": x * 3}).to_csv(
        tmp_path / "data.csv", index=False
    )
    config = {
        "name": "imbalanced",
        "data": {"train": "data.csv", "split": split or {}},
        "inputs": [{"name": "x", "type": "number"}],
        "outputs": [output],
        "trainer": {"epochs": 1, "batch_size": 32},
        "baselines": False,
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return tmp_path


LABEL = {"name": "label", "type": "category"}


def test_a_classifier_splits_stratified_and_weighs_its_classes(tmp_path):
    project = _project(tmp_path, {**LABEL, "class_weights": "balanced"})
    result = modelyard("train", "config.yaml", "--output", "run", cwd=project)
    assert "seed 0, stratified by 'label')" in result.stderr
    config = yaml.safe_load((project / "run/config.yaml").read_text())
    assert config["data"]["split"]["stratify"] == "label"
    splits = json.loads((project / "run/splits.json").read_text())
    rare = set(np.flatnonzero(pd.read_csv(project / "data.csv")["label"] == "rare"))
    assert [len(rare & set(splits[n]["rows"])) for n in ("train", "validation", "test")] == [
        8,
        2,
        2,
    ]
    prep = json.loads((project / "run/model/preprocessing.json").read_text())
    # from the training split alone: 76 common, 8 rare
    assert prep["label"]["class_weights"] == pytest.approx([84 / 152, 84 / 16])


def test_a_regression_is_split_plainly(tmp_path):
    project = _project(tmp_path, {"name": "price", "type": "number"})
    result = modelyard("train", "config.yaml", "--output", "run", cwd=project)
    assert "stratified" not in result.stderr
    config = yaml.safe_load((project / "run/config.yaml").read_text())
    assert config["data"]["split"]["stratify"] == "none"


def test_class_weights_on_a_number_output(tmp_path):
    project = _project(tmp_path, {"name": "price", "type": "number", "class_weights": "balanced"})
    message = user_error(modelyard("train", "config.yaml", cwd=project, check=None))
    assert (
        "outputs[0].class_weights: unknown key for this output type; 'class_weights' applies "
        "to category and binary outputs: remove it, or change the output's type"
    ) in message


def test_class_weights_naming_a_class_not_in_training(tmp_path):
    project = _project(tmp_path, {**LABEL, "class_weights": {"rare": 5, "rear": 2}})
    message = user_error(modelyard("train", "config.yaml", cwd=project, check=None))
    assert "output 'label': class_weights names class 'rear', which is not in the training" in (
        message
    )


def test_stratify_with_a_hash_split(tmp_path):
    project = _project(tmp_path, LABEL, {"by": "hash", "stratify": "label"})
    message = user_error(modelyard("validate", "config.yaml", cwd=project, check=None))
    assert "data.split.stratify: applies to random splits" in message
    assert "remove stratify, or remove by: hash" in message


def test_stratify_on_a_class_of_one_row(tmp_path):
    labels = ["common"] * 60 + ["rare"] * 5 + ["once"]
    project = _project(tmp_path, LABEL, {"stratify": "label"}, labels)
    message = user_error(modelyard("train", "config.yaml", cwd=project, check=None))
    assert "data.split.stratify 'label': class 'once' (1 row) has too few rows" in message
    assert "set data.split.stratify: none" in message
    project = _project(tmp_path, LABEL, {"stratify": "none"}, labels)
    modelyard("train", "config.yaml", "--output", "plain", cwd=project)


def test_balanced_sampling_trains_a_classifier(tmp_path):
    project = _project(tmp_path, LABEL, {"stratify": "none"})
    modelyard(
        "train", "config.yaml", "--output", "run", "--set", "data.sampling=balanced", cwd=project
    )
    config = yaml.safe_load((project / "run/config.yaml").read_text())
    assert config["data"]["sampling"] == "balanced"
    assert config["data"]["split"]["stratify"] == "none"


def test_balanced_sampling_for_a_number_output(tmp_path):
    project = _project(tmp_path, {"name": "price", "type": "number"})
    result = modelyard(
        "validate", "config.yaml", "--set", "data.sampling=balanced", cwd=project, check=None
    )
    message = user_error(result)
    assert (
        "--set data.sampling=balanced: balanced draws rows by the class of a single category "
        "or binary output; use the outputs' class_weights instead"
    ) in message


def test_weighted_and_balanced_training_interrupted_mid_epoch_resumes_exactly(
    tmp_path, monkeypatch
):
    """class_weights balanced and sampling balanced, stopped at epoch 2's step 3 (the last
    checkpoint at its step 2), resumed: the weights of an uninterrupted run."""
    project = _project(tmp_path, {**LABEL, "class_weights": "balanced"})
    settings = ["--set", "data.sampling=balanced", "--set", "trainer.epochs=3"]
    settings += ["--set", "trainer.checkpoint_every_steps=2", "--set", "trainer.batch_size=16"]
    modelyard("train", "config.yaml", "--output", "straight", *settings, cwd=project)
    batches = InMemorySource.batches

    def interrupted(self, epoch, procs, start_step=0):
        for step, item in enumerate(batches(self, epoch, procs, start_step), start=start_step):
            if (epoch, step) == (2, 3):
                raise KeyboardInterrupt
            yield item

    with monkeypatch.context() as patch:
        patch.setattr(InMemorySource, "batches", interrupted)
        result = modelyard(
            "train", "config.yaml", "--output", "resumed", *settings, cwd=project, check=None
        )
        assert result.returncode == 130
    modelyard("train", "config.yaml", "--output", "resumed", "--resume", *settings, cwd=project)
    found = load_file(project / "resumed/model/weights.safetensors")
    expected = load_file(project / "straight/model/weights.safetensors")
    for name in expected:
        assert torch.equal(found[name], expected[name]), name
