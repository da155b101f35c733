"""What `modelyard tune` finds, and how fast: on examples/breast_cancer/tune.yaml (or the
config of `--config`; validation log loss), the example's default config (one `modelyard
train`) against studies of the same number of trials:

    tpe          TPE sampler + median pruner, one worker (the example's tune: section)
    random       random search (random sampler, no pruner), one worker: the baseline
    tpe-2w       as tpe, two worker processes sharing the study
    random-2w    as random, two workers (the same work per trial on average: the speed-up)

Each study runs as `python -m modelyard tune` in a fresh process and folder, one after the
other. Prints per study: trials (complete / pruned / failed), epochs trained, the best
validation log loss and the test metrics of that trial's run, wall and CPU seconds; then the
ratios against the named baselines (default config, random search, one worker).

    OMP_NUM_THREADS=1 python bench/tune_study.py [--trials 30] [--seed 0] [--only tpe,random]
    (README's table: seed 0 with the default steps; seeds 1 and 2 with --only tpe,random)
    OMP_NUM_THREADS=1 python bench/tune_study.py --trials 12 --only capacity,random,random-2w,capacity
    OMP_NUM_THREADS=1 python bench/tune_study.py --trials 12 --trial-epochs 300 --only capacity,random,random-2w,capacity
    OMP_NUM_THREADS=1 python bench/tune_study.py --config examples/adult/tune.yaml --trials 30 --trial-epochs 20 --same-trials --only capacity,random,random-2w,capacity

`capacity` (a step of --only) measures how many cores two processes get at that moment (two
CPU-bound processes side by side against one): on a shared machine it says what speed-up the
two workers could have had.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

EXAMPLE = Path(__file__).resolve().parents[1] / "examples/breast_cancer/tune.yaml"
STUDIES = {
    "tpe": ({"sampler": "tpe", "pruner": "median"}, 1),
    "random": ({"sampler": "random", "pruner": "none"}, 1),
    "tpe-2w": ({"sampler": "tpe", "pruner": "median"}, 2),
    "random-2w": ({"sampler": "random", "pruner": "none"}, 2),
}


def _timed(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _variant(
    example: Path, folder: Path, name: str, settings: dict, seed: int, epochs: int | None
) -> Path:
    raw = yaml.safe_load(example.read_text())
    for split in ("train", "validation", "test"):  # the data where the config says, from here
        if raw["data"].get(split):
            raw["data"][split] = str(example.parent / raw["data"][split])
    raw["tune"].update(settings, seed=seed)
    if epochs is not None:  # --trial-epochs: every trial trains exactly this many epochs
        raw.setdefault("trainer", {}).update(epochs=epochs, early_stopping=None)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _default(example: Path, folder: Path) -> dict:
    out = folder / "default"
    command = [sys.executable, "-m", "modelyard", "-q", "train", str(example)]
    wall, cpu, _ = _timed(command + ["--output", str(out), "--set", "baselines=false"], folder)
    metrics = json.loads((out / "metrics.json").read_text())
    return _row("default config", "-", 1, metrics, wall, cpu)


def _enqueue_same_trials(config: Path, out: Path, trials: int, seed: int) -> None:
    """Start the study in `out` with `trials` values drawn at random with `seed`, queued:
    the studies that get them run the very same trials, whatever their number of workers
    (each worker's sampler has its own seed, so two workers would otherwise draw other
    trials than one, of another cost)."""
    import optuna

    from modelyard.tune.space import load_study, suggest
    from modelyard.tune.study import _open

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    definition = load_study(config)
    draw = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out.mkdir(parents=True)
    study = _open(out, definition)
    for _ in range(trials):
        trial = draw.ask()
        for key, param in definition.tune.space.items():
            suggest(trial, key, param)
        study.enqueue_trial(trial.params)
        draw.tell(trial, 0.0)


def _study(
    example: Path,
    folder: Path,
    name: str,
    trials: int,
    seed: int,
    epochs: int | None,
    same_trials: bool = False,
) -> dict:
    settings, workers = STUDIES[name]
    config, out = _variant(example, folder, name, settings, seed, epochs), folder / name
    if same_trials:
        _enqueue_same_trials(config, out, trials, seed)
    command = [sys.executable, "-m", "modelyard", "-q", "tune", str(config), "--output", str(out)]
    command += ["--trials", str(trials), "--workers", str(workers)]
    wall, cpu, stdout = _timed(command, folder)
    summary = json.loads(stdout)
    rows = list(csv.DictReader((out / "trials.csv").open()))
    states = summary["trials"]
    count = f"{states.get('complete', 0)}/{states.get('pruned', 0)}/{states.get('fail', 0)}"
    metrics = json.loads((out / "trials" / str(summary["best_trial"]) / "metrics.json").read_text())
    row = _row(name, count, workers, metrics, wall, cpu)
    row["epochs"] = sum(int(r["epochs"]) for r in rows)
    return row


def _row(name: str, trials: str, workers: int, metrics: dict, wall: float, cpu: float) -> dict:
    return {
        "study": name,
        "trials c/p/f": trials,
        "workers": workers,
        "epochs": None,
        "val log_loss": metrics["validation"]["log_loss"],
        "test log_loss": metrics["test"]["log_loss"],
        "test accuracy": metrics["test"]["accuracy"],
        "wall s": wall,
        "cpu s": cpu,
    }


def _print(rows: list[dict]) -> None:
    keys = list(rows[0])
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(_cell(k, r[k]) for k in keys))


def _cell(key: str, value) -> str:
    if isinstance(value, float):
        return f"{value:.1f}" if key.endswith(" s") else f"{value:.4f}"
    return "-" if value is None else str(value)


def _capacity(seconds_of_work: float = 3.0) -> float:
    """How many cores two processes get at once now: the wall time of one CPU-bound process
    times two, over that of two such processes side by side (2.0 on an idle machine of two
    or more cores; near 1.0 when the machine is full and gives this benchmark one share)."""
    spin = f"import time\nend = time.process_time() + {seconds_of_work}\nwhile time.process_time() < end: pass"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", spin], check=True)
    one = time.perf_counter() - started
    started = time.perf_counter()
    both = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2)]
    for process in both:
        process.wait()
    return 2 * one / (time.perf_counter() - started)


def _ratios(rows: dict[str, dict]) -> None:
    tpe = rows.get("tpe")
    if tpe and "default" in rows:
        d = rows["default"]["val log_loss"]
        print(f"tpe best val log_loss / default config's: {tpe['val log_loss'] / d:.3f}")
    if tpe and "random" in rows:
        r = rows["random"]
        print(
            f"tpe best val log_loss / random search's: {tpe['val log_loss'] / r['val log_loss']:.3f}"
        )
        print(f"tpe wall / random search's wall: {tpe['wall s'] / r['wall s']:.3f}")
    for one in ("tpe", "random"):
        two = rows.get(f"{one}-2w")
        if one in rows and two:
            base = rows[one]
            print(
                f"{one}: one worker's wall / two workers' wall: {base['wall s'] / two['wall s']:.2f}"
            )
            rate = (two["epochs"] / two["wall s"]) / (base["epochs"] / base["wall s"])
            print(f"{one}: epochs per second, two workers / one: {rate:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="default,tpe,random,tpe-2w")
    parser.add_argument(
        "--config",
        type=Path,
        default=EXAMPLE,
        help="a config with a tune: section (default: the breast-cancer example)",
    )
    parser.add_argument(
        "--trial-epochs",
        type=int,
        help="every trial trains this many epochs, without early stopping: heavier trials, "
        "so that the workers' start-up (a spawned process importing torch) weighs less",
    )
    parser.add_argument(
        "--same-trials",
        action="store_true",
        help="the random-search studies (random, random-2w) run the very same trials, drawn "
        "and queued before they start: a fair measure of the workers' speed-up",
    )
    args = parser.parse_args()
    example = args.config.resolve()
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="tune-bench-") as tmp:
        for name in args.only.split(","):
            if name == "capacity":
                print(f"cores two processes get now: {_capacity():.2f}", flush=True)
                continue
            if name == "default":
                rows[name] = _default(example, Path(tmp))
            else:
                same = args.same_trials and name.startswith("random")
                rows[name] = _study(
                    example, Path(tmp), name, args.trials, args.seed, args.trial_epochs, same
                )
            load = " ".join(f"{x:.1f}" for x in os.getloadavg())
            print(
                f"done: {name} {rows[name]['wall s']:.0f}s, load {load}",
                file=sys.stderr,
                flush=True,
            )
    _print(list(rows.values()))
    _ratios(rows)


if __name__ == "__main__":
    main()
