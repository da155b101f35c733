"""`modelyard` command line: parse arguments, call the API, map errors to exit codes.

Exit codes: 0 success (also when stdout's reader stops early, as `| head` does); 2 the user's
input is wrong (message on stderr starting `error:`); 1 a bug in modelyard (traceback, plus a
line asking to report it). Notes and progress go to the `modelyard` logger (stderr); results
(metrics, schema) to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from modelyard.cli import (
    apply,
    experiments,
    extract,
    recommend,
    synthesize,
    train,
    tune,
    vocode,
)

EPILOG = """examples:
  modelyard train examples/penguins/config.yaml
  modelyard train config.yaml --set trainer.epochs=5 --output runs/try2
  modelyard train config.yaml --set tracking.mlflow=sqlite:///mlruns.db   # also to MLflow
  torchrun --nproc_per_node 2 -m modelyard train config.yaml
  modelyard evaluate runs/penguins --data test.csv
  modelyard predict runs/penguins --data new.csv --out predictions.csv
  modelyard generate runs/tiny-gpt --prompt "Once upon a time" --max-new-tokens 40
  modelyard export runs/penguins --format onnx --out penguins.onnx
  modelyard serve runs/penguins --port 8000
  modelyard recommend runs/ratings --user 42 --k 10
  modelyard synthesize runs/tts --text "Good morning." --speaker en+f2 --out speech.wav
  modelyard recommend runs/ratings --similar-to 260 --k 10
  modelyard predict runs/kg-umls --head alga --relation isa --k 5   # link prediction
  modelyard explain runs/penguins --data test.csv --method shap --out explain.json
  modelyard compress runs/penguins --method quantize --output runs/penguins-int8 --data test.csv
  modelyard cv examples/penguins/config.yaml --folds 5 --stratify
  modelyard compare runs/penguins runs/penguins-wide --html compare.html
  modelyard tune examples/breast_cancer/tune.yaml --trials 30 --workers 2
  modelyard vocode runs/vocoder --audio clip.wav --out resynthesized.wav

plugins: before any command, the modules named in MODELYARD_PLUGINS (comma-separated) and
those of installed packages' modelyard.plugins entry points are imported; they may register
their own tasks (modelyard.tasks.register; see README, "Your own task").
"""

# verb -> (adds its subparser, runs it); `modelyard --help` lists them in this order
VERBS = {
    "train": (train.add_train, train.run_train),
    "evaluate": (train.add_evaluate, train.run_evaluate),
    "predict": (train.add_predict, train.run_predict),
    "validate": (train.add_validate, train.run_validate),
    "generate": (apply.add_generate, apply.run_generate),
    "export": (apply.add_export, apply.run_export),
    "serve": (apply.add_serve, apply.run_serve),
    "compress": (apply.add_compress, apply.run_compress),
    "explain": (apply.add_explain, apply.run_explain),
    "recommend": (recommend.add_recommend, recommend.run_recommend),
    "synthesize": (synthesize.add_synthesize, synthesize.run_synthesize),
    "extract-triples": (extract.add_extract, extract.run_extract),
    "cv": (experiments.add_cv, experiments.run_cv),
    "compare": (experiments.add_compare, experiments.run_compare),
    "tune": (tune.add_tune, tune.run_tune),
    "vocode": (vocode.add_vocode, vocode.run_vocode),
    "schema": (train.add_schema, train.run_schema),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelyard",
        description="From data to a working deep-learning model with one YAML file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND")
    for add_verb, _ in VERBS.values():
        add_verb(verbs)
    for command in (parser, *verbs.choices.values()):
        _verbosity_options(command)
    return parser


def _verbosity_options(command: argparse.ArgumentParser) -> None:
    """-q / -v, before or after the verb (`modelyard -q train ...`, `modelyard train ... -q`)."""
    group = command.add_mutually_exclusive_group()
    for flags, level, text in (
        (
            ("-q", "--quiet"),
            "quiet",
            "only warnings and errors on stderr (no notes, epoch lines or progress bar)",
        ),
        (("-v", "--verbose"), "verbose", "also debug lines and the load reports of transformers"),
    ):
        group.add_argument(
            *flags,
            dest="verbosity",
            action="store_const",
            const=level,
            default=argparse.SUPPRESS,
            help=text,
        )


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    from modelyard.train.progress import verbosity

    verbosity(getattr(args, "verbosity", "normal"))
    if args.version:
        from modelyard import __version__

        print(__version__)
        return 0
    if args.verb is None:
        parser.print_help()
        return 2
    from modelyard.errors import UserError

    _, run_verb = VERBS[args.verb]
    try:
        from modelyard.plugins import load_plugins

        load_plugins()  # tasks of plugins join the schema before any config is read
        code = run_verb(args) or 0
        sys.stdout.flush()  # a closed pipe shows here, not in the flush at exit
        return code
    except BrokenPipeError:
        return _closed_pipe()
    except UserError as e:
        if _torchrun():  # one line for the whole job, and every process ends with 2
            _job().stop_on_user_error(str(e))
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        again = (
            "run the same cv command again to continue it (finished folds are skipped)"
            if args.verb == "cv"
            else "a training run can be continued with --resume"
        )
        print(f"interrupted; {again}", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - anything else is our bug
        if _torchrun():  # unless it is a collective broken by another process's user error
            _job().stop_if_another_stopped()
        traceback.print_exc()
        print(
            "This is a bug in modelyard; please report it with the traceback above.",
            file=sys.stderr,
        )
        return 1


def _closed_pipe() -> int:
    """The reader went away (`modelyard schema | head`): it had all it wanted, so stop quietly
    with 0. Python's recipe: point stdout at devnull so the flush at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0


def _torchrun() -> bool:
    """Whether this is one of several processes under torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "MASTER_ADDR" in os.environ


def _job():
    from modelyard.train import distributed

    return distributed
