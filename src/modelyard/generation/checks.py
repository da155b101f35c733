"""Cross-field checks of `task: image_generation` configs (config/checks.py runs them), and
`modelyard validate`'s look at the images."""

from __future__ import annotations

from pathlib import Path


def gan_settings_fit(config) -> list[str]:
    """The GAN's own step: no validation loss to keep the best epoch by, no accumulation."""
    if config.model.type != "gan":
        return []
    t, problems = config.trainer, []
    if t.keep == "best" or t.early_stopping is not None:
        problems.append(
            "model.type gan has no validation loss to choose the best epoch by; set "
            "trainer.keep: last and trainer.early_stopping: null"
        )
    if t.gradient_accumulation > 1:
        problems.append(
            "model.type gan steps its generator and discriminator on every batch; remove "
            "trainer.gradient_accumulation (or set it to 1)"
        )
    return problems


def sampling_fits(config) -> list[str]:
    m = config.model
    if m.type == "diffusion" and m.sampling_steps > m.timesteps:
        return [
            f"model.sampling_steps {m.sampling_steps} is more than model.timesteps {m.timesteps}; "
            "DDIM samples on a subset of the training steps: use at most timesteps"
        ]
    return []


def evaluation_fits(config) -> list[str]:
    if config.evaluation.judge and config.evaluation.samples < 2:
        return ["evaluation.samples: FID needs at least 2 generated images"]
    return []


CHECKS = [gan_settings_fit, sampling_fits, evaluation_fits]


def check_images(config, base: Path) -> list[str]:
    """Read every split and decode the images (errors name the file and row)."""
    from modelyard.generation import data as gdata

    tables = gdata.read_splits(config, base)
    classes = gdata.class_names(tables["train"], config.data.condition)
    feature = gdata.image_feature(config)
    feature.fit(tables["train"][feature.column])
    lines = []
    for name, frame in tables.items():
        gdata.decode(frame, feature, config.data.condition, classes, name)
        lines.append(f"{name}: {len(frame)} images")
    lines.append(
        f"classes: {', '.join(classes)}" if classes else "unconditional (no data.condition)"
    )
    return lines
