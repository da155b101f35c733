"""Speech synthesis end to end through the CLI on tiny tone clips (each character a tone):
train, metrics.json, synthesize, serve; bad input (exit 2). No espeak-ng or Whisper needed:
the phoneme front end and Whisper are replaced where a test uses them."""

from __future__ import annotations

import json

import pytest
import soundfile
import yaml

from tests.integration.cli_helpers import modelyard, user_error
from tests.tts_fixtures import RATE, tiny_config, write_split

pytestmark = pytest.mark.integration


def _project(tmp_path, stretch=None, **overrides):
    write_split(tmp_path, "train", 24, 0, stretch)
    write_split(tmp_path, "validation", 4, 1)
    write_split(tmp_path, "test", 4, 2)
    (tmp_path / "tts.yaml").write_text(yaml.safe_dump(tiny_config(**overrides)))
    return tmp_path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    project = _project(tmp_path_factory.mktemp("tts"))
    modelyard("train", "tts.yaml", "--output", "run", cwd=project)
    return project


def test_train_writes_synthesis_metrics_and_a_report_with_audio(trained):
    metrics = json.loads((trained / "run" / "metrics.json").read_text())
    test = metrics["test"]
    assert test["rows"] == 4 and test["rows_synthesized"] == 2
    assert test["mcd"] > 0 and test["real_time_factor"] > 0
    assert {"loss", "mel_l1", "duration"} <= set(metrics["validation"])
    report = (trained / "run" / "report.html").read_text()
    assert "<audio controls src='audio/01_synthesized.wav'>" in report
    assert (trained / "run" / "audio" / "01_original.wav").is_file()
    state = json.loads((trained / "run" / "model" / "preprocessing.json").read_text())
    assert state["front_end"]["kind"] == "characters" and state["speakers"] == ["a", "b"]


def test_a_loaded_run_resolves_config_paths_from_its_configs_folder(trained, monkeypatch):
    """evaluation.vocoder (a vocoder run) is relative to the config, not to where the run is
    loaded from."""
    from modelyard import Model

    monkeypatch.chdir(trained / "run")
    assert Model.load(trained / "run").base_dir == trained.resolve()


def test_synthesize_writes_a_wav_at_the_run_rate(trained):
    modelyard(
        "synthesize", "run", "--text", "bad cab", "--speaker", "b", "--out", "s.wav", cwd=trained
    )
    wave, rate = soundfile.read(trained / "s.wav")
    assert rate == RATE and len(wave) > 0


def test_synthesize_bad_input_exits_2_with_a_plain_message(trained):
    unknown = user_error(
        modelyard(
            "synthesize",
            "run",
            "--text",
            "bad",
            "--speaker",
            "zed",
            "--out",
            "x.wav",
            cwd=trained,
            check=None,
        )
    )
    assert "unknown speaker 'zed'; this model knows a, b" in unknown
    empty = user_error(
        modelyard("synthesize", "run", "--text", " ", "--out", "x.wav", cwd=trained, check=None)
    )
    assert "the text is empty" in empty
    symbols = user_error(
        modelyard(
            "synthesize", "run", "--text", "bad 7!", "--out", "x.wav", cwd=trained, check=None
        )
    )
    assert "symbols '!', '7' not in the trained symbol set" in symbols
    assert not (trained / "x.wav").exists()
    modelyard(
        "synthesize", "run", "--text", "bad 7!", "--unknown", "skip", "--out", "x.wav", cwd=trained
    )
    assert soundfile.info(trained / "x.wav").frames > 0


def test_serve_answers_synthesize_with_wav(trained):
    from fastapi.testclient import TestClient

    from modelyard.api import Model

    model = Model.load(trained / "run")
    app = model.create_app(max_batch_size=1, max_wait_ms=1, max_request_bytes=2**20, api_key=None)
    client = TestClient(app)
    answer = client.post("/synthesize", json={"text": "cab", "speaker": "a"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/wav"
    assert answer.content[:4] == b"RIFF"
    wrong = client.post("/synthesize", json={"text": "cab", "speaker": "zed"})
    assert wrong.status_code == 422 and "this model knows a, b" in wrong.json()["detail"]
    assert client.get("/metadata").json()["speakers"] == ["a", "b"]


def test_mismatched_audio_is_named_at_training_or_dropped(tmp_path):
    project = _project(tmp_path, stretch={5: 12})
    message = user_error(modelyard("train", "tts.yaml", "--output", "run", cwd=project, check=None))
    assert "1 audio files do not match their text's length: train data row 6" in message
    assert "wav/train_005.wav" in message and "data.mismatch: drop" in message
    modelyard(
        "train",
        "tts.yaml",
        "--output",
        "run",
        "--set",
        "data.mismatch=drop",
        "--set",
        "trainer.epochs=1",
        "--set",
        "evaluation.examples=0",
        cwd=project,
    )
    metrics = json.loads((project / "run" / "metrics.json").read_text())
    assert metrics["train"] == {
        "rows": 23,
        "rows_left_out": {"audio length does not match text": 1},
    }


def test_empty_training_text_and_missing_column_exit_2(tmp_path):
    project = _project(tmp_path)
    table = (project / "train.csv").read_text().splitlines()
    table[3] = '"",' + table[3].split(",", 1)[1]
    (project / "train.csv").write_text("\n".join(table) + "\n")
    assert "train data row 3: the text is empty" in user_error(
        modelyard("validate", "tts.yaml", cwd=project, check=None)
    )
    config = tiny_config(data={"columns": {"text": "words"}})
    (project / "tts.yaml").write_text(yaml.safe_dump(config))
    assert "no column 'words'" in user_error(
        modelyard("train", "tts.yaml", cwd=project, check=None)
    )


def test_whisper_and_phonemes_are_used_when_asked(tmp_path, monkeypatch):
    """Whisper and espeak-ng replaced: the evaluation reports both WERs and their ratio."""
    heard = {"calls": 0}

    def fake_whisper(waves, rate):
        heard["calls"] += 1
        return ["bad cab"] * len(waves)

    monkeypatch.setattr("modelyard.tts.evaluate.whisper_transcripts", fake_whisper)
    monkeypatch.setattr(
        "modelyard.tts.frontend.espeak_phonemes",
        lambda language: lambda ts: [t.upper() for t in ts],
    )
    project = _project(
        tmp_path,
        front_end={"type": "phonemes"},
        evaluation={"whisper": True, "examples": 0},
        trainer={"epochs": 1},
    )
    modelyard("train", "tts.yaml", "--output", "run", cwd=project)
    test = json.loads((project / "run" / "metrics.json").read_text())["test"]
    assert heard["calls"] == 2  # synthesized and original audio
    assert {"wer_whisper", "wer_whisper_original", "wer_whisper_ratio"} <= set(test)
    symbols = json.loads((project / "run" / "model" / "preprocessing.json").read_text())[
        "front_end"
    ]["symbols"]
    assert "A" in symbols and "a" not in symbols


def test_unknown_recogniser_run_is_refused_before_training(tmp_path):
    project = _project(tmp_path, evaluation={"recogniser": "runs/asr"})
    message = user_error(modelyard("train", "tts.yaml", "--output", "run", cwd=project, check=None))
    assert "evaluation.recogniser" in message and "is not a finished run" in message


def test_evaluate_with_our_recogniser_reports_both_wers(trained, monkeypatch):
    from modelyard.api import Model

    said = {}

    def fake_recogniser(run_dir, paths):
        said[len(said)] = [str(p) for p in paths]
        return ["bad cab"] * len(paths)

    monkeypatch.setattr("modelyard.tts.evaluate.recogniser_transcripts", fake_recogniser)
    model = Model.load(trained / "run")
    found = model.evaluate(trained / "test.csv", recogniser="asr", rows=3)
    assert found["rows_synthesized"] == 3 and found["real_time_factor_cpu"] > 0
    assert 0 <= found["wer_recogniser"] <= 2 and "wer_recogniser_original" in found
    assert said[1][0].endswith("wav/test_000.wav")  # the originals, second
