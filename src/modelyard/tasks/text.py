"""Text outputs: a whole text generated per row, by a Transformer decoder from a text input's
token states (translation, `tasks/seq2seq.py`) or by CTC over an audio input's frames (speech
to text, `tasks/speech.py`). The output's `decoder.type` chooses."""

from __future__ import annotations

from torch import nn

from modelyard.config.schema.outputs import TextOutput
from modelyard.data.features.text_target import TOKENS, TextTargetFeature
from modelyard.tasks.base import HIGHER, LOWER, Task

METRICS_BY_DECODER = {"transformer": ["bleu", "chrf"], "ctc": ["wer", "cer"]}


class TextTask(Task):
    """The model's outputs: `outputs[name]` what the loss reads, and in eval mode
    `outputs[name + TOKENS]` (N, T) generated ids (see data/features/text_target.py)."""

    type = "text"
    schema = TextOutput
    feature = TextTargetFeature
    metrics = {"bleu": HIGHER, "chrf": HIGHER, "wer": LOWER, "cer": LOWER}
    capabilities = frozenset({"serve"})
    own_model = True
    text_encoder_default = "cnn"
    labels_may_be_missing = False  # a pair without its target text is broken: the feature says

    def build(self, config, preprocessing) -> nn.Module:
        (output,) = preprocessing.outputs  # config checks: one text output, one input
        if output.config.decoder.type == "ctc":
            return _speech_to_text(preprocessing)
        return _seq2seq(preprocessing)

    def loss(self, output):
        if output.decoder.type == "ctc":
            from modelyard.tasks.speech import CtcLoss

            return CtcLoss()
        from modelyard.tasks.seq2seq import SequenceLoss

        return SequenceLoss(output.label_smoothing)

    def masks_missing_labels(self, output) -> bool:
        return False  # every row kept has its target text

    def metric_names(self, output) -> list[str]:
        return METRICS_BY_DECODER[output.decoder.type]

    def epoch_metrics(self, output) -> list[str]:
        return ["wer"] if output.decoder.type == "ctc" else ["bleu", "chrf"]

    def score(self, feature, outputs, table, details: bool):
        """Against the raw reference texts of the data, not texts rebuilt from token ids."""
        from modelyard.metrics.translation import text_metrics
        from modelyard.tasks.speech import transcript_metrics

        ids, references = outputs[feature.name + TOKENS], feature.references(table.frame)
        scorer = transcript_metrics if feature.config.decoder.type == "ctc" else text_metrics
        return scorer(feature, ids, references), {}

    def predictions(self, feature, outputs):
        return {f"{feature.name}_prediction": feature.decode(outputs[feature.name + TOKENS])}

    def check(self, config, index: int) -> list[str]:
        output = config.outputs[index]
        if output.decoder.type == "ctc":
            return _ctc_decoder_fits(config, index)
        return _transformer_decoder_fits(config, index)


def _seq2seq(preprocessing) -> nn.Module:
    """Text input -> its encoder's token states -> Transformer decoder (tasks/seq2seq.py)."""
    from modelyard.models.build import ENCODERS
    from modelyard.tasks import seq2seq

    source, target = preprocessing.inputs[0], preprocessing.outputs[0]
    cfg = target.config.decoder
    encoder = ENCODERS.get(f"text.{source.config.encoder.type}")(source.config.encoder, source)
    positions = max(cfg.max_length, target.config.preprocessing.max_length)
    decoder = seq2seq.TransformerDecoder(
        target.vocab_size,
        positions,
        cfg.dim,
        cfg.layers,
        cfg.heads,
        cfg.ff_multiplier,
        cfg.dropout,
        cfg.tie_embeddings,
    )
    return seq2seq.Seq2Seq(
        source.name,
        encoder,
        encoder.output_size,
        target.name,
        decoder,
        target.bos_id,
        target.eos_id,
        target.config.label_smoothing,
        cfg.max_length,
        cfg.beam_size,
        cfg.length_penalty,
    )


def _speech_to_text(preprocessing) -> nn.Module:
    """Audio input -> its encoder's frames -> a token (or CTC blank) per frame (tasks/speech.py)."""
    from modelyard.models.build import ENCODERS
    from modelyard.tasks.speech import SpeechToText

    (audio_input,), (text,) = preprocessing.inputs, preprocessing.outputs
    cfg = audio_input.config.encoder
    encoder = ENCODERS.get(f"audio.{cfg.type}")(cfg, audio_input)
    if hasattr(encoder.body, "drop_head"):  # CTC reads frames; a pooling head would sit unused
        encoder.body.drop_head()
    return SpeechToText(
        audio_input.name, encoder, text.name, text.vocab_size, text.config.decoder.beam_size
    )


def _transformer_decoder_fits(config, i: int) -> list[str]:
    """A transformer decoder reads one text input's token states and is the model's only output."""
    out, problems = config.outputs[i], []
    decoder = out.decoder
    if decoder.dim % decoder.heads:
        problems.append(
            f"outputs[{i}].decoder: dim {decoder.dim} is not divisible by heads {decoder.heads}; change one of them"
        )
    texts = [f for f in config.inputs if f.type == "text"]
    if len(config.inputs) != 1 or len(texts) != 1 or len(config.outputs) != 1:
        problems.append(
            f"outputs[{i}]: a text output with a transformer decoder translates one text input into one output; "
            "give the model exactly one text input and this one output"
        )
    elif texts[0].encoder.type in ("mlp", "bow"):
        problems.append(
            f"inputs[0].encoder: {texts[0].encoder.type} pools the text away, but the transformer decoder attends to every token; "
            "use transformer, rnn, cnn or pretrained"
        )
    elif out.preprocessing.tokenizer == "shared" and (
        texts[0].encoder.type == "pretrained" or texts[0].preprocessing.tokenizer == "bpe"
    ):
        problems.append(
            f"outputs[{i}].preprocessing.tokenizer: shared needs the text input's own wordpiece or whitespace "
            "tokenizer (a pretrained or bpe input tokenizer cannot give back the spaces of the text); "
            "use tokenizer: bpe for the output"
        )
    return problems


def _ctc_decoder_fits(config, i: int) -> list[str]:
    """A ctc decoder transcribes the frames of one audio input into the model's one output."""
    out, problems = config.outputs[i], []
    kinds = ", ".join(f"{f.name} ({f.type})" for f in config.inputs)
    if len(config.inputs) != 1 or config.inputs[0].type != "audio" or len(config.outputs) != 1:
        problems.append(
            f"outputs[{i}]: a text output with a ctc decoder transcribes one audio input; give the model "
            f"exactly one audio input (inputs are {kinds}) and this one output"
        )
    if out.preprocessing.tokenizer == "shared":
        problems.append(
            f"outputs[{i}].preprocessing.tokenizer: shared needs a text input, but a ctc decoder reads audio; "
            "use characters"
        )
    return problems
