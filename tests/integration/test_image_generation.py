"""Image generation end to end through the CLI on tiny shape images: diffusion, VAE and GAN
train, write their run directory (samples per epoch in the report), generate grids per
class, export their image-making network as ONNX, measure FID/KID with a tiny judge; and
bad input (exit 2)."""

from __future__ import annotations

import json

import pytest
import yaml
from PIL import Image

from tests.generation_fixtures import write_folder, write_table
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration

MODELS = {
    "diffusion": {"type": "diffusion", "channels": [8, 16], "timesteps": 50, "sampling_steps": 4},
    "vae": {"type": "vae", "channels": [8, 16], "latent": 4},
    "gan": {"type": "gan", "channels": 8, "latent": 8},
}


def _config(tmp_path, name: str, model: dict, **settings) -> str:
    config = {
        "task": "image_generation",
        "name": name,
        "data": {"train": "train.csv", "test": "test.csv", "condition": "label"},
        "split": {"validation": 0.25},
        "model": model,
        "trainer": {"epochs": 2, "batch_size": 8},
    }
    config.update(settings)
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(config))
    return f"{name}.yaml"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Tiny tables, a tiny judge classifier and one trained run of each model type."""
    tmp_path = tmp_path_factory.mktemp("generation")
    write_table(tmp_path, 36)
    write_table(tmp_path, 12, "test.csv", seed=5)
    judge = {
        "name": "judge",
        "data": {"train": "train.csv", "split": {"validation": 0.2, "seed": 1}},
        "inputs": [{"name": "image", "type": "image", "encoder": {"type": "cnn"}}],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {"epochs": 1, "batch_size": 8},
    }
    (tmp_path / "judge.yaml").write_text(yaml.safe_dump(judge))
    modelyard("train", "judge.yaml", "--output", "runs/judge", cwd=tmp_path)
    evaluation = {"judge": "runs/judge", "samples": 12}
    for name, model in MODELS.items():
        config = _config(tmp_path, name, model, evaluation=evaluation)
        modelyard("train", config, "--output", f"runs/{name}", cwd=tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", list(MODELS))
def test_training_writes_metrics_samples_and_report(project, name):
    run = project / "runs" / name
    metrics = json.loads((run / "metrics.json").read_text())
    test = metrics["test"]
    assert {"fid", "kid", "fid_reference", "kid_reference", "judge_accuracy"} <= set(test)
    assert test["fid"] >= 0 and test["samples"] == 12 and 0 <= test["judge_accuracy"] <= 1
    if name != "gan":  # the GAN has no validation loss
        assert metrics["validation"]["loss"] > 0
    grids = sorted(p.name for p in (run / "samples").iterdir())
    assert grids == ["epoch_001.png", "epoch_002.png", "final.png"]
    assert Image.open(run / "samples/final.png").size[1] > 3 * 12  # one row per class
    report = (run / "report.html").read_text()
    assert "samples after epoch 2" in report and "one row per class: Bar, Dot, Square" in report


def test_generate_writes_a_grid_and_each_image_of_one_class(project):
    result = modelyard(
        "generate",
        "runs/diffusion",
        "--class",
        "Square",
        "--n",
        "5",
        "--out",
        "grid.png",
        "--each",
        "each",
        "--steps",
        "3",
        "--guidance",
        "3",
        "--seed",
        "1",
        cwd=project,
    )
    assert json.loads(result.stdout)["images"] == 5
    assert Image.open(project / "grid.png").mode == "L"
    files = sorted((project / "each").iterdir())
    assert len(files) == 5 and Image.open(files[0]).size == (12, 12)


def test_generate_is_repeatable_with_a_seed(project):
    from modelyard.api import Model

    model = Model.load(project / "runs/diffusion")
    a, b = (
        model.sample(4, labels=[0, 1, 2, 0], seed=3),
        model.sample(4, labels=[0, 1, 2, 0], seed=3),
    )
    assert a.dtype.is_floating_point is False and a.shape == (4, 1, 12, 12)
    assert (a == b).all() and not (a == model.sample(4, labels=[0, 1, 2, 0], seed=4)).all()


@pytest.mark.parametrize("name", list(MODELS))
def test_export_onnx_writes_the_network_that_makes_images(project, name):
    result = modelyard(
        "export", f"runs/{name}", "--format", "onnx", "--out", f"{name}.onnx", cwd=project
    )
    found = json.loads(result.stdout)
    assert found["onnxruntime_max_abs_difference"] < 1e-3
    sidecar = json.loads((project / f"{name}.onnx.json").read_text())
    assert (
        sidecar["network"] == {"diffusion": "denoiser", "vae": "decoder", "gan": "generator"}[name]
    )
    assert sidecar["classes"] == ["Bar", "Dot", "Square"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--class", "Circle"],
            "--class 'Circle' is not a class of this model; known: Bar, Dot, Square",
        ),
        (["--n", "0"], "--n 0: ask for at least one image"),
        (["--steps", "0"], "--steps 0: use at least 1 sampling step"),
        (["--prompt", "hello"], "this is an image generation run"),
    ],
)
def test_generate_refuses_bad_arguments(project, args, expected):
    out = [] if "--prompt" in args else ["--out", "bad.png"]
    stderr = user_error(modelyard("generate", "runs/vae", *args, *out, cwd=project, check=None))
    assert expected in stderr


def test_class_on_an_unconditional_run_and_grids_without_classes(tmp_path):
    write_table(tmp_path, 12)
    config = {
        "task": "image_generation",
        "data": {"train": "train.csv"},
        "split": {"validation": 0},
        "model": MODELS["vae"],
        "evaluation": {"grid_every": 0},
        "trainer": {"epochs": 1, "batch_size": 4},
    }
    (tmp_path / "u.yaml").write_text(yaml.safe_dump(config))
    modelyard("train", "u.yaml", "--output", "runs/u", cwd=tmp_path)
    assert [p.name for p in (tmp_path / "runs/u/samples").iterdir()] == ["final.png"]
    result = modelyard(
        "generate", "runs/u", "--class", "Bar", "--out", "g.png", cwd=tmp_path, check=None
    )
    assert "this model is unconditional (trained without data.condition)" in user_error(result)
    modelyard("generate", "runs/u", "--n", "3", "--out", "g.png", cwd=tmp_path)


def test_a_class_folder_trains_a_conditional_wgan_gp(tmp_path):
    write_folder(tmp_path / "shapes")
    model = {**MODELS["gan"], "loss": "wgan_gp", "critic_steps": 2}
    config = {
        "task": "image_generation",
        "data": {"train": "shapes", "condition": "label"},
        "model": model,
        "trainer": {"epochs": 1, "batch_size": 8},
    }
    (tmp_path / "w.yaml").write_text(yaml.safe_dump(config))
    modelyard("train", "w.yaml", "--output", "runs/w", cwd=tmp_path)
    result = modelyard(
        "generate", "runs/w", "--class", "Dot", "--n", "2", "--out", "g.png", cwd=tmp_path
    )
    assert json.loads(result.stdout)["images"] == 2


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            {"type": "vae", "sampling_steps": 5},
            "model.sampling_steps: unknown key for type 'vae'; 'sampling_steps' is a key of type diffusion",
        ),
        (
            {"type": "diffusion", "latent": 5},
            "model.latent: unknown key for type 'diffusion'; 'latent' is a key of type gan and vae",
        ),
        ({"type": "flow"}, "model: unknown type 'flow'"),
        (
            {"type": "diffusion", "timesteps": 10, "sampling_steps": 20},
            "model.sampling_steps 20 is more than model.timesteps 10",
        ),
    ],
)
def test_validate_names_keys_of_another_model_type(tmp_path, model, expected):
    write_table(tmp_path, 6)
    _config(tmp_path, "bad", model)
    assert expected in user_error(modelyard("validate", "bad.yaml", cwd=tmp_path, check=None))


def test_gan_refuses_keeping_the_best_epoch(tmp_path):
    write_table(tmp_path, 6)
    _config(tmp_path, "bad", MODELS["gan"], trainer={"keep": "best"})
    stderr = user_error(modelyard("validate", "bad.yaml", cwd=tmp_path, check=None))
    assert "model.type gan has no validation loss" in stderr


def test_unknown_class_in_test_data_names_its_row(tmp_path):
    write_table(tmp_path, 12)
    (tmp_path / "test.csv").write_text(
        "image,label\nimages_train/0.png,Bar\nimages_train/1.png,Star\n"
    )
    _config(tmp_path, "bad", MODELS["vae"])
    stderr = user_error(modelyard("train", "bad.yaml", cwd=tmp_path, check=None))
    assert (
        "data.test row 2: class 'Star' (column 'label') is not among the training classes" in stderr
    )


def test_missing_judge_is_the_users_error(tmp_path):
    write_table(tmp_path, 12)
    write_table(tmp_path, 6, "test.csv")
    _config(
        tmp_path, "j", MODELS["vae"], evaluation={"judge": "runs/nothing"}, trainer={"epochs": 1}
    )
    stderr = user_error(
        modelyard("train", "j.yaml", "--output", "runs/j", cwd=tmp_path, check=None)
    )
    assert "evaluation.judge" in stderr and "does not exist" in stderr


@pytest.mark.parametrize("verb", ["evaluate", "predict"])
def test_evaluate_and_predict_say_what_a_generation_run_does(project, verb):
    result = modelyard(
        verb, "runs/vae", "--data", "test.csv", "--out", "x.csv", cwd=project, check=None
    )
    assert "image generation run" in user_error(result)
