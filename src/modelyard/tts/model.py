"""The Python API of speech synthesis: train an acoustic model on (text, audio[, speaker])
tables, synthesize speech, measure it.

`Model.from_config` returns a `Synthesizer` for `task: text_to_speech` configs (and
`Model.load` for such a run). Training runs through the shared skeleton (fitting.Fitting)
and loop (train/loop.py); the validation loss after every epoch; the test split is
synthesized and scored once at the end (tts/evaluate.py).

model/: weights.safetensors (the AcousticModel, with the mel statistics), preprocessing.json
(front end, symbol set, speakers, mel format), modelyard.json (the resolved config), meta.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from modelyard import run
from modelyard.errors import UserError
from modelyard.fitting import Fitting
from modelyard.train.progress import log
from modelyard.tts import data as tts_data
from modelyard.tts.frontend import FrontEnd


class Synthesizer(Fitting):
    """Text (+ speaker) -> log-mel frames (AcousticModel) -> audio (a vocoder)."""

    reads_from_config = "text to speech reads its tables from the config (data.train)"

    def __init__(self, config, base_dir: Path | None = None):
        self.config = config
        self.base_dir = base_dir or Path.cwd()
        f = config.front_end
        self.front_end = FrontEnd(f.type, f.language, f.lowercase, f.unknown)
        self.speakers: list[str] = [""]
        self.module: torch.nn.Module | None = None
        self.metrics: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []

    @property
    def scale(self):
        from modelyard.data.mel import MelScale

        a = self.config.audio
        return MelScale(a.sample_rate, a.n_mels, a.window_ms, a.hop_ms)

    # ------------------------------------------------------------ reading data

    def clips(self, frame, where: str, audio: bool = True, folder: Path | None = None):
        """The rows of `frame` as Clips (symbol ids, speakers and, with `audio`, log-mels)."""
        columns = self.config.data.columns
        tts_data.require_columns(frame, columns, where, audio)
        rows = [f"{where} row {n + 1}" for n in range(len(frame))]
        texts = [str(t) if isinstance(t, str) else "" for t in frame[columns.text]]
        tokens = self.front_end.encode(texts, rows)
        speakers = tts_data.speaker_ids(frame, columns.speaker, self.speakers, where)
        clips = tts_data.Clips(texts, tokens, speakers, rows=rows)
        if audio:
            clips.paths = [(folder or Path.cwd()) / str(p) for p in frame[columns.audio]]
            clips.mels = tts_data.load_mels(clips.paths, rows, columns.audio, self.scale)
        return clips

    def _tables(self) -> dict[str, Any]:
        d = self.config.data
        files = {"train": d.train, "validation": d.validation, "test": d.test}
        return {
            name: (self.base_dir / path, tts_data.read_tts_table(self.base_dir / path))
            for name, path in files.items()
            if path is not None
        }

    def _prepare(self, data, saved_run: Path | None, procs) -> dict[str, tts_data.Clips]:
        self._check_recogniser()
        tables = self._tables()
        train_path, train = tables["train"]
        tts_data.require_columns(train, self.config.data.columns, "train data")
        if saved_run is not None:
            self._load_state(run.read_json(saved_run / run.MODEL_DIR / "preprocessing.json"))
        else:
            self.speakers = tts_data.speaker_names(train, self.config.data.columns.speaker)
            texts = [t if isinstance(t, str) else "" for t in train[self.config.data.columns.text]]
            for n, text in enumerate(texts):
                if not text.strip():
                    raise UserError(
                        f"train data row {n + 1}: the text is empty; give something to say or remove the row"
                    )
            self.front_end.fit(self.front_end.strings(texts))
        prepared = {
            name: self.clips(frame, f"{name} data", folder=path.parent)
            for name, (path, frame) in tables.items()
        }
        prepared["train"] = self._check_lengths(prepared["train"])
        if procs.is_main:
            sizes = ", ".join(f"{len(c)} {name} clips" for name, c in prepared.items())
            log(
                f"data: {sizes}; {len(self.front_end.symbols)} symbols ({self.front_end.kind}); "
                f"{len(self.speakers)} speaker(s)"
            )
        return prepared

    def _check_recogniser(self) -> None:
        """evaluation.recogniser must be a finished run before an hour of training, not after."""
        name = self.config.evaluation.recogniser
        if (
            name
            and not (self.base_dir / name / run.MODEL_DIR / run.CONFIG_FILE).is_file()
            and not (self.base_dir / name / run.CONFIG_FILE).is_file()
        ):
            raise UserError(
                f"evaluation.recogniser: '{self.base_dir / name}' is not a finished run; train the "
                "recogniser first (modelyard train examples/tts/asr.yaml) or set evaluation.recogniser: null"
            )

    def _check_lengths(self, clips: tts_data.Clips) -> tts_data.Clips:
        """The training rows whose audio wildly mismatches their text: an error naming them,
        or (data.mismatch: drop) left out with a note."""
        d = self.config.data
        found = tts_data.mismatched(clips, self.config.model.reduction, d.mismatch_ratio)
        if not found:
            return clips
        if d.mismatch == "error":
            raise tts_data.mismatch_error(clips, found)
        bad = {i for i, _ in found}
        log(
            f"note: left out {len(bad)} training rows whose audio does not match their text's length: "
            + ", ".join(clips.rows[i] for i in sorted(bad)[:10])
        )
        kept = clips.keep([i for i in range(len(clips)) if i not in bad])
        kept.left_out = {"audio length does not match text": len(bad)}
        return kept

    # ------------------------------------------------------------ the steps of Fitting

    def _build(self, prepared) -> torch.nn.Module:
        from modelyard.tts.network import AcousticModel

        m = self.config.model
        module = AcousticModel(
            len(self.front_end.symbols),
            len(self.speakers),
            self.config.audio.n_mels,
            m.dim,
            m.encoder_layers,
            m.attention_layers,
            m.heads,
            m.decoder_layers,
            m.decoder_dim,
            m.kernel,
            m.reduction,
            m.speaker_dim,
            m.dropout,
            m.duration_weight,
            m.prior_weight,
        )
        if "train" in prepared:
            frames = torch.cat([mel for mel in prepared["train"].mels], dim=1)  # (M, all frames)
            module.mel_mean.copy_(frames.mean(1))
            module.mel_std.copy_(frames.std(1).clamp(min=1e-3))
        return module

    def _objective(self, prepared):
        return lambda network, batch: network(batch)["loss"]

    def _validation(self, prepared, device: torch.device, bf16: bool):
        if "validation" not in prepared:
            return None
        part = prepared["validation"]
        return lambda network: self._losses(network, part, device, bf16)

    def _epoch_metrics(self) -> tuple[str, ...]:
        return ("mel_l1", "duration")

    def _train_source(self, prepared):
        from modelyard.data.mel import LOG_FLOOR

        settings = self.config.trainer
        return tts_data.ClipSource(
            prepared["train"], settings.batch_size, settings.seed, float(np.log(LOG_FLOOR))
        )

    @torch.no_grad()
    def _losses(self, network, clips, device, bf16: bool) -> dict[str, float]:
        """Mean training losses over `clips` (teacher-forced: MAS durations)."""
        from modelyard.data.mel import LOG_FLOOR
        from modelyard.train.precision import autocast

        inner = getattr(network, "module", network)
        was = inner.training
        inner.eval()
        totals: dict[str, float] = {}
        size = self.config.trainer.eval_batch_size
        for at in range(0, len(clips), size):
            index = list(range(at, min(at + size, len(clips))))
            batch = tts_data.collate(clips, index, float(np.log(LOG_FLOOR)))
            with autocast(device, bf16):
                out = inner({k: v.to(device) for k, v in batch.items()})
            for k, v in out.items():
                totals[k] = totals.get(k, 0.0) + float(v) * len(index)
        inner.train(was)
        return {k: v / len(clips) for k, v in totals.items()}

    def _final_metrics(self, prepared, device: torch.device) -> dict[str, Any]:
        from modelyard.train.precision import use_bf16
        from modelyard.tts.evaluate import evaluate_clips

        bf16 = use_bf16(self.config.trainer.precision, device)
        self.module.to(device)
        self.metrics = {}
        for name in ("validation", "test"):
            if name in prepared:
                self.metrics[name] = {
                    **self._losses(self.module, prepared[name], device, bf16),
                    "rows": len(prepared[name]),
                }
        train = prepared["train"]
        if train.left_out:
            self.metrics["train"] = {"rows": len(train), "rows_left_out": train.left_out}
        self.module.to("cpu")
        details: dict[str, Any] = {}
        if "test" in prepared:
            found, details = evaluate_clips(self, prepared["test"], self._run_dir)
            self.metrics["test"].update(found)
        return details

    def _save_start(self, run_dir: Path, prepared) -> None:
        run.write_config(run_dir, self.config)
        folder = run_dir / run.MODEL_DIR
        folder.mkdir(parents=True, exist_ok=True)
        run.write_json(folder / "preprocessing.json", self._state())  # a resumed run reads it back

    def _save_end(self, run_dir: Path, details: dict[str, Any]) -> None:
        from modelyard.tts.report import add_listening

        self.save(run_dir / run.MODEL_DIR)
        report = run.write_results(run_dir, self.config, self.metrics, self.history, {})
        add_listening(report, details)
        log(f"run saved to {run.final_dir(run_dir)}")

    # ------------------------------------------------------------ synthesis

    def speaker_id(self, speaker: str | None) -> int:
        if speaker is None or self.speakers == [""]:
            if speaker:
                raise UserError(f"unknown speaker '{speaker}': this model has a single voice")
            return 0
        if speaker not in self.speakers:
            raise UserError(tts_data.unknown_speaker(speaker, self.speakers, "--speaker"))
        return self.speakers.index(speaker)

    def mels(
        self,
        texts: list[str],
        speakers: list[int],
        speed: float = 1.0,
        where: list[str] | None = None,
    ) -> list[torch.Tensor]:
        """Texts -> a (M, T) log-mel each (the acoustic model alone, CPU)."""
        where = where or [f"text {i + 1}" for i in range(len(texts))]
        tokens = self.front_end.encode(texts, where)
        out = []
        for at in range(0, len(tokens), 16):
            batch = tts_data.collate(
                tts_data.Clips(texts[at : at + 16], tokens[at : at + 16], speakers[at : at + 16]),
                list(range(len(tokens[at : at + 16]))),
                0.0,
            )
            mel, frames = self.module.synthesize(batch["tokens"], batch["speaker"], speed)
            out.extend(mel[i, :, : frames[i]] for i in range(len(frames)))
        return out

    def synthesize(
        self,
        text: str | list[str],
        speaker: str | None = None,
        vocoder: Any = None,
        speed: float = 1.0,
    ) -> list[np.ndarray]:
        """Text(s) -> (samples,) float32 waves at `self.scale.sample_rate`. `vocoder`:
        `griffin_lim`, a vocoder run directory (relative to the current directory), or a
        loaded vocoder; None: the config's `evaluation.vocoder` (relative to its folder)."""
        from modelyard.tts.vocoding import get_vocoder, vocode

        texts = [text] if isinstance(text, str) else list(text)
        if not speed > 0:
            raise UserError(f"speed {speed}: use a positive number (1.0 is the trained pace)")
        ids = [self.speaker_id(speaker)] * len(texts)
        if vocoder is None:
            voc = get_vocoder(self.config.evaluation.vocoder, self.base_dir)
        else:
            voc = (
                get_vocoder(str(vocoder), Path.cwd())
                if isinstance(vocoder, str | Path)
                else vocoder
            )
        return vocode(voc, self.mels(texts, ids, speed), self.scale)

    def evaluate(self, data: Any, **evaluation: Any) -> dict[str, Any]:
        """Synthesis metrics on a labelled table (text, audio[, speaker]) or DataFrame.
        `evaluation`: settings of the config's `evaluation` section to use instead (rows,
        vocoder, whisper, recogniser), e.g. `recogniser="runs/tts_asr"` (paths given here are
        relative to the current directory, the config's to its folder)."""
        from modelyard.tts.evaluate import evaluate_clips

        if evaluation:
            from modelyard.config import validate

            for key in ("vocoder", "recogniser"):  # given paths: from the current directory
                value = evaluation.get(key)
                if isinstance(value, str | Path) and str(value) != "griffin_lim":
                    evaluation[key] = str(Path(value).resolve())
            raw = self.config.model_dump(mode="json")
            raw["evaluation"].update(evaluation)
            self.config = validate(raw, "evaluate options")
        path = Path(data) if not hasattr(data, "columns") else None
        frame = tts_data.read_tts_table(path) if path else data
        clips = self.clips(frame, "data", folder=path.parent if path else None)
        return evaluate_clips(self, clips, None)[0]

    def predict(self, data: Any, include_inputs: bool = False, **options: Any):
        raise UserError(
            "a text to speech run makes audio: use modelyard synthesize RUN --text ... --out speech.wav"
        )

    def create_app(self, **options: Any):
        """`modelyard serve`'s app (tts/serve.py): POST /synthesize -> WAV."""
        from modelyard.tts.serve import create_tts_app

        return create_tts_app(self, **options)

    def require(self, capability: str, tool: str) -> None:
        if capability == "serve":
            return
        raise UserError(
            f"{tool} works on supervised runs; this is a text to speech run (use synthesize or serve)"
        )

    def generate(self, prompt: str, **options: Any) -> str:
        raise UserError(
            "generate needs a causal language model; this is a text to speech run (use synthesize)"
        )

    # ------------------------------------------------------------ saving

    def _state(self) -> dict[str, Any]:
        return {
            "front_end": self.front_end.state(),
            "speakers": self.speakers,
            "mel": self.config.audio.model_dump(),
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.front_end = FrontEnd.from_state(state["front_end"], self.config.front_end.unknown)
        self.speakers = state["speakers"]

    def save(self, directory: str | Path) -> None:
        from modelyard.fitting import config_dir_of
        from modelyard.models.size import model_size

        meta = {"task": "text_to_speech", "parameters": model_size(self.module)}
        meta.update(config_dir_of(self.base_dir))  # evaluation.vocoder, recogniser after load
        run.save_model(
            Path(directory),
            self.config.model_dump(mode="json"),
            self._state(),
            self.module.state_dict(),
            meta,
        )

    @classmethod
    def load(cls, folder: Path) -> Synthesizer:
        model, weights = cls._open_saved(folder)
        model._load_state(run.read_json(folder / "preprocessing.json"))
        return model._finish_loading(model._build({}), weights)
