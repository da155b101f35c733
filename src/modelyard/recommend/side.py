"""Side features of items and users (`items:` / `users:` in a recommendation config).

A side table has one row per id and the feature columns of its `features` (the supervised
inputs' preprocessors and encoders, data/features and models/build.py). Steps, in the order
the Recommender takes them:

    read_sides      read and check each table (missing columns, ids or rows, duplicate ids;
                    without `file`, the columns of the interactions table, one row per id)
    add_side_ids    ids of a side table without interactions join the catalogue, after the
                    interaction ids (their codes stay), and each table is put in code order
    fit_sides       fit the preprocessing on the ids of the TRAINING interactions only, then
                    transform every row: tensors {feature: (n ids, ...)} in code order
    save_sides / load_sides   model/items.parquet and users.parquet (the raw feature columns,
                    in code order) beside preprocessing.json's fitted states
    add_items       after training (`recommend --items FILE`): items of a new table join the
                    catalogue of a loaded model, scored from their features
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelyard.errors import UserError

KINDS = ("items", "users")
_TABLE_TYPES = ("number", "category", "binary", "text")


@dataclass
class SideTable:
    """The side features of one `kind` ("items" or "users"): `frame` holds the feature
    columns, one row per id of `ids` ((n,) str); after `add_side_ids` row i is code i.
    `features`: the fitted preprocessors; `tensors`: {feature name: (n, ...)} in code order."""

    kind: str
    settings: Any
    frame: pd.DataFrame
    ids: np.ndarray
    source: str
    features: list = field(default_factory=list)
    tensors: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)


# ------------------------------------------------------------------ config checks


def side_problems(config) -> list[str]:
    """Cross-field rules of `items:` / `users:` and the two_tower model; one line each."""
    model, problems = config.model, []
    tables = {kind: getattr(config, kind) for kind in KINDS if getattr(config, kind) is not None}
    if tables and model.type != "two_tower":
        problems.append(
            f"{', '.join(tables)}: side features are read by model.type: two_tower; set it, or remove {' and '.join(tables)}"
        )
    for kind, table in tables.items():
        names = [f.name for f in table.features]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            problems.append(f"{kind}.features: name {twice[0]!r} appears twice; names are unique")
        for i, feature in enumerate(table.features):
            if feature.type not in _TABLE_TYPES:
                problems.append(
                    f"{kind}.features[{i}] ({feature.name}): type {feature.type} is not supported as a side feature; use {', '.join(_TABLE_TYPES)}"
                )
    if model.type == "two_tower":
        for kind, flag in (("users", "user_id"), ("items", "item_id")):
            if not getattr(model, flag) and kind not in tables:
                problems.append(
                    f"model.{flag}: false and no {kind}.features leave the {kind[:-1]} tower empty; set {flag}: true or give {kind}.features"
                )
    if config.split.by == "cold_items" and (model.type != "two_tower" or "items" not in tables):
        problems.append(
            "split.by: cold_items keeps test items out of training; only model.type: two_tower with items.features can score them"
        )
    return problems


# ------------------------------------------------------------------ reading


def read_sides(config, base: Path, data: pd.DataFrame | None, found) -> dict[str, SideTable]:
    """The configured side tables, checked against the interactions `found` (every id of
    them needs a row). `data`: the DataFrame given to fit, or None (data.file is read)."""
    sides = {}
    interactions = None
    for kind in KINDS:
        settings = getattr(config, kind)
        if settings is None:
            continue
        key = config.data.item if kind == "items" else config.data.user
        id_column = settings.id or key
        if settings.file is None:
            if interactions is None:
                interactions = _interactions_frame(config, base, data)
            table = _from_interactions(kind, settings, id_column, *interactions)
        else:
            table = _from_file(kind, settings, id_column, base)
        codes = found.item_ids if kind == "items" else found.user_ids
        _require_rows(table, codes, id_column, key)
        sides[kind] = table
    return sides


def _interactions_frame(config, base: Path, data) -> tuple[pd.DataFrame, str]:
    if data is not None:
        return data, "the DataFrame given to fit"
    from modelyard.config.schema import Data
    from modelyard.data.read import read_table

    path = _path(config.data.file, base)
    settings = config.data
    return read_table(path, Data(separator=settings.separator, encoding=settings.encoding)), str(
        path
    )


def _path(name: str, base: Path) -> Path:
    path = Path(name)
    return path if path.is_absolute() else base / path


def _from_file(kind: str, settings, id_column: str, base: Path) -> SideTable:
    from modelyard.config.schema import Data
    from modelyard.data.read import read_table

    path = _path(settings.file, base)
    if not path.is_file():
        raise UserError(f"{kind}.file: '{path}' does not exist")
    frame = read_table(path, Data(separator=settings.separator, encoding=settings.encoding))
    source = str(path)
    ids = _ids(frame, id_column, source, f"{kind}.id")
    columns = _feature_columns(frame, settings, source, kind)
    seen = pd.Series(ids).duplicated(keep=False).to_numpy()
    if seen.any():
        first = str(ids[np.flatnonzero(seen)[0]])
        rows = np.flatnonzero(ids == first)[:2] + 1
        raise UserError(
            f"{source}: id {first!r} (column '{id_column}') is in rows {rows[0]} and {rows[1]} "
            f"({int(pd.Series(ids[seen]).nunique())} ids repeated); give each {kind[:-1]} one row"
        )
    return SideTable(kind, settings, frame[columns].reset_index(drop=True), ids, source)


def _from_interactions(kind, settings, id_column: str, frame: pd.DataFrame, source: str):
    """One row per id from the interactions table: its first; the feature values of an id
    must agree in all its rows."""
    ids = _ids(frame, id_column, source, f"{kind}.id")
    columns = _feature_columns(frame, settings, source, kind)
    for column in columns:
        values = frame[column].astype(str).where(frame[column].notna(), None)
        differ = values.groupby(ids).nunique(dropna=False) > 1
        if differ.any():
            bad = str(differ.index[differ.to_numpy()][0])
            at = np.flatnonzero(ids == bad)
            changed = at[np.flatnonzero(values.iloc[at].to_numpy() != values.iloc[at[0]])[0]]
            raise UserError(
                f"{source}: column '{column}' of {kind[:-1]} {bad!r} holds {frame[column].iloc[at[0]]!r} in row "
                f"{at[0] + 1} but {frame[column].iloc[changed]!r} in row {changed + 1}; each {kind[:-1]}'s "
                f"features must agree in all its rows, or give them in a table of their own ({kind}.file)"
            )
    first = ~pd.Series(ids).duplicated().to_numpy()
    kept = frame.loc[first, columns].reset_index(drop=True)
    return SideTable(kind, settings, kept, ids[first], source)


def _ids(frame: pd.DataFrame, column: str, source: str, key: str) -> np.ndarray:
    """(n,) the id column as text, as the interactions' ids are (data.py)."""
    from modelyard.recommend.data import _id_column

    return np.asarray(_id_column(frame, column, source, key)).astype(str)


def _feature_columns(frame: pd.DataFrame, settings, source: str, kind: str) -> list[str]:
    from modelyard.data.columns import column_hint

    columns = []
    for feature in settings.features:
        column = feature.column or feature.name
        if column not in frame.columns:
            raise UserError(
                f"{source}: column '{column}' ({kind}.features '{feature.name}') is not in the table{column_hint(column, frame.columns)}"
            )
        columns.append(column)
    return list(dict.fromkeys(columns))


def _require_rows(table: SideTable, codes: np.ndarray, id_column: str, key: str) -> None:
    """Every id of the interactions (`codes`: their ids as text) needs a row."""
    missing = ~pd.Index(codes).isin(pd.Index(table.ids))
    if missing.any():
        shown = ", ".join(repr(str(i)) for i in codes[missing][:3])
        raise UserError(
            f"{table.source}: {int(missing.sum())} {table.kind} of the interactions (column '{key}') have no row "
            f"here (column '{id_column}'), e.g. {shown}; add their rows (every {table.kind[:-1]} needs its features)"
        )


# ------------------------------------------------------------------ ids, fit, tensors


def add_side_ids(found, sides: dict[str, SideTable]):
    """`found` (Interactions) with the side tables' ids that have no interactions appended to
    its user_ids / item_ids (codes of the interactions unchanged); each table's rows put in
    code order (row i = code i)."""
    from dataclasses import replace

    for kind, table in sides.items():
        known = found.item_ids if kind == "items" else found.user_ids
        new = table.ids[~pd.Index(table.ids).isin(pd.Index(known))]
        if len(new):
            from modelyard.train.progress import log

            log(
                f"note: {table.source}: {len(new)} {kind} without interactions (e.g. {str(new[0])!r}) "
                "join the catalogue, scored from their features"
            )
        ids = np.concatenate([known, new]).astype(str)
        order = pd.Index(table.ids).get_indexer(pd.Index(ids))
        table.frame = table.frame.iloc[order].reset_index(drop=True)
        table.ids = ids
        found = replace(found, **{f"{kind[:-1]}_ids": ids})
    return found


def fit_sides(sides: dict[str, SideTable], train, base: Path) -> None:
    """Fit each table's preprocessing on the ids of the `train` interactions (each id once),
    then transform all its rows."""
    from modelyard.data.features.base import parts

    for kind, table in sides.items():
        codes = np.unique(train.items if kind == "items" else train.users)
        rows = table.frame.iloc[codes]
        table.features = _features(table.settings, base)
        for feature in table.features:
            feature.start_fit()
            for part in parts(rows):
                feature.fit_part(part[feature.column])
            if feature.trains_from_iterator:
                feature.end_fit_from(lambda f=feature, r=rows: (p[f.column] for p in parts(r)))
            else:
                feature.end_fit()
        _transform(table)


def _features(settings, base: Path) -> list:
    from modelyard.data.features import FEATURES
    from modelyard.models.encoders.pretrained import resolve_checkpoint

    features = []
    for config in settings.features:
        feature = FEATURES.get(config.type).variant(config)(config, is_output=False)
        if config.type == "text" and config.encoder.type == "pretrained":
            feature.source = resolve_checkpoint(config.encoder.model, base)
        features.append(feature)
    return features


def _transform(table: SideTable) -> None:
    """tensors {name: (n, ...)} of every row, notes logged once."""
    from modelyard.train.progress import log

    table.tensors = {}
    for feature in table.features:
        feature.notes = []
        table.tensors[feature.name] = feature.transform(table.frame[feature.column])
        for note in feature.notes:
            log(f"note: {table.kind}: {note}")


# ------------------------------------------------------------------ saving


def side_state(sides: dict[str, SideTable]) -> dict[str, Any]:
    """preprocessing.json's {kind: {feature name: fitted state}}."""
    return {kind: {f.name: f.state() for f in t.features} for kind, t in sides.items()}


def save_sides(folder: Path, sides: dict[str, SideTable]) -> None:
    """`<kind>.parquet`: the raw feature columns, row i = code i (re-transformed at load).
    Columns of Python objects are saved as text (missing values kept): a DataFrame given to
    fit may mix types in one, which Parquet refuses; category and text features read 3 and
    '3' alike."""
    for kind, table in sides.items():
        frame = table.frame.copy()
        for column in [c for c in frame.columns if frame[c].dtype == object]:
            values = frame[column]
            frame[column] = values.astype(str).where(values.notna(), None)
        frame.to_parquet(folder / f"{kind}.parquet", index=False)


def load_sides(config, folder: Path, state: dict[str, Any], ids: dict[str, np.ndarray]):
    """The side tables of a saved model: fitted states from preprocessing.json's `state`,
    rows from `<kind>.parquet`, tensors transformed again."""
    sides = {}
    for kind in KINDS:
        settings = getattr(config, kind)
        if settings is None:
            continue
        frame = pd.read_parquet(folder / f"{kind}.parquet")
        table = SideTable(kind, settings, frame, ids[kind], str(folder / f"{kind}.parquet"))
        table.features = _features(settings, folder)
        for feature in table.features:
            feature.load_state(state[kind][feature.name])
        _transform(table)
        sides[kind] = table
    return sides


# ------------------------------------------------------------------ new items after training


def add_items(model, data: pd.DataFrame | str | Path) -> int:
    """Append the items of `data` (a table file or DataFrame with the items table's id and
    feature columns) that `model` (a loaded Recommender) does not know to its catalogue; the
    fitted preprocessing transforms them and the item tower scores them from their features.
    Known ids keep their trained features. Returns how many items were added."""
    table = model.sides.get("items")
    if table is None or not hasattr(model.module, "item_tower"):
        raise UserError(
            "--items: this run has no item features; new items need model.type: two_tower with items.features (retrain with them)"
        )
    if isinstance(data, pd.DataFrame):
        frame, source = data, "the items DataFrame"
    else:
        frame, source = _read_items(Path(data), table.settings)
    id_column = table.settings.id or model.config.data.item
    ids = _ids(frame, id_column, source, "items.id")
    columns = _feature_columns(frame, table.settings, source, "items")
    new = ~pd.Index(ids).isin(pd.Index(table.ids)) & ~pd.Series(ids).duplicated().to_numpy()
    if not new.any():
        return 0
    table.frame = pd.concat([table.frame, frame.loc[new, columns]], ignore_index=True)
    table.ids = np.concatenate([table.ids, ids[new]]).astype(str)
    _transform(table)
    model.item_ids = table.ids
    model.module.item_tower.extend(table.tensors)
    model.module.train(False)  # forget the item vectors
    return int(new.sum())


def _read_items(path: Path, settings) -> tuple[pd.DataFrame, str]:
    from modelyard.config.schema import Data
    from modelyard.data.read import read_table

    if not path.is_file():
        raise UserError(f"--items '{path}' does not exist")
    return read_table(path, Data(separator=settings.separator, encoding=settings.encoding)), str(
        path
    )
