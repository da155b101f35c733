"""`modelyard tune CONFIG`: search the keys of a config's `tune:` section with Optuna."""

from __future__ import annotations

import json

EXAMPLES = """examples:
  modelyard tune examples/breast_cancer/tune.yaml             # into runs/breast_cancer-tune
  modelyard tune examples/breast_cancer/tune.yaml --trials 30 --workers 2 --output runs/bc
  modelyard tune examples/breast_cancer/tune.yaml --output runs/bc   # again: continues it
  modelyard train runs/bc/best.yaml                           # the best trial's config

The config's `tune:` section says what to search (see README, 'Tuning'):
  tune:
    space:
      trainer.optimizer.lr: {loguniform: [0.0001, 0.1]}
      combiner.hidden: {choice: [[32], [64, 32]]}
      combiner.dropout: {uniform: [0.0, 0.5]}
    metric: log_loss          # a validation metric; its direction is the metric's own
    trials: 30
    sampler: tpe              # or random
    pruner: median            # or hyperband, none

Writes to the output folder: study.log (the study: re-running continues it), trials/<number>/
(each trial's run), trials.csv, best.yaml and report.html."""


def add_tune(verbs) -> None:
    """`tune CONFIG`: trials of a config's tune: section; best.yaml, trials.csv, report.html."""
    import argparse

    tune = verbs.add_parser(
        "tune",
        help="search hyperparameters (the config's tune: section) with Optuna",
        description="Search the config keys of the config's `tune:` section with Optuna; "
        "each trial is a normal run. Prints a summary (JSON) of the best trial.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tune.add_argument("config", help="YAML config file with a tune: section")
    tune.add_argument(
        "--output",
        help="study folder (default: runs/<config name>-tune); an existing study continues",
    )
    tune.add_argument(
        "--trials", type=int, help="trials of the study in all (default: tune.trials)"
    )
    tune.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the study, each with cores/workers torch threads (default 1)",
    )
    tune.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="start no trial after S seconds (running ones finish)",
    )


def run_tune(args) -> int:
    from modelyard.tune import tune

    summary = tune(args.config, args.output, args.trials, args.workers, args.timeout)
    print(json.dumps(summary, indent=2))
    return 0
