"""The only place a validated config becomes `nn.Module`s.

Each builder reads the config and the fitted preprocessor of its feature and passes plain
arguments to a module class. Registry keys are `<feature type>.<encoder type>`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from modelyard.config.schema import Config
from modelyard.data.features import Preprocessing
from modelyard.errors import UserError
from modelyard.models import combiners, heads
from modelyard.models.encoders import (
    audio,
    bow,
    cnn,
    mlp,
    pretrained,
    resnet,
    rnn,
    tabular,
    transformer,
)
from modelyard.models.encoders.pixels import Pixels
from modelyard.models.model import STACKED, YardModel
from modelyard.registry import Registry

Builder = Callable[[Any, Any], nn.Module]
ENCODERS: Registry[Builder] = Registry("encoder")
COMBINERS: Registry[Callable[[Any, int], nn.Module]] = Registry("combiner")


@ENCODERS.register("number.passthrough")
@ENCODERS.register("binary.passthrough")
def _passthrough(cfg, feature) -> nn.Module:
    return tabular.Passthrough(1)


@ENCODERS.register("number.periodic")
def _periodic(cfg, feature) -> nn.Module:
    return tabular.PeriodicNumber(cfg.frequencies, cfg.dim, cfg.sigma)


def encoder_config(feature):
    """The input's encoder settings, `auto` settled: a number's `auto` is `periodic` (with
    its defaults) from `PERIODIC_ROWS` training values of the column, else `passthrough`."""
    from modelyard.config.schema import NumberPeriodic, Passthrough
    from modelyard.config.schema.encoders import PERIODIC_ROWS

    encoder = feature.config.encoder
    if encoder.type != "auto":
        return encoder
    return NumberPeriodic() if feature.rows >= PERIODIC_ROWS else Passthrough()


@ENCODERS.register("number.auto")
def _number_auto(cfg, feature) -> nn.Module:
    settled = encoder_config(feature)  # build_model stacks the passthrough ones instead
    return ENCODERS.get(f"number.{settled.type}")(settled, feature)


@ENCODERS.register("category.embed")
def _embed(cfg, feature) -> nn.Module:
    categories = len(feature.vocab)
    return tabular.CategoryEmbedding(
        categories, cfg.dim or min(50, (categories + 1) // 2), cfg.dropout
    )


@ENCODERS.register("category.onehot")
def _onehot(cfg, feature) -> nn.Module:
    return tabular.OneHot(len(feature.vocab))


@ENCODERS.register("text.mlp")
def _text_mlp(cfg, feature) -> nn.Module:
    return mlp.TextMlp(feature.vocab_size, cfg.embedding_dim, cfg.hidden, cfg.dropout)


@ENCODERS.register("text.bow")
def _text_bow(cfg, feature) -> nn.Module:
    return bow.TextBow(feature.idf, feature.first_char_id, cfg.dim, cfg.hidden, cfg.dropout)


@ENCODERS.register("text.cnn")
def _text_cnn(cfg, feature) -> nn.Module:
    return cnn.TextCnn(
        feature.vocab_size, cfg.embedding_dim, cfg.filters, cfg.kernel_sizes, cfg.dropout
    )


@ENCODERS.register("text.rnn")
def _text_rnn(cfg, feature) -> nn.Module:
    return rnn.TextRnn(
        feature.vocab_size,
        cfg.embedding_dim,
        cfg.cell,
        cfg.hidden,
        cfg.layers,
        cfg.bidirectional,
        cfg.pooling,
        cfg.dropout,
    )


@ENCODERS.register("text.transformer")
def _text_transformer(cfg, feature) -> nn.Module:
    max_length = feature.config.preprocessing.max_length
    return transformer.TextTransformer(
        feature.vocab_size,
        max_length,
        cfg.dim,
        cfg.layers,
        cfg.heads,
        cfg.ff_multiplier,
        cfg.pooling,
        cfg.dropout,
    )


@ENCODERS.register("text.pretrained")
def _text_pretrained(cfg, feature) -> nn.Module:
    backbone = pretrained.load_backbone(
        feature.source, random_init=cfg.init == "random" and not feature.saved
    )
    pretrained.freeze(backbone, cfg.freeze)
    if cfg.lora is not None:
        lora = cfg.lora
        backbone = pretrained.add_lora(
            backbone, lora.rank, lora.alpha, lora.dropout, lora.target_modules
        )
    backbone_lr = (
        cfg.lr if cfg.lr is not None else (None if cfg.lora else pretrained.DEFAULT_BACKBONE_LR)
    )
    return pretrained.PretrainedText(backbone, cfg.pooling, cfg.dropout, backbone_lr)


def _check_image_size(feature, halvings: int, encoder: str) -> None:
    smallest = min(feature.height, feature.width)
    if smallest < 2**halvings:
        raise UserError(
            f"input '{feature.name}': {feature.height}x{feature.width} images are too small for a {encoder} that halves "
            f"them {halvings} times; use fewer channels stages or a larger preprocessing.height/width"
        )


@ENCODERS.register("image.cnn")
def _image_cnn(cfg, feature) -> nn.Module:
    _check_image_size(feature, len(cfg.channels), "cnn")
    body = cnn.ImageCnn(
        feature.channels,
        feature.height,
        feature.width,
        cfg.channels,
        cfg.kernel_size,
        cfg.batch_norm,
        cfg.output_size,
        cfg.dropout,
        cfg.activation,
    )
    return _with_pixels(feature, body)


@ENCODERS.register("image.resnet")
def _image_resnet(cfg, feature) -> nn.Module:
    _check_image_size(feature, len(cfg.channels) - 1, "resnet")
    return _with_pixels(
        feature, resnet.ImageResnet(feature.channels, cfg.channels, cfg.blocks, cfg.dropout)
    )


@ENCODERS.register("image.mlp")
def _image_mlp(cfg, feature) -> nn.Module:
    return _with_pixels(
        feature,
        mlp.ImageMlp(feature.channels, feature.height, feature.width, cfg.hidden, cfg.dropout),
    )


def _with_pixels(feature, body: nn.Module) -> nn.Module:
    """uint8 images -> normalised floats -> `body` (augmentation: `data.augment`, in training
    batches only)."""
    model = nn.Sequential(Pixels(feature.mean, feature.std), body)
    model.output_size = body.output_size
    return model


def _check_spectrogram_size(feature, halvings: int, encoder: str) -> None:
    n_mels = feature.config.preprocessing.n_mels
    if min(n_mels, feature.frames) < 2**halvings:
        raise UserError(
            f"input '{feature.name}': spectrograms of {n_mels} mel bands x {feature.frames} frames are too small for a "
            f"{encoder} that halves them {halvings} times; use fewer channels stages, more n_mels or longer max_seconds"
        )


@ENCODERS.register("audio.cnn")
def _audio_cnn(cfg, feature) -> nn.Module:
    _check_spectrogram_size(feature, len(cfg.channels), "cnn")
    n_mels = feature.config.preprocessing.n_mels
    body = audio.AudioCnn(
        n_mels,
        feature.frames,
        cfg.channels,
        cfg.kernel_size,
        cfg.batch_norm,
        cfg.output_size,
        cfg.dropout,
        cfg.activation,
    )
    return _with_spectrogram(feature, body)


@ENCODERS.register("audio.resnet")
def _audio_resnet(cfg, feature) -> nn.Module:
    _check_spectrogram_size(feature, len(cfg.channels) - 1, "resnet")
    return _with_spectrogram(feature, audio.AudioResnet(cfg.channels, cfg.blocks, cfg.dropout))


@ENCODERS.register("audio.rnn")
def _audio_rnn(cfg, feature) -> nn.Module:
    body = audio.AudioRnn(
        feature.config.preprocessing.n_mels,
        cfg.cell,
        cfg.hidden,
        cfg.layers,
        cfg.bidirectional,
        cfg.subsample,
        cfg.pooling,
        cfg.dropout,
    )
    return _with_spectrogram(feature, body)


@ENCODERS.register("audio.transformer")
def _audio_transformer(cfg, feature) -> nn.Module:
    body = audio.AudioTransformer(
        feature.config.preprocessing.n_mels,
        cfg.dim,
        cfg.layers,
        cfg.heads,
        cfg.ff_multiplier,
        cfg.subsample,
        cfg.pooling,
        cfg.dropout,
    )
    return _with_spectrogram(feature, body)


def _with_spectrogram(feature, body: nn.Module) -> nn.Module:
    """float16 spectrograms -> float32 -> `body` (SpecAugment: `data.augment`, in training
    batches only)."""
    return audio.Spectrogram(body)


@COMBINERS.register("concat")
def _concat(cfg, input_size: int) -> nn.Module:
    return combiners.Concat(input_size)


@COMBINERS.register("mlp")
def _mlp_combiner(cfg, input_size: int) -> nn.Module:
    return combiners.MlpCombiner(
        input_size, cfg.hidden, cfg.activation, cfg.dropout, cfg.batch_norm
    )


def build_model(
    config: Config, preprocessing: Preprocessing, notes: list[str] | None = None
) -> nn.Module:
    """Modules for `config`, sized by the fitted `preprocessing` (vocabularies, image shapes):
    the model of the output's task when it builds its own (tags, text), else the shared model
    with a head per output (`YardModel`). With trainer.privacy, the layers DP-SGD cannot
    train are replaced (BatchNorm by GroupNorm: train/privacy.compatible), the same at
    training and at loading; `notes` gets one line per replacement."""
    model = _modules(config, preprocessing)
    if config.model_type == "gbdt" or config.trainer.privacy is None:
        return model
    from modelyard.train import privacy

    model, replaced = privacy.compatible(model)
    if notes is not None:
        notes.extend(replaced)
    return model


def _modules(config: Config, preprocessing: Preprocessing) -> nn.Module:
    from modelyard.tasks import task_of

    if config.model_type == "gbdt":  # boosted trees, fitted by models/gbdt.train
        from modelyard.models import gbdt

        return gbdt.build(config, preprocessing)
    own = [task_of(o) for o in config.outputs if task_of(o).own_model]
    if own:  # config checks: then it is the model's only kind of output
        return own[0].build(config, preprocessing)
    stacked = [f.name for f in preprocessing.inputs if encoder_config(f).type == "passthrough"]
    names = ([STACKED] if stacked else []) + [
        f.name for f in preprocessing.inputs if f.name not in stacked
    ]
    encoders = [tabular.Passthrough(len(stacked))] if stacked else []
    for f in preprocessing.inputs:
        if f.name not in stacked:
            encoder = encoder_config(f)
            encoders.append(ENCODERS.get(f"{f.type}.{encoder.type}")(encoder, f))
    combiner = COMBINERS.get(config.combiner.type)(
        config.combiner, sum(e.output_size for e in encoders)
    )
    output_heads = [
        heads.Head(combiner.output_size, task_of(f).head_size(f)) for f in preprocessing.outputs
    ]
    return YardModel(
        names, encoders, combiner, [f.name for f in preprocessing.outputs], output_heads, stacked
    )


def build_losses(
    config: Config, preprocessing: Preprocessing | None = None
) -> dict[str, tuple[float, heads.Loss]]:
    """{output name: (weight, loss function)}; with the fitted `preprocessing`, each task's
    `fitted_loss` (class weights). With several outputs, a row may lack some labels: each
    output's loss skips the rows without its label."""
    from modelyard.tasks import task_of

    fitted = {f.name: f for f in preprocessing.outputs} if preprocessing is not None else {}
    losses = {}
    for output in config.outputs:
        task = task_of(output)
        feature = fitted.get(output.name)
        loss = task.loss(output) if feature is None else task.fitted_loss(output, feature)
        if len(config.outputs) > 1 and task.masks_missing_labels(output):
            loss = heads.skip_missing(loss)
        losses[output.name] = (output.weight, loss)
    return losses
