"""The vocoder task's config: a table's audio column, the log-mel format the vocoder turns
back into sound (modelyard.data.mel.MelScale), the Vocos-style generator, its
discriminators, the losses and the held-out evaluation against Griffin-Lim."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, PositiveInt

from modelyard.config.schema.common import Strict
from modelyard.config.schema.trainer import AdamW, EarlyStopping, Optimizer, Tracking, Trainer

Path = Annotated[str, Field(min_length=1)]
Column = Annotated[str, Field(min_length=1)]


class VocoderData(Strict):
    """CSV, TSV, Parquet or JSON-lines tables, relative to the config's folder, with a column
    of audio file paths (relative to the table's folder): `train`, and optionally
    `validation` (mel L1 after each epoch) and `test` (measured once at the end). The same
    tables as a `task: text_to_speech` run; other columns are ignored."""

    train: Path
    validation: Path | None = None
    test: Path | None = None
    audio: Column = "audio"


class VocoderMel(Strict):
    """The log-mel format (modelyard.data.mel.MelScale) the vocoder reads: a text-to-speech
    run that uses this vocoder must predict mels of the same settings. The defaults are the
    speech-synthesis ones: 22,050 Hz, 80 bands, 1023-sample window (FFT 1024), hop 256."""

    sample_rate: PositiveInt = 22050
    n_mels: PositiveInt = 80
    window_ms: PositiveFloat = 46.4
    hop_ms: PositiveFloat = 11.6


class VocoderModel(Strict):
    """Vocos-style generator: `layers` ConvNeXt blocks of width `dim` (pointwise MLP of
    `hidden`) at the frame rate predict each STFT frame's magnitude and phase; an inverse
    STFT makes the waveform. Use when synthesis must run on a CPU (its cost is per frame,
    not per sample); alternative: `griffin_lim` (no training, audibly phasey).
    Cost: about dim * hidden * layers * 2 multiply-adds per frame. `init_from`: a finished
    vocoder run (relative to the config's folder) of the same model and mel settings whose
    generator weights training starts from (fine-tuning: on more steps, other voices, or a
    text-to-speech model's own mels); the discriminators start afresh."""

    type: Literal["vocos"] = "vocos"
    dim: PositiveInt = 192
    layers: PositiveInt = 6
    hidden: PositiveInt = 576
    init_from: Path | None = None


class VocoderDiscriminators(Strict):
    """Multi-period discriminators (HiFi-GAN: the waveform folded by each of `periods`) and
    multi-resolution spectrogram discriminators (Vocos/UnivNet: one per FFT size in
    `resolutions`), each `channels` wide. Empty lists drop a family."""

    periods: list[PositiveInt] = [2, 3, 5, 7, 11]
    resolutions: list[PositiveInt] = [512, 1024, 2048]
    channels: PositiveInt = 16


class VocoderLosses(Strict):
    """Generator loss = mel * L1(log-mel of the output, log-mel of the real clip) +
    feature * feature matching (L1 between discriminator feature maps of real and
    generated audio) + adversarial * least-squares GAN loss. The discriminators train from
    step `adversarial_from_step` on (before it: mel loss alone, ~7x cheaper steps; as
    Parallel WaveGAN's discriminator_train_start_steps)."""

    mel: Annotated[float, Field(ge=0)] = 45.0
    feature: Annotated[float, Field(ge=0)] = 2.0
    adversarial: Annotated[float, Field(ge=0)] = 1.0
    adversarial_from_step: Annotated[int, Field(ge=0)] = 0


class VocoderEvaluation(Strict):
    """What the end of training measures on the validation and test clips (the first
    `clips` of each table): mel-cepstral distortion and log-mel L1 of the vocoder's and of
    Griffin-Lim's (`griffin_lim_iterations`) copy-synthesis, and real-time factors."""

    clips: PositiveInt = 40
    griffin_lim_iterations: PositiveInt = 32


class VocoderTrainer(Trainer):
    """As `trainer` elsewhere, with GAN-vocoder defaults (AdamW 2e-4, betas 0.8/0.99, as
    HiFi-GAN; no early stopping, keep the last epoch). One step: a discriminator update,
    then a generator update (one optimizer over both networks, each update touching only its
    own network's parameters). `segment`: samples of the random piece of each clip a batch
    holds (a multiple of the hop)."""

    epochs: PositiveInt = 20
    batch_size: PositiveInt | Literal["full"] = 16
    optimizer: Optimizer = AdamW(lr=2e-4, betas=(0.8, 0.99), weight_decay=0.0)
    early_stopping: EarlyStopping | None = None
    keep: Literal["best", "last"] = "last"
    eval_batch_size: PositiveInt = 8
    segment: Annotated[int, Field(ge=256)] = 8192


class VocoderConfig(Strict):
    """A neural vocoder: log-mel spectrograms back to waveforms, for text to speech."""

    task: Literal["vocoder"]
    name: str = "run"
    data: VocoderData
    mel: VocoderMel = VocoderMel()
    model: VocoderModel = VocoderModel()
    discriminators: VocoderDiscriminators = VocoderDiscriminators()
    losses: VocoderLosses = VocoderLosses()
    evaluation: VocoderEvaluation = VocoderEvaluation()
    trainer: VocoderTrainer = VocoderTrainer()
    tracking: Tracking = Tracking()
