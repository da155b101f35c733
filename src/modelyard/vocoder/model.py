"""The Python API of `task: vocoder`: train a neural vocoder on a table's audio column,
measure its copy-synthesis against Griffin-Lim, and load it back as a callable.

`Model.from_config` returns a `Vocoder` for `task: vocoder` configs (and `Model.load` for
such a run). Training runs through the shared skeleton (fitting.Fitting) and loop
(train/loop.py) with the task's own GAN step (vocoder/training.py); each epoch measures the
log-mel L1 of the validation clips' copy-synthesis.

model/ holds weights.safetensors (the generator's weights), mel.json (its MelScale),
modelyard.json (the resolved config) and meta.json.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from modelyard import run
from modelyard.data.mel import MelScale
from modelyard.errors import UserError
from modelyard.fitting import Fitting
from modelyard.train.progress import log
from modelyard.vocoder.data import Clips, SegmentSource, read_clips

MEL_FILE = "mel.json"
WEIGHTS = "weights.safetensors"


def scale_of(config) -> MelScale:
    m = config.mel
    return MelScale(m.sample_rate, m.n_mels, m.window_ms, m.hop_ms)


def build_generator(config):
    from modelyard.vocoder.networks import VocosGenerator

    m = config.model
    return VocosGenerator(scale_of(config), m.dim, m.layers, m.hidden)


class NeuralVocoder:
    """A trained generator as a vocoder: (log_mel (B, n_mels, T), scale) -> (B, (T-1)*hop)."""

    def __init__(self, generator: torch.nn.Module, scale: MelScale, name: str):
        self.generator = generator.eval()
        self.scale = scale
        self.name = name

    @torch.no_grad()
    def __call__(self, log_mel: torch.Tensor, scale: MelScale | None = None) -> torch.Tensor:
        from modelyard.vocoder import check_bands, check_scale

        if scale is not None:
            check_scale(self.scale, scale, f"'{self.name}'")
        check_bands(log_mel, self.scale.n_mels, f"'{self.name}'")
        return self.generator(log_mel.float()).clamp(-1.0, 1.0)


class Vocoder(Fitting):
    """A Vocos-style generator trained adversarially on the clips of `data.train`."""

    reads_from_config = "a vocoder reads its tables from the config (data.train)"

    def __init__(self, config, base_dir: Path | None = None):
        self.config = config
        self.base_dir = base_dir or Path.cwd()
        self.module: torch.nn.Module | None = None  # the generator
        self.metrics: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []

    @property
    def scale(self) -> MelScale:
        return scale_of(self.config)

    def as_vocoder(self) -> NeuralVocoder:
        return NeuralVocoder(self.module, self.scale, self.config.name)

    # ------------------------------------------------------------ the steps of Fitting

    def _prepare(self, data, saved_run: Path | None, procs) -> dict[str, Clips]:
        d, rate = self.config.data, self.config.mel.sample_rate
        limit = self.config.evaluation.clips
        prepared = {"train": read_clips(self.base_dir / d.train, d.audio, rate, where="data.train")}
        for name in ("validation", "test"):
            table = getattr(d, name)
            if table is not None:
                path = self.base_dir / table
                prepared[name] = read_clips(path, d.audio, rate, limit, f"data.{name}")
        if procs.is_main:
            sizes = ", ".join(
                f"{len(c)} {name} clips ({float(c.lengths.sum()) / rate / 60:.1f} min)"
                for name, c in prepared.items()
            )
            log(f"data: {sizes}")
        return prepared

    def _build(self, prepared) -> torch.nn.Module:
        from modelyard.vocoder.networks import Discriminators, VocoderPair

        d = self.config.discriminators
        self._pair = VocoderPair(
            build_generator(self.config), Discriminators(d.periods, d.resolutions, d.channels)
        )
        if self.config.model.init_from is not None:
            self._start_from(self.config.model.init_from)
        return self._pair.generator

    def _start_from(self, spec: str) -> None:
        """Load the generator weights of the finished vocoder run `spec` (model.init_from)."""
        where = f"model.init_from '{spec}'"
        folder = run.model_dir(self.base_dir / spec)
        source = Vocoder.load(folder)
        if source.scale != self.scale or source.config.model.model_dump(
            exclude={"init_from"}
        ) != self.config.model.model_dump(exclude={"init_from"}):
            raise UserError(
                f"{where}: that run's model ({source.config.model.model_dump(exclude={'init_from'})}) "
                f"or mel settings differ from this config's; use the same model and mel sections"
            )
        self._pair.generator.load_state_dict(source.module.state_dict())
        log(f"generator weights from {folder}")

    def _network(self, prepared) -> torch.nn.Module:
        return self._pair

    def _objective(self, prepared):
        return None  # the task's own step computes the losses (_train_step)

    def _train_step(self):
        from modelyard.vocoder.training import vocoder_step

        return vocoder_step(self.scale, self.config.losses)

    def _validation(self, prepared, device: torch.device, bf16: bool):
        if "validation" not in prepared:
            return None
        clips = prepared["validation"]

        def validate(pair) -> dict[str, float]:
            found = self._copy_synthesis(pair.generator, clips, device)
            return {"loss": found["mel_l1"], "mcd": found["mcd"]}

        return validate

    def _epoch_metrics(self) -> tuple[str, ...]:
        return ("mcd",)

    def _train_source(self, prepared) -> SegmentSource:
        t = self.config.trainer
        if t.segment % self.scale.hop:
            raise UserError(
                f"trainer.segment: {t.segment} samples is not a multiple of the hop "
                f"({self.scale.hop} samples); use {t.segment // self.scale.hop * self.scale.hop}"
            )
        return SegmentSource(prepared["train"], t.segment, self.scale.hop, t.batch_size, t.seed)

    def _copy_synthesis(self, generator, clips: Clips, device) -> dict[str, float]:
        from modelyard.vocoder.metrics import copy_synthesis

        was_training = generator.training
        generator.eval()
        vocoder = NeuralVocoder(generator, self.scale, self.config.name)
        found = copy_synthesis(vocoder, [clips.clip(i) for i in range(len(clips))], self.scale)
        generator.train(was_training)
        return found

    def _final_metrics(self, prepared, device: torch.device) -> dict[str, Any]:
        self.module = self.module.to("cpu")
        self.metrics = {}
        for name in ("validation", "test"):
            if name in prepared:
                self.metrics[name] = self._measure(prepared[name])
        return {}

    def _measure(self, clips: Clips) -> dict[str, float]:
        """The vocoder's copy-synthesis metrics, Griffin-Lim's as griffin_lim_<name>."""
        from modelyard.vocoder.griffin_lim import GriffinLim
        from modelyard.vocoder.metrics import copy_synthesis

        waves = [clips.clip(i) for i in range(len(clips))]
        found = self._copy_synthesis(self.module, clips, torch.device("cpu"))
        baseline = GriffinLim(self.config.evaluation.griffin_lim_iterations)
        warm_up = torch.zeros(1, self.scale.n_mels, self.scale.n_fft // self.scale.hop + 2)
        baseline(warm_up, self.scale)  # librosa's first call compiles: not timed
        for key, value in copy_synthesis(baseline, waves, self.scale).items():
            if key != "seconds_of_audio":
                found[f"griffin_lim_{key}"] = value
        found["rows"] = len(clips)
        return found

    def _save_start(self, run_dir: Path, prepared) -> None:
        run.write_config(run_dir, self.config)

    # ------------------------------------------------------------ applying

    def evaluate(self, data: Any) -> dict[str, float]:
        """Copy-synthesis metrics (and Griffin-Lim's) on the first evaluation.clips clips of a table."""
        if not isinstance(data, str | Path):
            raise UserError("a vocoder evaluates a table file with an audio column")
        d = self.config.data
        clips = read_clips(
            Path(data), d.audio, self.config.mel.sample_rate, self.config.evaluation.clips
        )
        return self._measure(clips)

    def require(self, capability: str, tool: str) -> None:
        raise UserError(
            f"{tool} works on supervised runs; this is a vocoder run (load it with "
            "modelyard.vocoder.load_vocoder, or use it from a text_to_speech config)"
        )

    def generate(self, prompt: str, **options: Any) -> str:
        raise UserError(
            "generate needs a causal language model (task: language_model); this is a vocoder run"
        )

    # ------------------------------------------------------------ saving

    def save(self, directory: str | Path) -> None:
        import modelyard
        from modelyard.models.size import model_size

        folder = Path(directory)
        run.save_model(
            folder,
            self.config.model_dump(mode="json"),
            {},
            self.module.state_dict(),
            {
                "modelyard_version": modelyard.__version__,
                "torch_version": torch.__version__,
                "task": "vocoder",
                "parameters": model_size(self.module),
            },
        )
        run.write_json(folder / MEL_FILE, asdict(self.scale))

    @classmethod
    def load(cls, folder: Path) -> Vocoder:
        model, weights = cls._open_saved(folder, WEIGHTS)
        return model._finish_loading(build_generator(model.config), weights)


def load_neural(path: Path, spec: str) -> NeuralVocoder:
    """The vocoder run at `path` (`spec` as the user wrote it) as a callable vocoder."""
    from modelyard.vocoder import GRIFFIN_LIM

    folder = path / run.MODEL_DIR if (path / run.MODEL_DIR).is_dir() else path
    config_file = folder / run.CONFIG_FILE
    task = run.read_json(config_file).get("task") if config_file.is_file() else None
    if task != "vocoder":
        what = "does not exist" if not path.exists() else "is not a vocoder run (task: vocoder)"
        raise UserError(
            f"vocoder '{spec}': '{path}' {what}; give '{GRIFFIN_LIM}' or the run directory "
            "of a `modelyard train` of a task: vocoder config"
        )
    return Vocoder.load(folder).as_vocoder()
