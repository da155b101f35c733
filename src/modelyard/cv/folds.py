"""Which rows each fold holds out: scikit-learn's splitters with the config's seed.

`fold_indices` returns one (repeat, fold, held-out rows) per fold; `folds_frame` writes them as
folds.csv (row, repeat, fold), from which anyone can rebuild every fold's training and
held-out rows. The splitters, all shuffled with `seed`:

    plain             KFold(folds, shuffle=True, random_state=seed)
                      RepeatedKFold(folds, repeats, random_state=seed) with --repeats N > 1
    --stratify        StratifiedKFold / RepeatedStratifiedKFold, same arguments
    --group COLUMN    GroupKFold(folds, shuffle=True, random_state=seed + repeat - 1)
    both              StratifiedGroupKFold(folds, shuffle=True, random_state=seed + repeat - 1)

(the first repeat of RepeatedKFold is KFold's split with the same seed).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from modelyard.data.columns import column_hint
from modelyard.data.features.base import texts_of
from modelyard.errors import UserError
from modelyard.train.progress import log


@dataclass(frozen=True)
class Fold:
    """One fold: `repeat` and `fold` count from 1; `held_out` (n,) row positions, sorted."""

    repeat: int
    fold: int
    held_out: np.ndarray

    def name(self, repeats: int) -> str:
        """Its run directory under the cross-validation's: fold_2, or repeat_1/fold_2."""
        return f"repeat_{self.repeat}/fold_{self.fold}" if repeats > 1 else f"fold_{self.fold}"


def fold_indices(
    rows: pd.DataFrame,
    folds: int,
    repeats: int,
    seed: int,
    stratify: str | None = None,
    group: str | None = None,
) -> list[Fold]:
    """The folds of `rows` (N rows): `stratify` names the column whose classes keep their
    shares (the single output's), `group` the column whose values never straddle a fold."""
    _require_counts(len(rows), folds, repeats)
    labels = _classes(rows[stratify]) if stratify else None
    groups = _groups(rows, group, folds) if group else None
    found = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for index, (_, held_out) in enumerate(_splits(rows, folds, repeats, seed, labels, groups)):
            repeat, fold = divmod(index, folds)
            found.append(Fold(repeat + 1, fold + 1, np.sort(held_out)))
    for message in dict.fromkeys(str(w.message) for w in caught):
        log(f"note: scikit-learn: {message}")
    return found


def _splits(rows, folds, repeats, seed, labels, groups):
    """(train, held-out) position pairs, fold by fold, repeat by repeat."""
    from sklearn import model_selection as ms

    x = np.zeros((len(rows), 1))
    if groups is not None:
        kind = ms.StratifiedGroupKFold if labels is not None else ms.GroupKFold
        for repeat in range(repeats):
            splitter = kind(folds, shuffle=True, random_state=seed + repeat)
            yield from splitter.split(x, labels, groups)
        return
    if repeats > 1:
        kind = ms.RepeatedStratifiedKFold if labels is not None else ms.RepeatedKFold
        yield from kind(n_splits=folds, n_repeats=repeats, random_state=seed).split(x, labels)
        return
    kind = ms.StratifiedKFold if labels is not None else ms.KFold
    yield from kind(folds, shuffle=True, random_state=seed).split(x, labels)


def _require_counts(rows: int, folds: int, repeats: int) -> None:
    if folds < 2:
        raise UserError(f"--folds {folds}: cross-validation needs at least 2 folds")
    if repeats < 1:
        raise UserError(f"--repeats {repeats}: use 1 or more")
    if rows < folds:
        raise UserError(
            f"data: {rows} rows to cross-validate but --folds {folds}; every fold needs a "
            f"held-out row: use at most {rows} folds, or more data"
        )


def _classes(column: pd.Series) -> np.ndarray:
    """(N,) class texts; a missing label is a class of its own (such rows are dropped in
    training, but still get a fold)."""
    texts = texts_of(column)
    return np.where(pd.isna(texts), "\0missing", texts).astype(str)


def _groups(rows: pd.DataFrame, column: str, folds: int) -> np.ndarray:
    """(N,) group texts of `column`; a UserError where it is absent, a row has none, or there
    are fewer groups than folds."""
    if column not in rows.columns:
        raise UserError(
            f"--group: column '{column}' is not in the training data"
            f"{column_hint(column, rows.columns)}"
        )
    texts = texts_of(rows[column])
    missing = np.flatnonzero(pd.isna(texts))
    if len(missing):
        raise UserError(
            f"--group '{column}': row {rows.index[missing[0]]} has no value ({len(missing)} "
            "such rows); every row needs a group"
        )
    count = len(set(texts))
    if count < folds:
        raise UserError(
            f"--group '{column}': {count} groups but --folds {folds}; every fold needs a "
            f"held-out group: use at most {count} folds"
        )
    return texts.astype(str)


def folds_frame(found: list[Fold]) -> pd.DataFrame:
    """folds.csv: one line per (held-out row, repeat): row, repeat, fold; sorted."""
    parts = [pd.DataFrame({"row": f.held_out, "repeat": f.repeat, "fold": f.fold}) for f in found]
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values(["repeat", "row"], ignore_index=True)[["row", "repeat", "fold"]]


def training_rows(count: int, fold: Fold) -> np.ndarray:
    """(count - n,) positions of the rows a fold trains on (validation carved from them)."""
    return np.setdiff1d(np.arange(count), fold.held_out)
