"""Reading an interactions table: checked, ids mapped to 0..n-1 with vectorised code
(pandas.factorize: millions of distinct ids in seconds), duplicate pairs resolved."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modelyard.errors import UserError
from modelyard.train.progress import log


@dataclass
class Interactions:
    """N interactions: `users`, `items` (N,) int64 codes into `user_ids` / `item_ids` (the
    ids as text); `ratings` (N,) float32 or None (implicit); `times` (N,) int64 or None."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray | None
    times: np.ndarray | None
    user_ids: np.ndarray
    item_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.users)

    def take(self, rows: np.ndarray) -> Interactions:
        """The interactions at `rows` (same id maps)."""
        return Interactions(
            self.users[rows],
            self.items[rows],
            None if self.ratings is None else self.ratings[rows],
            None if self.times is None else self.times[rows],
            self.user_ids,
            self.item_ids,
        )


def read_interactions(settings, base: Path) -> Interactions:
    """`settings`: the config's `data` section (schema.recommendation.Interactions)."""
    from modelyard.config.schema import Data
    from modelyard.data.read import read_table

    if settings.file is None:
        raise UserError(
            "data.file: not set; name the interactions table (or, in Python, pass a DataFrame to fit)"
        )
    path = Path(settings.file)
    path = path if path.is_absolute() else base / path
    frame = read_table(path, Data(separator=settings.separator, encoding=settings.encoding))
    return interactions_from_frame(frame, settings, str(path))


def interactions_from_frame(frame: pd.DataFrame, settings, source: str) -> Interactions:
    """Check the columns of `frame` (rows counted from 1, as data rows of `source`), map the
    ids, resolve duplicate (user, item) pairs by `settings.duplicates`."""
    users = _id_column(frame, settings.user, source, "data.user")
    items = _id_column(frame, settings.item, source, "data.item")
    ratings = _ratings(frame, settings, source) if settings.rating else None
    times = _times(frame, settings.timestamp, source) if settings.timestamp else None
    user_codes, user_ids = pd.factorize(users)
    item_codes, item_ids = pd.factorize(items)
    found = Interactions(
        user_codes.astype(np.int64),
        item_codes.astype(np.int64),
        ratings,
        times,
        np.asarray(user_ids).astype(str),
        np.asarray(item_ids).astype(str),
    )
    return _resolve_duplicates(found, settings.duplicates, source)


def _column(frame: pd.DataFrame, name: str, source: str, key: str) -> pd.Series:
    if name not in frame.columns:
        from modelyard.data.columns import column_hint

        raise UserError(
            f"{source}: column '{name}' ({key}) is not in the data{column_hint(name, frame.columns)}"
        )
    return frame[name]


def _first_bad(mask: np.ndarray) -> int:
    """The 1-based data row of the first True in `mask`."""
    return int(np.flatnonzero(mask)[0]) + 1


def _id_column(frame: pd.DataFrame, name: str, source: str, key: str) -> pd.Series:
    column = _column(frame, name, source, key)
    missing = column.isna().to_numpy()
    if not pd.api.types.is_numeric_dtype(column):
        missing = missing | column.astype(str).str.strip().eq("").to_numpy()
    if missing.any():
        raise UserError(
            f"{source}: row {_first_bad(missing)}: column '{name}' has no id "
            f"({int(missing.sum())} rows without one); fill them in or remove those rows"
        )
    return column


def _ratings(frame: pd.DataFrame, settings, source: str) -> np.ndarray:
    name = settings.rating
    column = _column(frame, name, source, "data.rating")
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = _first_bad(bad)
        raise UserError(
            f"{source}: row {row}: column '{name}' holds {column.iloc[row - 1]!r}, not a rating "
            f"({int(bad.sum())} such rows); give a number in every row"
        )
    if settings.rating_scale is not None:
        low, high = settings.rating_scale
        outside = (values < low) | (values > high)
        if outside.any():
            row = _first_bad(outside)
            raise UserError(
                f"{source}: row {row}: rating {values[row - 1]:g} in column '{name}' is outside "
                f"data.rating_scale [{low:g}, {high:g}] ({int(outside.sum())} such rows); "
                "fix the data or widen rating_scale"
            )
    return values.astype(np.float32)


def _times(frame: pd.DataFrame, name: str, source: str) -> np.ndarray:
    """Numbers as they are (e.g. Unix seconds); text parsed as dates, as int64 nanoseconds."""
    column = _column(frame, name, source, "data.timestamp")
    if pd.api.types.is_numeric_dtype(column) and not column.isna().any():
        return column.to_numpy(dtype=np.int64)
    parsed = pd.to_datetime(column, errors="coerce", utc=True)
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = _first_bad(bad)
        raise UserError(
            f"{source}: row {row}: column '{name}' holds {column.iloc[row - 1]!r}, not a time "
            "(a number, e.g. Unix seconds, or a date); give one in every row"
        )
    return parsed.astype("int64").to_numpy()


def _resolve_duplicates(found: Interactions, policy: str, source: str) -> Interactions:
    """Repeated (user, item) pairs: keep the last or first row, average the ratings (keeping
    the last row's time), or stop."""
    key = pd.Series(found.users * len(found.item_ids) + found.items)
    repeated = key.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return found
    rows = np.flatnonzero(repeated)
    pairs = int(key[repeated].nunique())
    first = rows[0]
    user, item = str(found.user_ids[found.users[first]]), str(found.item_ids[found.items[first]])
    same = rows[key.to_numpy()[rows] == key.iloc[first]][:2] + 1
    where = f"e.g. user {user!r}, item {item!r} at rows {same[0]} and {same[1]}"
    if policy == "error":
        raise UserError(
            f"{source}: {pairs} (user, item) pairs appear more than once ({where}); "
            "remove them, or set data.duplicates: last, first or mean"
        )
    if policy == "mean" and found.ratings is None:
        raise UserError(
            "data.duplicates: mean averages ratings, but data.rating is not set; use last or first"
        )
    keep = ~key.duplicated(keep="first" if policy == "first" else "last").to_numpy()
    kept = found.take(np.flatnonzero(keep))
    if policy == "mean":
        means = pd.Series(found.ratings).groupby(key.to_numpy()).mean()
        kept.ratings = means.reindex(key.to_numpy()[keep]).to_numpy(dtype=np.float32)
    log(
        f"note: {source}: {pairs} (user, item) pairs appear more than once ({where}); "
        f"kept {'their mean rating' if policy == 'mean' else f'the {policy} row'} of each "
        "(data.duplicates: last, first, mean or error)"
    )
    return kept
