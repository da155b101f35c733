"""Reading (head, relation, tail) triples: checked line by line for their number of fields
and empty names, entities and relations mapped to 0..n-1 with pandas.factorize (one entity
vocabulary for heads and tails, from the training triples), held-out triples of unknown
entities or relations dropped (and counted) or refused."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from modelyard.errors import UserError
from modelyard.train.progress import log

SPLITS = ("train", "validation", "test")
TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
PART_NAMES = ("head", "relation", "tail")


@dataclass
class Graph:
    """The triples of each split as (N, 3) int64 codes (head, relation, tail) into
    `entity_ids` / `relation_ids` (the names, as text); `left_out`: per held-out split, the
    triples dropped, by reason."""

    entity_ids: np.ndarray
    relation_ids: np.ndarray
    triples: dict[str, np.ndarray]
    left_out: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def entities(self) -> int:
        return len(self.entity_ids)

    @property
    def relations(self) -> int:
        return len(self.relation_ids)

    def known(self) -> np.ndarray:
        """Every triple of every split, (N, 3): the true triples that filtered ranking skips."""
        return np.concatenate([self.triples[s] for s in SPLITS])


def read_graph(settings, split, base: Path) -> Graph:
    """`settings`: the config's `data` section; `split`: its `split` (used with data.file)."""
    tables = read_tables(settings, split, base)
    return encode(tables, settings.unknown)


def read_tables(settings, split, base: Path) -> dict[str, tuple[pd.DataFrame, str]]:
    """{split: (frame of head, relation, tail names as text, its source)}."""
    if settings.file is not None:
        whole = read_triples(_path(settings.file, base), settings)
        return {
            name: (frame, f"{settings.file} ({name} part)")
            for name, frame in split_frame(whole, split).items()
        }
    paths = {name: getattr(settings, name) for name in SPLITS}
    return {
        name: (read_triples(_path(p, base), settings), p) if p else (_empty(), "none")
        for name, p in paths.items()
    }


def _path(name: str, base: Path) -> Path:
    path = Path(name)
    return path if path.is_absolute() else base / path


def _empty() -> pd.DataFrame:
    return pd.DataFrame({part: pd.Series([], dtype=object) for part in PART_NAMES})


def split_frame(frame: pd.DataFrame, split) -> dict[str, pd.DataFrame]:
    """Shuffle with split.seed; the first fractions go to test and validation."""
    order = np.random.default_rng(split.seed).permutation(len(frame))
    n_test, n_valid = round(len(frame) * split.test), round(len(frame) * split.validation)
    parts = {
        "test": order[:n_test],
        "validation": order[n_test : n_test + n_valid],
        "train": order[n_test + n_valid :],
    }
    return {name: frame.iloc[np.sort(parts[name])] for name in SPLITS}  # index: line numbers


# ---------------------------------------------------------------- reading one file


def read_triples(path: Path, settings, allow_empty: bool = False) -> pd.DataFrame:
    """One file -> a frame of head, relation, tail names (text), indexed by line (or row)
    number. Format by suffix: .csv, .tsv and .txt (tab-separated) line by line; .parquet,
    .jsonl through pandas. `allow_empty`: empty names pass (queries)."""
    if not path.is_file():
        raise UserError(f"triples file '{path}' does not exist")
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        frame, line_of = _read_text(path, settings, settings.separator or TEXT_SUFFIXES[suffix])
    elif suffix in (".parquet", ".pq", ".jsonl"):
        frame, line_of = _read_table(path, settings), "row"
    else:
        raise UserError(
            f"triples file '{path}': unknown format '{path.suffix}'; use .tsv, .txt, .csv, .parquet or .jsonl"
        )
    if len(frame) == 0:
        raise UserError(f"triples file '{path}' has no triples")
    return _pick_columns(frame, settings, path, line_of, allow_empty)


def _read_text(path: Path, settings, separator: str) -> tuple[pd.DataFrame, str]:
    """Every non-blank line split at `separator` (quotes honoured in CSV only); each must have
    as many fields as the first. The frame's index holds the line numbers."""
    quoting = csv.QUOTE_MINIMAL if separator == "," else csv.QUOTE_NONE
    try:
        with path.open(encoding=settings.encoding, newline="") as handle:
            reader = csv.reader(handle, delimiter=separator, quoting=quoting)
            rows, lines = [], []
            for row in reader:
                if row and any(row):
                    rows.append(row)
                    lines.append(reader.line_num)
    except (UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"triples file '{path}' could not be read: {e}") from None
    if not rows:
        raise UserError(f"triples file '{path}' has no triples")
    widths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    bad = np.flatnonzero(widths != widths[0])
    if len(bad):
        first = bad[0]
        raise UserError(
            f"{path}: line {lines[first]} has {widths[first]} fields but line {lines[0]} has "
            f"{widths[0]} ({len(bad)} such lines); every line needs the same fields "
            f"(separator {separator!r}: set data.separator if the file uses another)"
        )
    if settings.header:
        names = [name.strip() for name in rows[0]]
        return pd.DataFrame(rows[1:], columns=names, index=lines[1:], dtype=object), "line"
    return pd.DataFrame(rows, index=lines, dtype=object), "line"


def _read_table(path: Path, settings) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() != ".jsonl" else _jsonl(path, settings)
    except (ValueError, OSError) as e:
        raise UserError(f"triples file '{path}' could not be read: {e}") from None
    frame.index = np.arange(1, len(frame) + 1)
    return frame


def _jsonl(path: Path, settings) -> pd.DataFrame:
    return pd.read_json(path, lines=True, encoding=settings.encoding, dtype=False)


def _pick_columns(
    frame: pd.DataFrame, settings, path: Path, line_of: str, allow_empty: bool
) -> pd.DataFrame:
    """The configured head, relation and tail columns, as stripped text; an empty or missing
    name is an error naming its line (row)."""
    picked = {}
    for part, column in zip(PART_NAMES, settings.columns, strict=True):
        values = _column(frame, column, part, path)
        text = values.astype(object).where(values.notna(), "").astype(str).str.strip()
        empty = (text == "").to_numpy()
        if empty.any() and not allow_empty:
            where = frame.index[np.flatnonzero(empty)[0]]
            raise UserError(
                f"{path}: {line_of} {where}: empty {part} ({int(empty.sum())} {line_of}s with one);"
                " every triple needs a head, a relation and a tail"
            )
        picked[part] = text.to_numpy(dtype=object)
    return pd.DataFrame(picked, index=frame.index)


def _column(frame: pd.DataFrame, column: int | str, part: str, path: Path) -> pd.Series:
    if isinstance(column, int):
        if column >= frame.shape[1]:
            raise UserError(
                f"{path}: data.columns gives the {part} as column {column} (from 0), but the file "
                f"has {frame.shape[1]} columns; fix data.columns"
            )
        return frame.iloc[:, column]
    if column not in frame.columns:
        from modelyard.data.columns import column_hint

        raise UserError(
            f"{path}: column '{column}' (the {part} in data.columns) is not in the file"
            f"{column_hint(column, [str(c) for c in frame.columns])}"
        )
    return frame[column]


# ---------------------------------------------------------------- codes


def encode(tables: dict[str, tuple[pd.DataFrame, str]], unknown: str) -> Graph:
    """Codes from the training triples; held-out triples naming an entity or relation that
    training lacks are dropped (`unknown: drop`, counted, with a note) or refused (`error`)."""
    train, source = tables["train"]
    if len(train) == 0:
        raise UserError("data.train: no training triples; give data.train or data.file")
    entity_codes, entity_ids = pd.factorize(
        np.concatenate([train["head"].to_numpy(), train["tail"].to_numpy()])
    )
    relation_codes, relation_ids = pd.factorize(train["relation"].to_numpy())
    n = len(train)
    graph = Graph(
        np.asarray(entity_ids).astype(str),
        np.asarray(relation_ids).astype(str),
        {"train": np.stack([entity_codes[:n], relation_codes, entity_codes[n:]], 1)},
    )
    graph.triples["train"] = graph.triples["train"].astype(np.int64)
    for name in ("validation", "test"):
        frame, held_source = tables[name]
        graph.triples[name] = _held_out(graph, frame, held_source, name, unknown)
    return graph


def codes_of(graph: Graph, frame: pd.DataFrame) -> np.ndarray:
    """(N, 3) codes of a frame of names; -1 where the graph does not know the name."""
    entities, relations = pd.Index(graph.entity_ids), pd.Index(graph.relation_ids)
    return np.stack(
        [
            entities.get_indexer(frame["head"].to_numpy(dtype=str)),
            relations.get_indexer(frame["relation"].to_numpy(dtype=str)),
            entities.get_indexer(frame["tail"].to_numpy(dtype=str)),
        ],
        1,
    ).astype(np.int64)


def _held_out(graph: Graph, frame: pd.DataFrame, source: str, split: str, unknown: str):
    codes = codes_of(graph, frame)
    bad_entity = (codes[:, 0] < 0) | (codes[:, 2] < 0)
    bad_relation = (codes[:, 1] < 0) & ~bad_entity
    bad = bad_entity | bad_relation
    if not bad.any():
        return codes
    first = int(np.flatnonzero(bad)[0])
    row = frame.iloc[first]
    example = f"line {frame.index[first]}: ({row['head']}, {row['relation']}, {row['tail']})"
    if unknown == "error":
        raise UserError(
            f"{source}: {int(bad.sum())} {split} triples name an entity or relation that no "
            f"training triple has (first at {example}); remove them or set data.unknown: drop"
        )
    reasons = {
        "entity not in training": int(bad_entity.sum()),
        "relation not in training": int(bad_relation.sum()),
    }
    graph.left_out[split] = {k: v for k, v in reasons.items() if v}
    log(
        f"note: {source}: left out {int(bad.sum())} of {len(codes)} {split} triples whose "
        f"entity or relation no training triple has (e.g. {example}); data.unknown: error "
        "stops instead"
    )
    return codes[~bad]
