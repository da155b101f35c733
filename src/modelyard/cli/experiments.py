"""Verbs over several runs: cv (k-fold cross-validation) and compare (runs side by side).

Each verb has `add_<verb>(verbs)` and `run_<verb>(args)`, as in cli/train.py; heavy modules
are imported inside the `run_` functions only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

CV_EPILOG = """Every row that is not a fixed test set is shared out among the folds (the training
file's rows, then the validation file's; a test file and the rows a data.split.column marks
test are left out). Each fold is an ordinary run (DIR/fold_1 ..., DIR/repeat_1/fold_1 ... with
--repeats): preprocessing fitted on its training rows, its validation split (early stopping,
keep: best) cut from them by data.split.validation, and its held-out rows as its test split.
Folds: scikit-learn's KFold, StratifiedKFold, GroupKFold, StratifiedGroupKFold, RepeatedKFold
or RepeatedStratifiedKFold, shuffled with data.split.seed; DIR/folds.csv lists them (row,
repeat, fold). DIR/cv.csv and cv.json hold each fold's held-out metrics, their mean and
standard deviation (numpy's, ddof=0, as cross_val_score(...).std()); DIR/report.html sums up.

Resume: run the same command again after a kill (or a failure): folds that finished are
skipped (their config and data must be those this run would train on), the one with a
checkpoint continues, the others train. --overwrite starts again.

examples:
  modelyard cv examples/penguins/config.yaml --folds 5 --stratify
  modelyard cv config.yaml --folds 5 --group patient_id --output runs/cv-patients
  modelyard cv config.yaml --folds 5 --repeats 3 --set trainer.epochs=20
"""

COMPARE_EPILOG = """Works on the run directories of any task (they all have config.yaml, metrics.json and
history.csv), e.g. the fold runs of a cross-validation. The best value of each metric is
marked (*, ★ in the page) by its direction (higher accuracy, lower loss); config differences
are the dotted keys whose values differ (inputs[0].encoder.type).

examples:
  modelyard compare runs/penguins runs/penguins-wide
  modelyard compare runs/a runs/b runs/c --html compare.html
  modelyard compare runs/penguins-cv/fold_1 runs/penguins-cv/fold_2
"""


def add_cv(verbs) -> None:
    """`cv CONFIG --folds K`: k-fold cross-validation, one run per fold plus a summary."""
    cv = verbs.add_parser(
        "cv",
        help="k-fold cross-validation: a run per fold, mean and std of the held-out metrics",
        description="k-fold cross-validation of a config: one run per fold, a summary table "
        "(cv.csv, cv.json, report.html) and the table on the terminal.",
        epilog=CV_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cv.add_argument("config", help="YAML config file (inputs and outputs)")
    cv.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    cv.add_argument(
        "--stratify",
        action="store_true",
        help="keep the class shares of the single category or binary output in every fold",
    )
    cv.add_argument(
        "--group", metavar="COLUMN", help="rows with the same value of COLUMN stay in one fold"
    )
    cv.add_argument("--repeats", type=int, default=1, help="repeat with other shuffles (default 1)")
    cv.add_argument(
        "--output", help="directory of the fold runs and summary (default: runs/<name>-cv)"
    )
    cv.add_argument(
        "--overwrite", action="store_true", help="start again in an existing cross-validation"
    )
    cv.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set trainer.epochs=5 (repeatable)",
    )


def run_cv(args) -> int:
    from modelyard.config import load_config
    from modelyard.cv import cross_validate
    from modelyard.cv.summary import print_table
    from modelyard.train.progress import log

    output = args.output
    if output is None:
        config, _ = load_config(args.config, args.set)
        output = Path("runs") / f"{config.name}-cv"
    result = cross_validate(
        args.config,
        args.folds,
        stratify=args.stratify,
        group=args.group,
        repeats=args.repeats,
        output_dir=output,
        overrides=args.set,
        overwrite=args.overwrite,
    )
    print_table(result)
    log(f"cv: summary in {Path(output) / 'cv.csv'}, cv.json and report.html")
    return 0


def add_compare(verbs) -> None:
    """`compare RUN RUN ...`: metrics, config differences and learning curves side by side."""
    compare = verbs.add_parser(
        "compare",
        help="runs side by side: metrics, config differences, learning curves",
        description="Compare two or more run directories: metrics (validation, test) side by "
        "side and the config keys that differ, as tables on the terminal; --html adds a page "
        "with the learning curves overlaid.",
        epilog=COMPARE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("runs", nargs="*", metavar="RUN", help="run directories (two or more)")
    compare.add_argument("--html", metavar="FILE", help="also write an HTML page to FILE")
    compare.add_argument("--overwrite", action="store_true", help="replace --html if it exists")


def run_compare(args) -> int:
    from modelyard.compare import compare_runs, print_comparison
    from modelyard.errors import UserError
    from modelyard.train.progress import log

    if args.html and Path(args.html).exists() and not args.overwrite:
        raise UserError(f"--html '{args.html}' already exists; pass --overwrite to replace it")
    found = compare_runs(args.runs, html=args.html)
    print_comparison(found)
    if args.html:
        log(f"wrote {args.html}")
    return 0
