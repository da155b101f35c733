"""`task: vocoder` end to end through the CLI on tiny generated clips (tones in noise at
8 kHz, a small mel scale, a tiny generator): train, metrics.json against Griffin-Lim,
load_vocoder, `vocode`, resume; and bad input (exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch
import yaml

from modelyard.data.mel import MelScale
from modelyard.errors import UserError
from modelyard.vocoder import load_vocoder
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration

RATE = 8000
MEL = {"sample_rate": RATE, "n_mels": 20, "window_ms": 32.0, "hop_ms": 8.0}  # hop 64
SCALE = MelScale(**MEL)


def _clips(folder, name: str, count: int, seed: int) -> None:
    """`count` WAVs of a rising tone in noise, 0.2 to 0.5 s, and their table `name`.csv."""
    rng = np.random.default_rng(seed)
    (folder / "wav").mkdir(exist_ok=True)
    rows = []
    for i in range(count):
        n = int(rng.integers(1600, 4000))
        t = np.arange(n) / RATE
        pitch = rng.uniform(150, 600)
        wave = 0.3 * np.sin(2 * np.pi * pitch * t * (1 + t)) + 0.03 * rng.standard_normal(n)
        path = f"wav/{name}{i}.wav"
        soundfile.write(folder / path, wave.astype(np.float32), RATE, subtype="PCM_16")
        rows.append({"text": f"clip {i}", "audio": path, "speaker": "a"})
    pd.DataFrame(rows).to_csv(folder / f"{name}.csv", index=False)


def _write(folder, **settings) -> str:
    config = {
        "task": "vocoder",
        "name": "voc",
        "data": {"train": "train.csv", "validation": "validation.csv", "test": "test.csv"},
        "mel": MEL,
        "model": {"dim": 16, "layers": 2, "hidden": 32},
        "discriminators": {"periods": [2, 3], "resolutions": [128], "channels": 4},
        "losses": {"adversarial_from_step": 2},
        "evaluation": {"clips": 3, "griffin_lim_iterations": 4},
        "trainer": {"epochs": 2, "batch_size": 4, "segment": 640, "keep_checkpoints": "last"},
        **settings,
    }
    (folder / "voc.yaml").write_text(yaml.safe_dump(config))
    return "voc.yaml"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vocoder")
    for name, count, seed in (("train", 12, 0), ("validation", 3, 1), ("test", 3, 2)):
        _clips(folder, name, count, seed)
    _write(folder)
    modelyard("train", "voc.yaml", "--output", "runs/voc", cwd=folder)
    return folder


def test_training_measures_the_vocoder_and_griffin_lim_on_the_same_clips(project):
    metrics = json.loads((project / "runs/voc/metrics.json").read_text())
    for split in ("validation", "test"):
        found = metrics[split]
        assert found["rows"] == 3
        for name in ("mcd", "mel_l1", "real_time_factor"):
            assert found[name] > 0 and found[f"griffin_lim_{name}"] > 0
    history = pd.read_csv(project / "runs/voc/history.csv")
    assert {"train_loss", "validation_loss", "validation_mcd"} <= set(history.columns)
    saved = json.loads((project / "runs/voc/model/mel.json").read_text())
    assert saved == MEL


def test_load_vocoder_gives_waves_at_the_scale_and_refuses_other_mels(project):
    vocoder = load_vocoder("runs/voc", project)
    assert vocoder.scale == SCALE
    waves = vocoder(torch.zeros(2, 20, 9) - 5.0, SCALE)
    assert waves.shape == (2, 8 * SCALE.hop) and waves.dtype == torch.float32
    with pytest.raises(UserError, match="20 bands"):
        vocoder(torch.zeros(1, 80, 9), SCALE)
    with pytest.raises(UserError, match="trained on log-mels of 8000 Hz, 20 bands"):
        vocoder(torch.zeros(1, 20, 9), MelScale(22050, 20, 46.4, 11.6))


def test_vocode_resynthesizes_a_file(project):
    result = modelyard(
        "vocode", "runs/voc", "--audio", "wav/test0.wav", "--out", "out.wav", cwd=project
    )
    assert "mcd" in result.stdout and "real_time_factor" in result.stdout
    wave, rate = soundfile.read(project / "out.wav")
    assert rate == RATE and len(wave) > 1000


def test_a_spec_that_is_no_vocoder_is_refused(project):
    for spec in ("griffin", "train.csv"):
        message = user_error(
            modelyard(
                "vocode",
                spec,
                "--audio",
                "wav/test0.wav",
                "--out",
                "x.wav",
                cwd=project,
                check=None,
            )
        )
        assert f"vocoder '{spec}'" in message and "griffin_lim" in message
    with pytest.raises(UserError, match="is not a vocoder run"):
        load_vocoder("wav", project)


def test_an_unreadable_audio_file_is_named_with_its_row(tmp_path):
    _clips(tmp_path, "train", 3, 0)
    (tmp_path / "wav/train1.wav").write_bytes(b"not a wav file")
    config = _write(tmp_path, data={"train": "train.csv"})
    message = user_error(modelyard("train", config, cwd=tmp_path, check=None))
    assert "row 2" in message and "train1.wav" in message and "cannot be read" in message
    assert "row 2" in user_error(modelyard("validate", config, cwd=tmp_path, check=None))


def test_a_segment_off_the_hop_is_refused_before_training(tmp_path):
    _clips(tmp_path, "train", 2, 0)
    config = _write(tmp_path, data={"train": "train.csv"}, trainer={"segment": 650})
    message = user_error(modelyard("validate", config, cwd=tmp_path, check=None))
    assert "trainer.segment" in message and "use 640" in message


def test_a_resumed_run_trains_on(project):
    more = ["--set", "trainer.epochs=3"]
    modelyard("train", "voc.yaml", "--output", "runs/voc", "--resume", *more, cwd=project)
    assert pd.read_csv(project / "runs/voc/history.csv")["epoch"].tolist() == [1, 2, 3]
    assert load_vocoder("runs/voc", project).scale == SCALE


def test_a_new_run_starts_from_a_finished_runs_generator(project):
    from modelyard import Model

    still = {"type": "adamw", "lr": 1e-9}
    model = {"dim": 16, "layers": 2, "hidden": 32, "init_from": "runs/voc"}
    trainer = {"epochs": 1, "batch_size": 4, "segment": 640, "optimizer": still}
    _write(project, model=model, trainer=trainer)
    modelyard("train", "voc.yaml", "--output", "runs/init", cwd=project)
    first = Model.load(project / "runs/voc").module.state_dict()
    started = Model.load(project / "runs/init").module.state_dict()
    for name, weights in first.items():
        torch.testing.assert_close(started[name], weights, atol=1e-5, rtol=0, msg=name)
    _write(project, model={**model, "dim": 8})
    message = user_error(
        modelyard("train", "voc.yaml", "--output", "runs/bad", cwd=project, check=None)
    )
    assert "model.init_from 'runs/voc'" in message and "differ" in message
    _write(project)
