"""What a summary output needs of the rest of the config."""

from __future__ import annotations


def summary_fits(config, i: int) -> list[str]:
    """One text input (the document) and this one output; a budget; the method's own keys."""
    out, problems = config.outputs[i], []
    texts = [f for f in config.inputs if f.type == "text"]
    if len(config.inputs) != 1 or len(texts) != 1 or len(config.outputs) != 1:
        kinds = ", ".join(f"{f.name} ({f.type})" for f in config.inputs)
        return [
            f"outputs[{i}]: a summary output summarises one text input (the document), but the inputs "
            f"are {kinds}; give the model exactly one text input and this one output"
        ]
    if out.max_sentences is None and out.max_words is None:
        problems.append(
            f"outputs[{i}]: a summary needs a length budget; set max_sentences or max_words (or both)"
        )
    if out.oracle == "soft" and (out.method == "abstractive" or out.labels_column is not None):
        given = "labels_column gives the labels" if out.labels_column else "method: abstractive"
        problems.append(
            f"outputs[{i}].oracle: soft labels sentences of an extractive summary from the "
            f"reference, but {given}; remove oracle: soft"
        )
    if out.method == "abstractive":
        from modelyard.tasks.text import _transformer_decoder_fits

        if out.labels_column is not None:
            problems.append(
                f"outputs[{i}].labels_column: sentence labels train extractive summaries only; "
                "remove it or use method: extractive"
            )
        return problems + _transformer_decoder_fits(config, i)
    if texts[0].encoder.type == "bow":
        problems.append(
            "inputs[0].encoder: bow cannot encode a document sentence by sentence for an extractive "
            "summary; use pretrained (freeze: all is cheapest), cnn, rnn or transformer"
        )
    return problems
