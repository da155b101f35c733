"""The Python API of image generation: train a VAE, GAN or diffusion model on images, sample
them (per class where the model is conditional), measure FID and KID offline.

`Model.from_config` returns an `ImageGenerator` for `task: image_generation` configs (and
`Model.load` for such a run). Training runs through the shared skeleton (fitting.Fitting) and
loop (train/loop.py); diffusion and GAN bring their own training step (EMA weights; two
alternating optimizer steps). After each `evaluation.grid_every` epochs a grid of samples
per class goes to samples/epoch_<N>.png and into report.html.

model/ holds weights.safetensors, preprocessing.json (image size, colour, class names),
modelyard.json (the resolved config) and meta.json.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from modelyard import run
from modelyard.errors import UserError
from modelyard.fitting import Fitting
from modelyard.generation import data as gdata
from modelyard.train.progress import log

SAMPLES_DIR = "samples"
GRID_PER_CLASS = 8  # images per class (per row) in the report's grids


class ImageGenerator(Fitting):
    """A generative model of images; `sample` / `generate_images` draw new ones."""

    reads_from_config = "image generation reads its images from the config (data.train)"

    def __init__(self, config, base_dir: Path | None = None):
        self.config = config
        self.base_dir = base_dir or Path.cwd()
        self.module: torch.nn.Module | None = None
        self.metrics: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []
        self.classes: list[str] = []
        self.image_state: dict[str, Any] = {}

    @property
    def shape(self) -> tuple[int, int, int]:
        s = self.image_state
        return (s["channels"], s["height"], s["width"])

    # ------------------------------------------------------------ the steps of Fitting

    def _prepare(self, data, saved_run: Path | None, procs) -> dict[str, gdata.Images]:
        tables = gdata.read_splits(self.config, self.base_dir)
        condition = self.config.data.condition
        if saved_run is not None:
            state = run.read_json(saved_run / run.MODEL_DIR / "preprocessing.json")
            self.classes, feature = (
                state["classes"],
                gdata.image_feature(self.config, state["image"]),
            )
        else:
            self.classes = gdata.class_names(tables["train"], condition)
            feature = gdata.image_feature(self.config)
            feature.fit(tables["train"][feature.column])
        self.image_state = feature.state()
        prepared = {
            name: gdata.decode(frame, feature, condition, self.classes, name)
            for name, frame in tables.items()
        }
        if procs.is_main:
            sizes = ", ".join(f"{len(p.pixels)} {name}" for name, p in prepared.items())
            c, h, w = self.shape
            kinds = f"{len(self.classes)} classes" if self.classes else "unconditional"
            log(f"data: {sizes} images, {h}x{w}x{c}, {kinds}")
        return prepared

    def _build(self, prepared) -> torch.nn.Module:
        from modelyard.generation.kinds import build_network

        return build_network(self.config.model, self.shape, len(self.classes))

    def _objective(self, prepared):
        return _own_loss

    def _train_step(self):
        from modelyard.generation.kinds import ema_step, gan_step

        cfg = self.config.model
        if cfg.type == "diffusion":
            return ema_step(cfg.ema_decay)
        return gan_step if cfg.type == "gan" else None

    def _validation(self, prepared, device: torch.device, bf16: bool):
        part = prepared.get("validation")
        epochs = iter(range(1, 10**9))
        every = self.config.evaluation.grid_every

        def validate(network) -> dict[str, float]:
            epoch = next(epochs)
            found = _validation_loss(
                network, part, device, bf16, self.config.trainer.eval_batch_size
            )
            if every and self._run_dir is not None and epoch % every == 0:
                self._write_grid(network, self._run_dir / SAMPLES_DIR / f"epoch_{epoch:03d}.png")
            return found

        return validate

    def _train_source(self, prepared):
        from modelyard.data.source import InMemorySource

        settings = self.config.trainer
        return InMemorySource(prepared["train"].tensors(), settings.batch_size, settings.seed)

    def _final_metrics(self, prepared, device: torch.device) -> dict[str, Any]:
        from modelyard.train.precision import use_bf16

        bf16 = use_bf16(self.config.trainer.precision, device)
        size = self.config.trainer.eval_batch_size
        self.metrics = {}
        if "validation" in prepared and self.config.model.type != "gan":  # (no loss to show)
            self.metrics["validation"] = _validation_loss(
                self.module, prepared["validation"], device, bf16, size
            )
        judged = prepared.get("test") or prepared.get("validation")
        if self.config.evaluation.judge and judged is not None:
            split = "test" if "test" in prepared else "validation"
            self.metrics.setdefault(split, {}).update(
                self._judged(prepared["train"], judged, device)
            )
        self.module.to("cpu")
        return {"samples": {"image": {"figures": self._figures()}}} if self._run_dir else {}

    def _judged(self, train: gdata.Images, real: gdata.Images, device) -> dict[str, float]:
        """fid, kid (samples against the real images of the split), their real-data
        references (as many real training images against the same split), the judge's
        accuracy on conditional samples (does it see the class asked for?) and the
        sampling time per 64 images."""
        from modelyard.generation.judge import fid_kid, load_judge

        judge = load_judge(self._path(self.config.evaluation.judge))
        n = self.config.evaluation.samples
        labels = _balanced(n, len(self.classes))
        began = time.perf_counter()
        fake = self.sample(n, labels=labels, device=device)
        seconds = time.perf_counter() - began
        found = fid_kid(judge, real.pixels, fake)
        pick = torch.randperm(len(train.pixels), generator=torch.Generator().manual_seed(0))[:n]
        reference = fid_kid(judge, real.pixels, train.pixels[pick])
        found.update(fid_reference=reference["fid"], kid_reference=reference["kid"])
        if labels is not None and set(self.classes) <= set(judge.classes):
            asked = torch.tensor([judge.classes.index(self.classes[i]) for i in labels])
            found["judge_accuracy"] = float((judge.predict(fake) == asked).float().mean())
        found.update(samples=n, sampling_seconds_per_64=seconds / n * 64)
        log(
            f"fid {found['fid']:.3f} (real images {found['fid_reference']:.3f}), kid {found['kid']:.4f} (real {found['kid_reference']:.4f})"
        )
        return found

    def _path(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def _save_start(self, run_dir: Path, prepared) -> None:
        run.write_config(run_dir, self.config)
        folder = run_dir / run.MODEL_DIR
        folder.mkdir(parents=True, exist_ok=True)  # a resumed run reads it back
        run.write_json(folder / "preprocessing.json", self._preprocessing())

    # ------------------------------------------------------------ sampling

    def sample(
        self,
        n: int,
        labels: list[int] | torch.Tensor | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        seed: int = 0,
        device: torch.device | None = None,
    ) -> torch.Tensor:
        """(n, C, H, W) uint8 new images; `labels`: n class indices (a conditional model
        without them: every class in turn); `steps`/`guidance`: diffusion's DDIM steps and
        guidance scale (default: model.sampling_steps / model.guidance)."""
        from modelyard.train.precision import autocast, use_bf16

        cfg = self.config.model
        steps = steps or getattr(cfg, "sampling_steps", 1)
        guidance = getattr(cfg, "guidance", 1.0) if guidance is None else guidance
        if labels is None and self.classes:
            labels = _balanced(n, len(self.classes))
        device = device or torch.device("cpu")
        network = self.module.to(device).eval()
        generator = torch.Generator().manual_seed(seed)
        out = []
        size = self.config.trainer.eval_batch_size
        for at in range(0, n, size):
            count = min(size, n - at)
            noise = torch.randn(network.noise_shape(count), generator=generator).to(device)
            part = None if labels is None else torch.as_tensor(labels[at : at + count]).to(device)
            with autocast(device, use_bf16(self.config.trainer.precision, device)):
                images = network.sample(noise, part, steps, guidance)
            out.append(gdata.to_pixels(images).cpu())
        return torch.cat(out)

    def class_index(self, name: str | None) -> int | None:
        """The index of class `name`; a clear error for an unknown class or an unconditional run."""
        if name is None:
            return None
        if not self.classes:
            raise UserError(
                f"--class '{name}': this model is unconditional (trained without data.condition); leave --class out"
            )
        if name not in self.classes:
            raise UserError(
                f"--class '{name}' is not a class of this model; known: {', '.join(self.classes)}"
            )
        return self.classes.index(name)

    def generate_images(
        self,
        n: int,
        out: str | Path,
        label: str | None = None,
        each: str | Path | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Write `out` (a grid PNG of n samples, of class `label`, or every class in turn)
        and, with `each`, one PNG per sample in that folder. Returns what was written."""
        from modelyard.generation.grid import save_each, save_grid

        if n < 1:
            raise UserError(f"--n {n}: ask for at least one image")
        if steps is not None and steps < 1:
            raise UserError(f"--steps {steps}: use at least 1 sampling step")
        index = self.class_index(label)
        labels = [index] * n if index is not None else None
        began = time.perf_counter()
        images = self.sample(n, labels, steps, guidance, seed)
        seconds = time.perf_counter() - began
        written = {
            "grid": str(save_grid(images, Path(out))),
            "images": n,
            "seconds": round(seconds, 3),
        }
        if each is not None:
            written["each"] = [str(p) for p in save_each(images, Path(each))]
        return written

    def _write_grid(self, network, path: Path) -> None:
        """A grid: one row of GRID_PER_CLASS samples per class (4 rows unconditional)."""
        from modelyard.generation.grid import save_grid

        module, self.module = self.module, network
        try:
            rows = len(self.classes) or 4
            labels = (
                [i // GRID_PER_CLASS for i in range(rows * GRID_PER_CLASS)]
                if self.classes
                else None
            )
            device = next(network.parameters()).device
            images = self.sample(rows * GRID_PER_CLASS, labels, device=device)
            save_grid(images, path, columns=GRID_PER_CLASS)
        finally:
            self.module = module
            network.train()

    def _figures(self) -> list[dict[str, Any]]:
        """The report's grids: the final model's, then each epoch's (base64 PNG)."""
        import base64

        final = self._run_dir / SAMPLES_DIR / "final.png"
        self._write_grid(self.module, final)
        self.module.eval()
        rows = "one row per class: " + ", ".join(self.classes) if self.classes else "unconditional"
        figures = [{"caption": f"samples of the final model ({rows})", "png": final}]
        for path in sorted((self._run_dir / SAMPLES_DIR).glob("epoch_*.png")):
            figures.append({"caption": f"samples after epoch {int(path.stem[6:])}", "png": path})
        return [
            {
                "caption": f["caption"],
                "png": base64.b64encode(f["png"].read_bytes()).decode(),
                "wide": False,
            }
            for f in figures
        ]

    # ------------------------------------------------------------ other tools

    def generate(self, prompt: str, **options: Any) -> str:
        raise UserError(
            "this is an image generation run: generate it with --n N --out grid.png [--class NAME] (no --prompt)"
        )

    def require(self, capability: str, tool: str) -> None:
        if capability == "export":
            return
        raise UserError(
            f"{tool} works on supervised runs; this is an image generation run (use generate or export)"
        )

    def evaluate(self, data: Any) -> dict[str, float]:
        raise UserError(
            "an image generation run is measured when its training ends (FID/KID against the "
            "real test images, in metrics.json); evaluate against other images is not supported yet"
        )

    def predict(self, data: Any, include_inputs: bool = False, **options: Any):
        raise UserError(
            "an image generation run has nothing to predict; use modelyard generate RUN --n N --out grid.png"
        )

    def export_network(self, fmt: str, out: Path, data: Any = None) -> dict[str, Any]:
        """`modelyard export`: the denoiser (diffusion), decoder (vae) or generator (gan);
        `data` is not needed (the example inputs are made up)."""
        from modelyard.generation.export import export_network

        return export_network(self, fmt, out)

    # ------------------------------------------------------------ saving

    def save(self, directory: str | Path) -> None:
        import modelyard
        from modelyard.fitting import config_dir_of
        from modelyard.models.size import model_size

        meta = {
            "modelyard_version": modelyard.__version__,
            "torch_version": torch.__version__,
            "task": "image_generation",
            "parameters": model_size(self.module),
            **config_dir_of(self.base_dir),  # evaluation.judge after load
        }
        state = self.module.state_dict()
        run.save_model(
            Path(directory), self.config.model_dump(mode="json"), self._preprocessing(), state, meta
        )

    def _preprocessing(self) -> dict[str, Any]:
        """preprocessing.json: the image preprocessor's state and the class names."""
        return {"image": self.image_state, "classes": self.classes}

    @classmethod
    def load(cls, folder: Path) -> ImageGenerator:
        from modelyard.generation.kinds import build_network

        model, weights = cls._open_saved(folder)
        state = run.read_json(folder / "preprocessing.json")
        model.image_state, model.classes = state["image"], state["classes"]
        network = build_network(model.config.model, model.shape, len(model.classes))
        return model._finish_loading(network, weights)


def _own_loss(network, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The objective of diffusion and vae: their forward is the loss."""
    return network(batch)


def _balanced(n: int, classes: int) -> list[int] | None:
    """n class indices, every class in turn (None for an unconditional model)."""
    return [i % classes for i in range(n)] if classes else None


@torch.no_grad()
def _validation_loss(
    network, part: gdata.Images | None, device, bf16: bool, size: int
) -> dict[str, float]:
    """{"loss": mean training loss on the validation images} with fixed noise (diffusion,
    vae); {} for a GAN (its losses say little) or without validation images."""
    from modelyard.train.precision import autocast

    inner = getattr(network, "module", network)
    if (
        part is None
        or not hasattr(inner, "forward")
        or type(inner).forward is torch.nn.Module.forward
    ):
        return {}
    state = torch.get_rng_state()
    torch.manual_seed(0)
    was = inner.training
    inner.eval()
    total, rows = 0.0, len(part.pixels)
    tensors = part.tensors()
    try:
        for at in range(0, rows, size):
            batch = {k: v[at : at + size].to(device) for k, v in tensors.items()}
            with autocast(device, bf16):
                total += float(inner(batch)) * len(batch["image"])
    finally:
        torch.set_rng_state(state)
        inner.train(was)
    return {"loss": total / max(rows, 1), "rows": rows}
