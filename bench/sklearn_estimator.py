"""ModelyardClassifier in scikit-learn's cross_val_score, next to LogisticRegression.

On scikit-learn's own breast cancer (binary, 569 rows) and wine (3 classes, 178 rows) tables,
5-fold stratified cross-validation (shuffled, seed 0; the same folds for every estimator):
ModelyardClassifier with its defaults (modelyard's: MLP of 64 units, Adam, up to 100 epochs,
early stopping on a 15% validation share), the reference LogisticRegression (after
StandardScaler), and scikit-learn's MLPClassifier (after StandardScaler) as the other
neural network. Prints mean and standard deviation of the fold accuracies, wall time, and
the differences against LogisticRegression.

    OMP_NUM_THREADS=1 python bench/sklearn_estimator.py [--seeds 1]

`--seeds N` repeats everything with N random_state values (folds stay the same).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def estimators(seed: int) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from modelyard.sklearn import ModelyardClassifier

    return {
        "LogisticRegression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "ModelyardClassifier": ModelyardClassifier(random_state=seed),
        "MLPClassifier": make_pipeline(
            StandardScaler(), MLPClassifier(max_iter=1000, random_state=seed)
        ),
    }


def tables() -> dict:
    from sklearn.datasets import load_breast_cancer, load_wine

    return {
        "breast_cancer": load_breast_cancer(return_X_y=True),
        "wine": load_wine(return_X_y=True),
    }


def main() -> None:
    import torch
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    print("table          estimator             accuracy (mean ± std of folds)   seconds")
    for table, (X, y) in tables().items():
        found = {}
        for seed in range(args.seeds):
            for name, estimator in estimators(seed).items():
                started = time.perf_counter()
                scores = cross_val_score(estimator, X, y, cv=folds)
                seconds = time.perf_counter() - started
                runs = found.setdefault(name, ([], []))
                runs[0].extend(scores)
                runs[1].append(seconds)
        for name, (scores, seconds) in found.items():
            print(
                f"{table:14} {name:21} {np.mean(scores):.4f} ± {np.std(scores):.4f}"
                f"                  {np.mean(seconds):7.2f}"
            )
        reference = found["LogisticRegression"]
        for name in ("ModelyardClassifier", "MLPClassifier"):
            scores, seconds = found[name]
            print(
                f"{table:14} {name} - LogisticRegression: accuracy "
                f"{np.mean(scores) - np.mean(reference[0]):+.4f}, time x"
                f"{np.mean(seconds) / np.mean(reference[1]):.1f}"
            )


if __name__ == "__main__":
    main()
