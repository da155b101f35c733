"""Default settings on small and mid-sized tables: a config with only `data`, `inputs` and
`outputs` (every model and trainer setting left at its default) against the scikit-learn
baselines every run fits on the same split (metrics.json `baselines`, test split).

Tables: examples/penguins, examples/wine, examples/breast_cancer (their data, inputs, outputs
and split ratios, with the split seed varied), scikit-learn's diabetes (442 rows, regression,
70/15/15) and, when `examples/adult/prepare.py` has been run, the Adult census (32,561 rows,
10% validation, its own 16,281-row test file). Prints per table the means over `--seeds`
split seeds of the model's and each baseline's test accuracy (RMSE for diabetes), the gap to
the best baseline and the wall time of a whole `train`.

    OMP_NUM_THREADS=1 python bench/tabular_defaults.py [--seeds 5] [--tables penguins,adult]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _example(name: str, seed: int) -> dict:
    config = yaml.safe_load((EXAMPLES / name / "config.yaml").read_text())
    data = dict(config["data"], train=str(EXAMPLES / name / config["data"]["train"]))
    data["split"] = dict(data["split"], seed=seed)
    return {"data": data, "inputs": config["inputs"], "outputs": config["outputs"]}


def _diabetes(seed: int, scratch: Path) -> dict:
    from sklearn.datasets import load_diabetes

    path = scratch / "diabetes.csv"
    if not path.exists():
        load_diabetes(as_frame=True).frame.to_csv(path, index=False)
    columns = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    return {
        "data": {"train": str(path), "split": {"validation": 0.15, "test": 0.15, "seed": seed}},
        "inputs": [{"name": c, "type": "number"} for c in columns],
        "outputs": [{"name": "target", "type": "number"}],
    }


def _adult(seed: int) -> dict | None:
    folder = EXAMPLES / "adult"
    if not (folder / "data" / "adult.csv").exists():
        return None
    config = yaml.safe_load((folder / "config.yaml").read_text())
    data = dict(config["data"], train=str(folder / config["data"]["train"]))
    data["test"] = str(folder / config["data"]["test"])
    data["split"] = dict(data["split"], seed=seed)
    return {"data": data, "inputs": config["inputs"], "outputs": config["outputs"]}


def _config(table: str, seed: int, scratch: Path) -> dict | None:
    if table == "diabetes":
        return _diabetes(seed, scratch)
    if table == "adult":
        return _adult(seed)
    return _example(table, seed)


def _train(config: dict, out: Path) -> tuple[dict, float]:
    from modelyard import Model
    from modelyard.train.progress import verbosity

    verbosity("quiet")
    started = time.perf_counter()
    Model.from_config(config).fit(output_dir=out)
    seconds = time.perf_counter() - started
    return json.loads((out / "metrics.json").read_text()), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--tables", default="penguins,wine,breast_cancer,diabetes,adult")
    args = parser.parse_args()
    print("| table | metric | default model | best baseline | gap | wall s (model run) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for table in args.tables.split(","):
            scores: dict[str, list[float]] = {}
            seconds = []
            for seed in range(args.seeds):
                config = _config(table, seed, Path(scratch))
                if config is None:
                    print(f"| {table} | (skipped: run examples/{table}/prepare.py) | | | | |")
                    break
                metrics, wall = _train(config, Path(scratch) / f"{table}-{seed}")
                metric = "rmse" if "rmse" in metrics["test"] else "accuracy"
                scores.setdefault("model", []).append(metrics["test"][metric])
                for name, split in metrics.get("baselines", {}).items():
                    scores.setdefault(name, []).append(split["test"][metric])
                seconds.append(wall)
            if not seconds:
                continue
            means = {name: statistics.mean(values) for name, values in scores.items()}
            model = means.pop("model")
            pick = min if metric == "rmse" else max
            best = pick(means, key=means.get)
            gap = (
                f"{100 * (model / means[best] - 1):+.1f}% RMSE"
                if metric == "rmse"
                else f"{100 * (model - means[best]):+.2f} points"
            )
            print(
                f"| {table} | {metric} | {model:.4f} | {best} {means[best]:.4f} | {gap} "
                f"| {statistics.mean(seconds):.1f} |"
            )


if __name__ == "__main__":
    main()
