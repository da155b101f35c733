"""`modelyard validate`: read and preprocess the data exactly as training would, without training."""

from __future__ import annotations

from pathlib import Path

from modelyard.config.schema import Config
from modelyard.data.columns import column_hint
from modelyard.data.features import Preprocessing
from modelyard.data.split import read_config_data
from modelyard.errors import UserError
from modelyard.models.encoders.pretrained import checkpoint_sources


def check_data(config: Config, base: Path) -> list[str]:
    """Raise UserError on the first data problem; otherwise return a summary, one line each."""
    from modelyard.kinds import KINDS, part

    if config.task in KINDS:
        return part(config.task, "data_check")(config, base)
    tables = read_config_data(config, base)
    for column in config.data.id_columns:
        if column not in tables["train"].columns:
            raise UserError(
                f"data.id_columns: column '{column}' is not in the training data{column_hint(column, tables['train'].columns)}"
            )
    preprocessing = Preprocessing(config, checkpoint_sources(config, base))
    preprocessing.fit(tables["train"])
    lines = []
    for name, frame in tables.items():
        if frame is not None:
            table = preprocessing.prepare(frame, name)
            lines.append(f"{name}: {len(table)} rows usable of {len(frame)}")
    for feature in preprocessing.outputs:
        if feature.type in ("category", "binary"):
            classes = feature.vocab if feature.type == "category" else feature.values
            lines.append(
                f"output '{feature.name}': {len(classes)} classes ({', '.join(map(str, classes[:10]))}{', ...' if len(classes) > 10 else ''})"
            )
    lines += [f"preprocessing: {note}" for note in dict.fromkeys(preprocessing.notes)]
    return lines + ["data is valid"]


def check_corpus(config, base: Path) -> list[str]:
    """A language model's corpus: read as training reads it."""
    from modelyard.tasks.language_model import read_corpus

    train, validation = read_corpus(config.corpus, base)
    words = sum(len(line.split()) for line in train)
    return [
        f"corpus: {len(train)} training lines ({words:,} words), {len(validation)} validation lines",
        "data is valid",
    ]
