"""Imbalanced labels: what `class_weights: balanced`, `data.sampling: balanced` and
`data.split.stratify` change, against the plain run as the baseline.

Data: scikit-learn's bundled breast cancer table (offline) with the malignant rows cut to a
tenth of the benign ones (357 benign : 35 malignant), or (`--data generated`) a harder
generated table (make_classification: 2,000 rows, 10:1, 2% of labels flipped), the rare class
still called malignant. For each seed, a stratified quarter of
the rows is held out as the test set (the same for every variant); each variant trains on the
rest (validation carved by the config's split) and is scored on the test set: recall and F1
of the rare class (malignant), and macro F1. Then, without training, the spread of the rare
class's share of the validation split over many split seeds, plain random against stratified.

    python bench/imbalanced.py [--data breast_cancer|generated] [--seeds 5] [--epochs 30]
                               [--split-seeds 200]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import pandas as pd

VARIANTS = {
    "plain (baseline)": ({}, {}),
    "class_weights: balanced": ({"class_weights": "balanced"}, {}),
    "data.sampling: balanced": ({}, {"sampling": "balanced"}),
}


def imbalanced_table(ratio: int = 10) -> pd.DataFrame:
    """Breast cancer rows: all benign, the first benign/ratio malignant ones (seeded)."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.rename(columns=lambda c: c.replace(" ", "_"))
    frame["diagnosis"] = np.where(frame.pop("target") == 0, "malignant", "benign")
    benign, malignant = frame[frame.diagnosis == "benign"], frame[frame.diagnosis == "malignant"]
    malignant = malignant.sample(len(benign) // ratio, random_state=0)
    return pd.concat([benign, malignant]).sample(frac=1, random_state=0).reset_index(drop=True)


def generated_table() -> pd.DataFrame:
    """make_classification: 2,000 rows of 10 features, about 10:1, 2% of labels flipped."""
    from sklearn.datasets import make_classification

    x, y = make_classification(
        2000, 10, n_informative=4, weights=[10 / 11], flip_y=0.02, class_sep=0.7, random_state=0
    )
    frame = pd.DataFrame(x.round(5), columns=[f"f{i}" for i in range(x.shape[1])])
    frame["diagnosis"] = np.where(y == 1, "malignant", "benign")
    return frame


def config(columns: list[str], seed: int, epochs: int, output: dict, data: dict) -> dict:
    return {
        "name": "imbalanced",
        "data": {"split": {"validation": 0.2, "test": 0, "seed": seed}, **data},
        "inputs": [{"name": c, "type": "number"} for c in columns],
        "outputs": [{"name": "diagnosis", "type": "binary", "positive": "malignant", **output}],
        "combiner": {"type": "mlp", "hidden": [16]},
        "trainer": {
            "epochs": epochs,
            "batch_size": 32,
            "optimizer": {"type": "adam", "lr": 0.003},
            "seed": seed,
        },
        "baselines": False,
    }


def score(truth: pd.Series, predicted: pd.Series) -> dict[str, float]:
    from sklearn.metrics import f1_score, recall_score

    return {
        "recall": recall_score(truth, predicted, pos_label="malignant"),
        "f1": f1_score(truth, predicted, pos_label="malignant"),
        "f1_macro": f1_score(truth, predicted, average="macro"),
    }


def train_variants(table: pd.DataFrame, seeds: int, epochs: int) -> dict[str, list[dict]]:
    from sklearn.model_selection import train_test_split

    from modelyard import Model
    from modelyard.train.progress import verbosity

    verbosity("quiet")
    columns = [c for c in table.columns if c != "diagnosis"]
    found: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    for seed in range(seeds):
        train, test = train_test_split(
            table, test_size=0.25, stratify=table.diagnosis, random_state=seed
        )
        for name, (output, data) in VARIANTS.items():
            model = Model.from_config(config(columns, seed, epochs, output, data)).fit(train)
            predicted = model.predict(test.drop(columns=["diagnosis"]))["diagnosis_prediction"]
            found[name].append(score(test.diagnosis, predicted))
    return found


def split_spread(table: pd.DataFrame, seeds: int) -> dict[str, tuple[float, float, int]]:
    """{how: (mean, std of the rare share of validation, splits with no rare row in
    validation or test)} over `seeds` split seeds of the default 15/15 split."""
    from modelyard.config.schema import Split
    from modelyard.data.split import split_tables
    from modelyard.train.progress import verbosity

    verbosity("quiet")
    spread = {}
    for how in ("none", "diagnosis"):
        shares, empty = [], 0
        for seed in range(seeds):
            tables = {"train": table, "validation": None, "test": None}
            out = split_tables(tables, Split(seed=seed, stratify=how))
            rare = [(out[n].diagnosis == "malignant").sum() for n in ("validation", "test")]
            shares.append(rare[0] / len(out["validation"]))
            empty += min(rare) == 0
        spread[how] = (statistics.mean(shares), statistics.stdev(shares), empty)
    return spread


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", choices=("breast_cancer", "generated"), default="breast_cancer")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--split-seeds", type=int, default=200)
    args = parser.parse_args()
    table = imbalanced_table() if args.data == "breast_cancer" else generated_table()
    counts = table.diagnosis.value_counts()
    print(f"{args.data}: {counts['benign']} benign : {counts['malignant']} malignant")
    print(f"\ntest set of each of {args.seeds} seeds (mean +- std over seeds):")
    print(f"{'variant':26} {'malignant recall':>18} {'malignant F1':>16} {'macro F1':>16}")
    found = train_variants(table, args.seeds, args.epochs)
    means = {}
    for name, rows in found.items():
        cells = []
        for key in ("recall", "f1", "f1_macro"):
            values = [r[key] for r in rows]
            means[name, key] = statistics.mean(values)
            cells.append(f"{statistics.mean(values):.3f} +- {statistics.pstdev(values):.3f}")
        print(f"{name:26} {cells[0]:>18} {cells[1]:>16} {cells[2]:>16}")
    base = means["plain (baseline)", "recall"]
    for name in list(VARIANTS)[1:]:
        print(f"{name}: malignant recall {means[name, 'recall'] / base:.2f}x the baseline's")
    print(f"\nmalignant share of the validation split over {args.split_seeds} split seeds:")
    spread = split_spread(table, args.split_seeds)
    for how, (mean, std, empty) in spread.items():
        label = "stratify: none (baseline)" if how == "none" else "stratify: diagnosis"
        print(
            f"{label:26} mean {mean:.4f}  std {std:.4f}  splits with no malignant row in "
            f"validation or test: {empty}"
        )
    ratio = spread["diagnosis"][1] / spread["none"][1]
    print(f"std of the share, stratified / plain: {ratio:.3f}")


if __name__ == "__main__":
    main()
