"""Verbs that make and check runs: train, evaluate, predict, validate, schema.

Each verb has `add_<verb>(verbs)`, which adds its subparser, and `run_<verb>(args)`, which runs it
and returns the exit code. Heavy modules are imported inside the `run_` functions only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def add_train(verbs) -> None:
    """`train CONFIG`: a run directory from a config."""
    train = verbs.add_parser("train", help="train a model from a config; writes a run directory")
    train.add_argument("config", help="YAML config file")
    train.add_argument("--output", help="run directory (default: runs/<config name>)")
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in the run directory from its last checkpoint, with any number of torchrun processes (and its MLflow run, with tracking.mlflow); with --set trainer.epochs=N, N the epochs done, finish it now without more training",
    )
    train.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set trainer.epochs=5 (repeatable)",
    )


def run_train(args) -> int:
    from modelyard.api import Model

    model = Model.from_config(args.config, args.set)
    output = Path(args.output) if args.output else Path("runs") / model.config.name
    model.fit(output_dir=output, resume=args.resume, overwrite=args.overwrite)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one copy of the metrics
        print(json.dumps(model.metrics, indent=2))
    return 0


def add_evaluate(verbs) -> None:
    """`evaluate RUN --data PATH`: metrics on labelled data."""
    evaluate = verbs.add_parser("evaluate", help="metrics of a trained model on labelled data")
    evaluate.add_argument("run", help="run directory (or its model/ folder)")
    evaluate.add_argument(
        "--data", required=True, help="table (csv, tsv, parquet, jsonl) or class folder with labels"
    )
    evaluate.add_argument("--out", help="also write the metrics to this JSON file")
    evaluate.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def run_evaluate(args) -> int:
    from modelyard.api import Model
    from modelyard.errors import UserError

    if args.out and Path(args.out).exists() and not args.overwrite:
        raise UserError(f"--out '{args.out}' already exists; pass --overwrite to replace it")
    metrics = Model.load(args.run).evaluate(args.data)
    text = json.dumps(metrics, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def add_predict(verbs) -> None:
    """`predict RUN --data PATH --out FILE`: a predictions file (link prediction: also
    `--head H --relation R` / `--relation R --tail T`)."""
    predict = verbs.add_parser(
        "predict",
        help="predictions of a trained model (recommendation runs: the rating or score of "
        "each (user, item) row; link prediction: the top entities of queries)",
    )
    predict.add_argument("run", help="run directory (or its model/ folder)")
    predict.add_argument(
        "--data",
        help="table (csv, tsv, parquet, jsonl), a class-per-subfolder folder, or a folder of "
        "image files; for a link prediction run, a triples file of queries (the missing head "
        "or tail empty or '?')",
    )
    predict.add_argument(
        "--out",
        help="predictions file; format from its suffix (.csv, .tsv, .parquet, .jsonl, .json: "
        "a list of records; object detection: one row / record per box); "
        "link prediction: default CSV on stdout",
    )
    predict.add_argument(
        "--include-inputs",
        action="store_true",
        help="also copy the model's input columns (image/audio: their paths) and the label "
        "columns the data has, as read, between the id and the prediction columns; prediction "
        "columns keep their names (<output>_prediction, ...): a copied column named like one "
        "gets '_input' appended",
    )
    predict.add_argument(
        "--unknown",
        choices=["error", "skip"],
        help="recommendation runs: rows of a user or item the model does not know stop with "
        "an error saying how many (error, the default) or are left out with a note (skip)",
    )
    predict.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    from modelyard.cli.linkpred import add_link_options

    add_link_options(predict)


def run_predict(args) -> int:
    from modelyard.api import Model
    from modelyard.cli.linkpred import asks_links, run_link_predict
    from modelyard.errors import UserError
    from modelyard.train.progress import log

    if asks_links(args):
        return run_link_predict(args)
    if not args.data or not args.out:
        raise UserError("predict needs --data PATH and --out FILE")
    out = Path(args.out)
    writers = {
        ".csv": "to_csv",
        ".tsv": "to_csv",
        ".parquet": "to_parquet",
        ".jsonl": "to_json",
        ".json": "to_json",
    }
    if out.suffix.lower() not in writers:
        raise UserError(
            f"--out '{out}': unknown format '{out.suffix}'; use one of {', '.join(writers)}"
        )
    if out.exists() and not args.overwrite:
        raise UserError(f"--out '{out}' already exists; pass --overwrite to replace it")
    model = Model.load(args.run)
    if hasattr(model, "predict_links"):  # a link prediction run given a file of queries
        return run_link_predict(args, model)
    options = {"include_inputs": args.include_inputs}
    if args.unknown is not None:
        from modelyard.recommend.model import Recommender

        if not isinstance(model, Recommender):
            raise UserError(
                "--unknown applies to recommendation runs ((user, item) pairs); leave it out"
            )
        options["unknown"] = args.unknown
    predictions = model.predict(args.data, **options)
    out.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(model, Model):  # outputs kept as files beside the table (predicted masks)
        predictions = model.prediction_files(predictions, out)
    kwargs = {
        ".csv": {"index": False},
        ".tsv": {"index": False, "sep": "\t"},
        ".parquet": {"index": False},
        ".jsonl": {"orient": "records", "lines": True},
        ".json": {"orient": "records", "indent": 1},
    }
    getattr(predictions, writers[out.suffix.lower()])(out, **kwargs[out.suffix.lower()])
    log(f"wrote {len(predictions)} predictions to {out}")
    return 0


def add_validate(verbs) -> None:
    """`validate CONFIG`: the config and its data checked, nothing trained."""
    validate = verbs.add_parser("validate", help="check a config and its data without training")
    validate.add_argument("config")
    validate.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key"
    )
    validate.add_argument(
        "--config-only", action="store_true", help="check the config but not the data"
    )


def run_validate(args) -> int:
    """The data are checked before anything is called valid: one verdict, at the end."""
    from modelyard.config import load_config
    from modelyard.train.progress import log

    config, base = load_config(args.config, args.set)
    if args.config_only:
        log(f"config '{args.config}' is valid (data not checked: --config-only)")
        return 0
    from modelyard.data.check import check_data

    lines = check_data(config, base)
    for line in lines:
        log(line)
    log(f"config '{args.config}' is valid")
    return 0


def add_schema(verbs) -> None:
    """`schema`: the config's JSON Schema on stdout."""
    verbs.add_parser("schema", help="print the config's JSON Schema (for editor autocompletion)")


def run_schema(args) -> int:
    from typing import Union

    from pydantic import TypeAdapter

    from modelyard.config.schema import root_models

    schema = TypeAdapter(Union[tuple(root_models().values())]).json_schema()  # noqa: UP007
    schema["title"] = "modelyard config"
    print(json.dumps(schema, indent=2))
    return 0
