"""Fairness on UCI Adult (`sex` sensitive, the official test file): our model against
scikit-learn's HistGradientBoostingClassifier on the same split, before and after mitigation.

Trains examples/adult/fairness.yaml through the Python API (`Model.from_config(...).fit(...)`:
the default neural model, or `--model gbdt`), with its `evaluation.mitigation` (fairlearn's
ThresholdOptimizer, demographic parity or `--constraint`, fitted on the validation rows). The reference,
HistGradientBoostingClassifier with scikit-learn's defaults, is fitted on the raw columns of
the very same training rows (splits.json; categories as pandas categoricals) and, for its
mitigated figures, post-processed by fairlearn's own ThresholdOptimizer on the same
validation rows. Prints test accuracy and demographic-parity difference (and equalized-odds
difference) of both, before and after, the differences in points, and the largest gap
between our metrics.json's per-group numbers and fairlearn's MetricFrame recomputed on our
`predict` output for the test rows (should be 0).

    OMP_NUM_THREADS=1 python bench/fairness_adult.py [--model neural|gbdt] [--seed 0]
        [--constraint demographic_parity|equalized_odds]

Needs examples/adult/data (examples/adult/prepare.py).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

CONFIG = Path(__file__).resolve().parents[1] / "examples/adult/fairness.yaml"
LABEL, POSITIVE, SENSITIVE = "income", ">50K", "sex"


def ours(
    model_type: str, seed: int, out: Path, constraint: str
) -> tuple[dict, dict, pd.DataFrame, float]:
    """(test metrics, splits.json, predictions on the test file, seconds) of our run."""
    from modelyard import Model

    overrides = ["baselines=false", f"trainer.seed={seed}", f"data.split.seed={seed}"]
    overrides.append(f"evaluation.mitigation.constraint={constraint}")
    if model_type == "gbdt":
        overrides.append("model_type=gbdt")
    started = time.perf_counter()
    model = Model.from_config(CONFIG, overrides)
    model.fit(output_dir=out)
    seconds = time.perf_counter() - started
    splits = json.loads((out / "splits.json").read_text())
    test = pd.read_csv(CONFIG.parent / "data/adult_test.csv")
    return model.metrics["test"], splits, model.predict(test), seconds


def reference(splits: dict, seed: int, constraint: str) -> dict[str, float]:
    """HistGradientBoostingClassifier (defaults) on the same training rows; fairlearn's own
    ThresholdOptimizer (demographic parity) on the same validation rows."""
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
    from fairlearn.postprocessing import ThresholdOptimizer
    from sklearn.ensemble import HistGradientBoostingClassifier

    whole = pd.read_csv(CONFIG.parent / "data/adult.csv")
    test = pd.read_csv(CONFIG.parent / "data/adult_test.csv")
    train, validation = (whole.iloc[splits[s]["rows"]] for s in ("train", "validation"))
    features = [c for c in whole.columns if c != LABEL]
    categories = {
        c: pd.CategoricalDtype(sorted(whole[c].dropna().unique()))
        for c in features
        if not pd.api.types.is_numeric_dtype(whole[c])
    }

    def x(frame):
        return frame[features].astype({c: t for c, t in categories.items()})

    def y(frame):
        return (frame[LABEL] == POSITIVE).astype(int).to_numpy()

    started = time.perf_counter()
    hgb = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    hgb.fit(x(train), y(train))
    seconds = time.perf_counter() - started
    decided = hgb.predict(x(test))
    optimizer = ThresholdOptimizer(
        estimator=hgb, constraints=constraint, prefit=True,
        predict_method="predict_proba",
    )  # fmt: skip
    optimizer.fit(x(validation), y(validation), sensitive_features=validation[SENSITIVE])
    mitigated = optimizer.predict(x(test), sensitive_features=test[SENSITIVE], random_state=0)
    truth, groups = y(test), test[SENSITIVE]
    return {
        "accuracy": float(np.mean(decided == truth)),
        "dp": float(demographic_parity_difference(truth, decided, sensitive_features=groups)),
        "eo": float(equalized_odds_difference(truth, decided, sensitive_features=groups)),
        "mitigated_accuracy": float(np.mean(mitigated == truth)),
        "mitigated_dp": float(
            demographic_parity_difference(truth, mitigated, sensitive_features=groups)
        ),
        "mitigated_eo": float(
            equalized_odds_difference(truth, mitigated, sensitive_features=groups)
        ),
        "seconds": seconds,
    }


def parity_gap(metrics: dict, predicted: pd.DataFrame) -> float:
    """Largest |ours - fairlearn's MetricFrame| over the per-group test numbers, before and
    after mitigation, recomputed from `predict`'s columns on the test file."""
    from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score

    test = pd.read_csv(CONFIG.parent / "data/adult_test.csv")
    truth = (test[LABEL] == POSITIVE).astype(int)
    gaps = []
    for column, prefix in (
        (f"{LABEL}_prediction_unmitigated", ""),
        (f"{LABEL}_prediction", "mitigated."),
    ):
        frame = MetricFrame(
            metrics={"accuracy": accuracy_score, "selection_rate": selection_rate,
                     "true_positive_rate": true_positive_rate},
            y_true=truth, y_pred=(predicted[column] == POSITIVE).astype(int),
            sensitive_features=test[SENSITIVE],
        )  # fmt: skip
        for group, values in frame.by_group.to_dict("index").items():
            for name, value in values.items():
                key = f"{prefix}fairness.{SENSITIVE}.{group}.{name}"
                gaps.append(abs(metrics[key] - value))
    return max(gaps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("neural", "gbdt"), default="neural")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--constraint",
        choices=("demographic_parity", "equalized_odds"),
        default="demographic_parity",
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        metrics, splits, predicted, seconds = ours(
            args.model, args.seed, Path(folder) / "run", args.constraint
        )
    print(
        json.dumps({k: v for k, v in metrics.items() if f".{SENSITIVE}." in k or "accuracy" in k})
    )
    ref = reference(splits, args.seed, args.constraint)
    dp, eo = (metrics[f"fairness.{SENSITIVE}.{n}"] for n in ("demographic_parity_difference",
                                                            "equalized_odds_difference"))  # fmt: skip
    mitigated_dp, mitigated_eo = (
        metrics[f"mitigated.fairness.{SENSITIVE}.{n}"]
        for n in ("demographic_parity_difference", "equalized_odds_difference")
    )
    print(
        f"Adult, sensitive '{SENSITIVE}', test file ({metrics['rows']:,} rows), model {args.model}, {args.constraint}"
    )
    print(
        "| model | accuracy | DP difference | EO difference | mitigated accuracy | mitigated DP | mitigated EO |"
    )
    print("|---|---|---|---|---|---|---|")
    print(f"| ours ({args.model}) | {metrics['accuracy']:.4f} | {dp:.4f} | {eo:.4f} | "
          f"{metrics['mitigated.accuracy']:.4f} | {mitigated_dp:.4f} | {mitigated_eo:.4f} |")  # fmt: skip
    print(f"| HistGradientBoosting | {ref['accuracy']:.4f} | {ref['dp']:.4f} | {ref['eo']:.4f} | "
          f"{ref['mitigated_accuracy']:.4f} | {ref['mitigated_dp']:.4f} | {ref['mitigated_eo']:.4f} |")  # fmt: skip
    gap = 100 * (metrics["accuracy"] - ref["accuracy"])
    cost = 100 * (metrics["accuracy"] - metrics["mitigated.accuracy"])
    print(
        f"accuracy ours - HGB: {gap:+.2f} points (target: within 1); ratio {metrics['accuracy'] / ref['accuracy']:.4f}"
    )
    print(
        f"mitigation: DP {dp:.4f} -> {mitigated_dp:.4f} (target < 0.02) at {cost:.2f} points of accuracy (target < 3)"
    )
    print(
        f"largest per-group gap to fairlearn's MetricFrame on our predictions: {parity_gap(metrics, predicted):.2e}"
    )
    print(
        f"wall: ours {seconds:.1f} s (whole run), HGB fit {ref['seconds']:.1f} s (shared machine)"
    )


if __name__ == "__main__":
    main()
