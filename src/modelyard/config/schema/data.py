"""Where the data are and how they are split."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from modelyard.config.schema.common import Probability, Strict


class Split(Strict):
    """Ratios of the training file held out, or `column` naming a train/validation/test column.

    `by: random` (default) shuffles the rows with `seed` and takes exact counts. `by: hash`
    puts each row in a split by a hash of its `id_column` value (with `seed`; without
    `id_column`, of its row number): no permutation of the whole table, and a row stays in its
    split when rows are added or reordered (with an id column); the sizes are the ratios
    approximately.

    A split given as a file (or a DataFrame passed to `fit`) is used as it is; when validation
    is given and test is not, no test split is carved unless `test` is written here. The run's
    resolved config.yaml shows null for a ratio that was not used.

    `stratify` (by: random only): a column whose classes keep their share of the rows in
    every split carved by ratio (scikit-learn's `train_test_split(stratify=)`, same exact split
    sizes); each class needs a row per split. `auto` (default): the output's column when the
    config has a single category or binary output, else `none` (a plain random split), and
    `none` wherever nothing is split at random (by: hash, a split column, given files,
    streaming). The resolved config.yaml shows the column used, or none."""

    validation: Probability | None = 0.15
    test: Probability | None = 0.15
    seed: int = 0
    column: str | None = None
    by: Literal["random", "hash"] = "random"
    id_column: str | None = None
    stratify: Annotated[str, Field(min_length=1)] = "auto"


def _known_encoding(name: Any) -> Any:
    import codecs

    if not isinstance(name, str):
        return name  # the str type reports it
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(
            f"unknown encoding '{name}'; use e.g. utf-8, latin-1, cp1252 or utf-16"
        ) from None
    return name


class Data(Strict):
    """Paths are relative to the config file: a table file (csv, tsv, parquet, jsonl); a glob
    of Parquet files (`data/*.parquet`) or a folder of them (hive partitions too), read as one
    table; otherwise a folder means one subfolder per class (images, audio).

    `separator`, `encoding` and `decimal` say how CSV/TSV files are read (every file of the
    config, and the data given to evaluate and predict): `separator` defaults to ',' for .csv
    and a tab for .tsv (';' is common in European data, with `decimal: ","`).

    `streaming`: read the training data in chunks as training goes instead of whole into
    memory (Parquet, CSV/TSV, JSON lines tables; image and audio files decoded as they are
    needed). `auto` streams when the data would not comfortably fit in memory (more than a
    quarter of the memory available). Streamed rows are shuffled by blocks of Parquet row
    groups (or file chunks) and a buffer of `shuffle_buffer` rows. `workers`: DataLoader
    worker processes that read and preprocess streamed data (`auto`: the CPU cores less one,
    at most 4; 0 reads in the training process).

    `sampling`: how each epoch orders the training rows. `shuffle` (default): every row once,
    in a seeded random order. `balanced`: as many rows drawn with replacement, every class of
    the single category or binary output as often (scikit-learn/imbalanced-learn's random
    over-sampling, PyTorch's WeightedRandomSampler); rare rows repeat, common ones are
    skipped at random. For imbalanced labels, an alternative to the output's
    `class_weights` (a similar effect, by repeating rows rather than weighing their loss);
    in-memory training data only."""

    train: str | None = None
    validation: str | None = None
    test: str | None = None
    split: Split = Split()
    id_columns: list[str] = []
    missing_labels: Literal["drop", "error"] = "drop"
    separator: Annotated[str, Field(min_length=1, max_length=1)] | None = None
    encoding: Annotated[str, BeforeValidator(_known_encoding)] = "utf-8"
    decimal: Literal[".", ","] = "."
    streaming: Literal["auto"] | bool = "auto"
    shuffle_buffer: Annotated[int, Field(ge=1)] = 100_000
    workers: Literal["auto"] | Annotated[int, Field(ge=0)] = "auto"
    sampling: Literal["shuffle", "balanced"] = "shuffle"
