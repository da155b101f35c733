"""Cross-validation against scikit-learn on the same folds.

`modelyard cv`'s 5-fold stratified cross-validation of an example config, then scikit-learn's
`cross_val_score` of a baseline (StandardScaler + LogisticRegression on the numeric inputs,
one-hot categories) on exactly the folds of its folds.csv. Prints each one's mean ± std
accuracy, the difference, and cv's wall time per fold.

    OMP_NUM_THREADS=1 python bench/cv_folds.py --config examples/breast_cancer/config.yaml
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="examples/breast_cancer/config.yaml")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    import pandas as pd
    import torch

    from modelyard import cross_validate
    from modelyard.config import load_config
    from modelyard.cv.rows import cv_rows

    torch.set_num_threads(1)
    output = Path(tempfile.mkdtemp(prefix="cv-bench-")) / "cv"
    start = time.perf_counter()
    result = cross_validate(args.config, args.folds, stratify=True, output_dir=output)
    seconds = time.perf_counter() - start
    config, base = load_config(args.config)
    rows, _ = cv_rows(config, base)
    folds = pd.read_csv(output / "folds.csv")
    scores = _baseline_scores(config, rows, folds)
    ours = result.mean["accuracy"], result.std["accuracy"]
    print(f"config: {args.config}, {len(rows)} rows, {args.folds} stratified folds")
    print(
        f"modelyard cv accuracy: {ours[0]:.4f} ± {ours[1]:.4f} ({seconds / len(result.folds):.1f} s per fold)"
    )
    print(f"logistic_regression (same folds): {scores.mean():.4f} ± {scores.std():.4f}")
    print(f"difference: {100 * (ours[0] - scores.mean()):+.2f} points")


def _baseline_scores(config, rows, folds):
    import numpy as np
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = [f.column or f.name for f in config.inputs if f.type == "number"]
    categories = [f.column or f.name for f in config.inputs if f.type in ("category", "binary")]
    label = config.outputs[0].column or config.outputs[0].name
    features = make_column_transformer(
        (make_pipeline(SimpleImputer(), StandardScaler()), numbers),
        (
            make_pipeline(
                SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
            ),
            categories,
        ),
    )
    model = make_pipeline(features, LogisticRegression(max_iter=2000))
    everything = np.arange(len(rows))
    pairs = [
        (np.setdiff1d(everything, held), held)
        for held in (
            folds.loc[folds["fold"] == k, "row"].to_numpy() for k in sorted(folds["fold"].unique())
        )
    ]
    kept = rows[label].notna()
    data = rows[kept.to_numpy()]
    assert len(data) == len(rows), "rows without a label: not handled by this benchmark"
    return cross_val_score(model, data, data[label].astype(str), cv=pairs, scoring="accuracy")


if __name__ == "__main__":
    main()
