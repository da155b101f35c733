"""`model_type: gbdt` against scikit-learn's own HistGradientBoosting on the same split.

For each table (examples/<name>/gbdt.yaml), trains our gbdt model through the Python API
(`Model.from_config(...).fit(output_dir=...)`, baselines off: read, split, preprocess, fit,
score, write the run directory) and then fits scikit-learn's HistGradientBoostingClassifier
(the reference) directly on the raw columns of the very same train / validation / test rows
(splits.json): numbers as they are (missing stays NaN), categories and binaries as pandas
categoricals (`categorical_features="from_dtype"`), the same settings and the same early
stopping on the validation rows. Prints test accuracy and wall time of both, and the ratios.

    OMP_NUM_THREADS=1 python bench/gbdt.py [--tables penguins wine breast_cancer adult] [--seeds 5]

(On a busy shared machine, OpenMP threads waiting for each other make both sides several
times slower and the timings noisy: pin one thread.)

Adult needs `examples/adult/prepare.py` first (see its docstring); it is skipped otherwise.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TABLES = ("penguins", "wine", "breast_cancer", "adult")


def ours(config_path: Path, out: Path, overrides: list[str]) -> tuple[float, float, float, dict]:
    """(test accuracy, seconds of the whole run, seconds boosting, splits.json) of
    `modelyard train` through the API."""
    from modelyard import Model
    from modelyard.models import gbdt

    boosting = []
    fit = gbdt.fit

    def timed(*args):  # the boosting alone: models/gbdt.fit
        started = time.perf_counter()
        try:
            return fit(*args)
        finally:
            boosting.append(time.perf_counter() - started)

    gbdt.fit = timed
    try:
        started = time.perf_counter()
        model = Model.from_config(config_path, ["baselines=false", *overrides])
        model.fit(output_dir=out)
        seconds = time.perf_counter() - started
    finally:
        gbdt.fit = fit
    splits = json.loads((out / "splits.json").read_text())
    return model.metrics["test"]["accuracy"], seconds, sum(boosting), splits


def reference(config, base: Path, splits: dict) -> tuple[float, float]:
    """(test accuracy, seconds to fit and predict) of scikit-learn's estimator itself."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    frames = {name: _rows(base, split, config) for name, split in splits.items()}
    output = config.outputs[0]
    column = output.column or output.name
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        _xy(frames[s], config, column) for s in ("train", "validation", "test")
    )
    _align_categories([x_train, x_val, x_test])
    seen = y_val.isin(set(y_train))
    settings = config.gbdt
    estimator = HistGradientBoostingClassifier(
        learning_rate=settings.learning_rate,
        max_iter=settings.max_iter,
        max_leaf_nodes=settings.max_leaf_nodes,
        max_depth=settings.max_depth,
        min_samples_leaf=settings.min_samples_leaf,
        l2_regularization=settings.l2_regularization,
        max_bins=settings.max_bins,
        categorical_features="from_dtype",
        early_stopping=True,
        scoring="loss",
        validation_fraction=None,
        n_iter_no_change=settings.early_stopping,
        tol=settings.tol,
        random_state=config.trainer.seed,
    )
    started = time.perf_counter()
    estimator.fit(x_train, y_train, X_val=x_val[seen.to_numpy()], y_val=y_val[seen])
    predicted = estimator.predict(x_test)
    seconds = time.perf_counter() - started
    return float(np.mean(predicted == y_test.to_numpy())), seconds


def _rows(base: Path, split: dict, config) -> pd.DataFrame:
    table = pd.read_csv(base / split["table"])
    return table.iloc[split["rows"]]  # 0-based data rows of the table (splits.json)


def _xy(frame: pd.DataFrame, config, label: str) -> tuple[pd.DataFrame, pd.Series]:
    columns = {}
    for f in config.inputs:
        values = frame[f.column or f.name]
        columns[f.name] = values.astype("category") if f.type != "number" else values
    x = pd.DataFrame(columns)
    return x, frame[label].astype(str)


def _align_categories(frames: list[pd.DataFrame]) -> None:
    """The same categories in every split (sklearn requires it of from_dtype columns)."""
    for name in frames[0].columns:
        if isinstance(frames[0][name].dtype, pd.CategoricalDtype):
            union = sorted(set().union(*(set(f[name].dropna()) for f in frames)))
            for f in frames:
                f[name] = f[name].cat.set_categories(union)


def main() -> None:
    from modelyard.config import load_config

    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=TABLES)
    parser.add_argument("--seeds", type=int, default=1, help="split seeds 0..N-1 (1: the config's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:  # imports and first calls: not timed
        ours(EXAMPLES / "wine" / "gbdt.yaml", Path(scratch) / "run", [])
    seeds = (
        "the config's split seed"
        if args.seeds == 1
        else f"means over split seeds 0-{args.seeds - 1}"
    )
    print(f"test accuracy and seconds ({seeds})")
    print(
        f"{'table':14} {'ours acc':>9} {'sklearn acc':>11} {'ours run s':>10} "
        f"{'ours fit s':>10} {'sklearn s':>9}  ratios (ours / sklearn)"
    )
    for name in args.tables:
        path = EXAMPLES / name / "gbdt.yaml"
        config, base = load_config(path)
        if config.data.train and not (base / config.data.train).exists():
            print(f"{name:14} skipped: run examples/{name}/prepare.py first")
            continue
        found = [_compare(path, base, seed, args.seeds) for seed in range(args.seeds)]
        accuracy, seconds, boosting, ref_accuracy, ref_seconds = np.mean(found, axis=0)
        print(
            f"{name:14} {accuracy:9.4f} {ref_accuracy:11.4f} {seconds:10.2f} {boosting:10.2f} "
            f"{ref_seconds:9.2f}  accuracy {accuracy / ref_accuracy:.3f}x, "
            f"fit time {boosting / ref_seconds:.2f}x"
        )
    print(
        "reference: scikit-learn HistGradientBoostingClassifier on the raw columns of the same "
        "rows (fit + predict); ours run s: the whole `train` (read, preprocess, fit, score, "
        "report); ours fit s: the boosting alone"
    )


def _compare(path: Path, base: Path, seed: int, seeds: int) -> tuple[float, ...]:
    """(ours: accuracy, run s, boosting s; reference: accuracy, s) on one split."""
    from modelyard.config import load_config

    overrides = [f"data.split.seed={seed}"] if seeds > 1 else []
    config = load_config(path, overrides)[0]
    with tempfile.TemporaryDirectory() as scratch:
        accuracy, seconds, boosting, splits = ours(path, Path(scratch) / "run", overrides)
    return (accuracy, seconds, boosting, *reference(config, base, splits))


if __name__ == "__main__":
    main()
