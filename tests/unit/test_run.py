"""Runs are never lost and their files are honest: overwrite, resume, strict JSON, splits,
file modes, and a pretrained model's weights stored once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file

from modelyard import Model, UserError
from modelyard import run as run_module
from modelyard.api import BACKBONES
from tests.conftest import make_table, tiny_config


def _strict_json(path: Path):
    def refuse(constant: str):
        raise ValueError(f"{path.name} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def _config(project: Path, **trainer) -> Path:
    config = tiny_config(epochs=2, **trainer)
    config["inputs"] = config["inputs"][:3]  # numbers and a category: fast
    config["outputs"].append({"name": "amount", "type": "number"})
    path = project / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_overwrite_that_fails_partway_keeps_the_old_run(project) -> None:
    config = _config(project)
    Model.from_config(config).fit(output_dir=project / "run")
    before = load_file(project / "run/model/weights.safetensors")
    broken = make_table().drop(columns=["colour"])
    with pytest.raises(UserError, match="colour"):
        Model.from_config(config).fit(train=broken, output_dir=project / "run", overwrite=True)
    after = load_file(project / "run/model/weights.safetensors")
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert sorted(p.name for p in project.iterdir()) == ["config.yaml", "data.csv", "run"]

    overrides = ["trainer.epochs=1", "trainer.keep_checkpoints=last"]
    Model.from_config(config, overrides).fit(output_dir=project / "run", overwrite=True)
    assert len(pd.read_csv(project / "run/history.csv")) == 1
    assert sorted(p.name for p in project.iterdir()) == ["config.yaml", "data.csv", "run"]
    assert sorted(p.name for p in (project / "run/checkpoints").iterdir()) == ["last.pt"]


def test_resume_needs_an_output_directory(project) -> None:
    with pytest.raises(UserError, match="resume=True.* needs output_dir"):
        Model.from_config(_config(project)).fit(resume=True)


def test_language_model_resume_needs_an_output_directory(tmp_path) -> None:
    config = {"task": "language_model", "corpus": {"train": [str(tmp_path / "corpus.txt")]}}
    with pytest.raises(UserError, match="resume=True.* needs output_dir"):
        Model.from_config(config).fit(resume=True)


def test_resume_refuses_changed_data_and_a_cosine_of_another_length(project) -> None:
    config = _config(project, keep_checkpoints="last", schedule={"type": "cosine"})
    Model.from_config(config).fit(output_dir=project / "run")
    with pytest.raises(UserError, match="cosine schedule .*trainer.epochs"):
        Model.from_config(config, ["trainer.epochs=3"]).fit(output_dir=project / "run", resume=True)
    changed = pd.read_csv(project / "data.csv")
    changed.loc[changed.index[:5], "x1"] += 1.0
    changed.to_csv(project / "data.csv", index=False)
    with pytest.raises(UserError, match="training data differ .*changed: .*same number of rows"):
        Model.from_config(config).fit(output_dir=project / "run", resume=True)


def test_run_files_are_strict_json_with_usual_modes_and_splits(project) -> None:
    model = Model.from_config(_config(project)).fit(output_dir=project / "run")
    run = project / "run"
    assert not (run / "checkpoints").exists()  # keep_checkpoints: none by default
    state = _strict_json(run / "model/preprocessing.json")
    assert state["amount"]["fill"] is None  # an output's NaN fill, written as null
    for path in run.rglob("*.json"):
        _strict_json(path)
    loaded = Model.load(run)
    assert (
        loaded.preprocessing.state()["amount"]["fill"]
        != loaded.preprocessing.state()["amount"]["fill"]
    )  # NaN back
    pd.testing.assert_frame_equal(
        loaded.predict(make_table(20, seed=3)), model.predict(make_table(20, seed=3))
    )

    umask = os.umask(0)
    os.umask(umask)
    modes = {
        str(p.relative_to(run)): oct(p.stat().st_mode & 0o777)
        for p in run.rglob("*")
        if p.is_file()
    }
    assert set(modes.values()) == {oct(0o666 & ~umask)}, modes

    splits = _strict_json(run / "splits.json")
    assert {s["table"] for s in splits.values()} == {"data.csv"}
    rows = [r for s in splits.values() for r in s["rows"]]
    assert sorted(rows) == list(range(160))
    assert len(splits["validation"]["rows"]) == len(splits["test"]["rows"]) == 32


def _pretrained_config(checkpoint: Path) -> dict:
    return {
        "name": "pretrained",
        "data": {"split": {"validation": 0.2, "test": 0.0}},
        "inputs": [
            {
                "name": "review",
                "type": "text",
                "encoder": {"type": "pretrained", "model": str(checkpoint)},
                "preprocessing": {"max_length": 16},
            }
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "combiner": {"type": "concat"},
        "trainer": {"epochs": 1, "batch_size": 16, "optimizer": {"type": "adamw", "lr": 0.01}},
    }


def test_a_pretrained_backbone_is_stored_once(tmp_path) -> None:
    from tests.pretrained_fixtures import save_tiny_checkpoint

    checkpoint = save_tiny_checkpoint(tmp_path / "bert", "bert")
    model = Model.from_config(_pretrained_config(checkpoint))
    model.fit(train=make_table(60), output_dir=tmp_path / "run")
    folder = tmp_path / "run/model"
    weights = load_file(folder / "weights.safetensors")
    assert weights and not any("backbone" in k for k in weights)
    backbone = sum(p.stat().st_size for p in (folder / BACKBONES).rglob("*.safetensors"))
    stored = sum(p.stat().st_size for p in folder.rglob("*.safetensors"))
    assert stored < 1.1 * backbone  # the backbone once (weights.safetensors: the head only)
    assert not (tmp_path / "run/checkpoints").exists()
    loaded = Model.load(tmp_path / "run")
    for name, value in model.module.state_dict().items():
        assert torch.equal(loaded.module.state_dict()[name], value), name


def _epochs(count: int, **extra) -> list[dict]:
    return [{"epoch": i, "train_loss": 1 / i, "lr": 0.01, **extra} for i in range(1, count + 1)]


def _count_replacements(monkeypatch) -> list:
    replaced: list = []
    real = run_module.os.replace
    monkeypatch.setattr(run_module.os, "replace", lambda *a: (replaced.append(a), real(*a)))
    return replaced


def test_history_grows_by_appending_one_row_per_epoch(tmp_path, monkeypatch) -> None:
    replaced = _count_replacements(monkeypatch)
    path = tmp_path / "history.csv"
    for count in range(1, 6):
        run_module.write_history(path, _epochs(count))
    assert len(replaced) == 1  # written whole once, then appended to
    whole = tmp_path / "whole.csv"
    run_module.write_history(whole, _epochs(5))
    assert path.read_text() == whole.read_text()
    assert pd.read_csv(path)["epoch"].tolist() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("resumed from an earlier epoch", _epochs(2)),
        ("a new column", _epochs(4, epsilon=0.5)),
        ("a row cut short by a kill", None),
    ],
)
def test_history_is_replaced_whole_when_the_file_does_not_hold_the_epochs_before(
    tmp_path, monkeypatch, before, after
) -> None:
    path = tmp_path / "history.csv"
    run_module.write_history(path, _epochs(3))
    if after is None:  # the process died while appending epoch 4
        path.write_text(path.read_text() + "4,0.25")
        after = _epochs(4)
    replaced = _count_replacements(monkeypatch)
    run_module.write_history(path, after)
    assert len(replaced) == 1, before
    assert pd.read_csv(path).to_dict("records") == pd.DataFrame(after).to_dict("records")
