"""`modelyard` command line: parse arguments, call the API, map errors to exit codes.

Exit codes: 0 success (also when stdout's reader stops early, as `| head` does); 2 the user's
input is wrong (message on stderr starting `error:`); 1 a bug in modelyard (traceback, plus a
line asking to report it). Notes and progress go to the `modelyard` logger (stderr); results
(metrics, schema) to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

EPILOG = """examples:
  modelyard train examples/penguins/config.yaml
  modelyard train config.yaml --set trainer.epochs=5 --output runs/try2
  torchrun --nproc_per_node 2 -m modelyard train config.yaml
  modelyard evaluate runs/penguins --data test.csv
  modelyard predict runs/penguins --data new.csv --out predictions.csv
  modelyard generate runs/tiny-gpt --prompt "Once upon a time" --max-new-tokens 40
  modelyard export runs/penguins --format onnx --out penguins.onnx
  modelyard serve runs/penguins --port 8000
  modelyard explain runs/penguins --data test.csv --method shap --out explain.json
  modelyard compress runs/penguins --method quantize --output runs/penguins-int8 --data test.csv
"""

EXPORT_HELP = """ONNX: the graph maps the network's input tensors to each output's raw scores (logits;
standardised values for numbers); preprocessing stays outside, as in the run. Inputs, one per
model input, batch axis dynamic:
  __numbers__   float (batch, K): number and binary columns, standardised / 0-1 as in
                model/preprocessing.json, in the order listed in <out>.json
  <category>    int64 (batch,): index into the input's vocabulary (0 = unknown)
  <text>        int64 (batch, length): token ids of the input's tokenizer (0 = padding);
                pretrained encoders: (batch, 2, length) ids and attention mask
  <image>       uint8 (batch, channels, height, width), resized; normalisation is in the graph
<out>.json beside the graph lists every input (dtype, shape, columns) and output, and the
largest difference between onnxruntime and torch on sample rows (from --data, or made up).
safetensors: every weight in one file, the resolved config and preprocessing state in its
metadata."""

SERVE_HELP = """POST /predict with {"records": [{"<input name>": value, ...}, ...]} returns
{"predictions": [{"<output>_prediction": ..., "<output>_probability": ..., ...}, ...]}, one per
record, in order. Image and audio inputs are base64 strings (a data: URL works too), or files
in POST /predict/files (multipart form, one record). A record with a missing or unknown field,
or an input the model cannot read, is a 422 naming it. GET /health, GET /metadata (inputs,
outputs, classes, metrics, versions), GET /docs (OpenAPI). Concurrent requests are batched.
Binds 127.0.0.1 (this machine only) unless --host says otherwise. Set the environment variable
MODELYARD_API_KEY (or the one named by --api-key-env) to require an X-API-Key header."""

COMPRESS_HELP = """Writes a new run directory (evaluate, predict and serve use it like any other) and a
before/after table (printed, and saved as <output>/compression.json and .md): parameters,
Linear weight bytes, weights file size, median latency at batch 1 and 32, and the task metric,
all measured on --data (labelled; required).
  quantize  dynamic int8 Linear layers (weights int8 per channel; CPU inference)
  prune     magnitude pruning of --amount of each Linear/Conv weight (zeros), or --structured:
            whole neurons of MLP layers / channels of image cnn encoders (tensors shrink);
            then --epochs N of fine-tuning on --train
  distill   train the --student config (same inputs and outputs, smaller encoders/combiner) on
            --train, on alpha * KL(student/T, teacher/T) * T^2 + (1 - alpha) * task loss"""

EXPLAIN_HELP = """Methods: integrated_gradients (per row; gradients, fast, attributions sum to the change
from the baseline), shap (per row; KernelShap sampling, model-agnostic, slower), lime (per row;
local linear surrogate), ablation (per row; each feature removed once), permutation (global;
drop in the output's accuracy, or r2 for numbers, when a feature is shuffled; 5 repeats).
Explained: the probability of each row's predicted class (or --target CLASS), or a number
output's value. Baselines ("absent"): a number's training mean, a binary's first value, the
unknown category, padding for text, the training mean colour for images.
Writes --out as JSON: {method, output, target, rows: [{row, prediction, target, value,
baseline_value, attributions: {feature: value | {tokens, scores} | heatmap .npy path}}],
global: {feature: mean |attribution|}}, and beside it the page <out name>.html with its PNGs
in <out name>_figures/ (heatmaps: <out name>_heatmaps/).
Outputs supported: category, binary and number (not tags, text or language models)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelyard",
        description="From data to a working deep-learning model with one YAML file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND")

    train = verbs.add_parser("train", help="train a model from a config; writes a run directory")
    train.add_argument("config", help="YAML config file")
    train.add_argument("--output", help="run directory (default: runs/<config name>)")
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in the run directory from its last checkpoint",
    )
    train.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set trainer.epochs=5 (repeatable)",
    )

    evaluate = verbs.add_parser("evaluate", help="metrics of a trained model on labelled data")
    evaluate.add_argument("run", help="run directory (or its model/ folder)")
    evaluate.add_argument(
        "--data", required=True, help="table (csv, tsv, parquet, jsonl) or class folder with labels"
    )
    evaluate.add_argument("--out", help="also write the metrics to this JSON file")
    evaluate.add_argument("--overwrite", action="store_true", help="replace --out if it exists")

    predict = verbs.add_parser("predict", help="predictions of a trained model")
    predict.add_argument("run", help="run directory (or its model/ folder)")
    predict.add_argument(
        "--data",
        required=True,
        help="table (csv, tsv, parquet, jsonl), a class-per-subfolder folder, or a folder of image files",
    )
    predict.add_argument(
        "--out",
        required=True,
        help="predictions file; format from its suffix (.csv, .tsv, .parquet, .jsonl)",
    )
    predict.add_argument("--overwrite", action="store_true", help="replace --out if it exists")

    validate = verbs.add_parser("validate", help="check a config and its data without training")
    validate.add_argument("config")
    validate.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key"
    )
    validate.add_argument(
        "--config-only", action="store_true", help="check the config but not the data"
    )

    generate = verbs.add_parser(
        "generate",
        help="continue a prompt with a causal language model (tokens stream as they come)",
    )
    generate.add_argument(
        "run", help="run directory of a task: language_model run with model.architecture: gpt2"
    )
    generate.add_argument("--prompt", required=True, help="text to continue")
    generate.add_argument(
        "--max-new-tokens", type=int, default=50, help="at most this many new tokens (default 50)"
    )
    generate.add_argument(
        "--greedy", action="store_true", help="always take the most likely token (no sampling)"
    )
    generate.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="sampling temperature (default 1.0; lower is more conservative)",
    )
    generate.add_argument(
        "--top-k", type=int, default=50, help="sample among the k most likely tokens (default 50)"
    )
    generate.add_argument(
        "--top-p",
        type=float,
        default=1.0,
        help="sample within this probability mass (nucleus; default 1.0 = off)",
    )
    generate.add_argument("--seed", type=int, help="seed for repeatable sampling")

    export = verbs.add_parser(
        "export",
        help="write a trained model as ONNX (checked with onnxruntime) or safetensors",
        description=EXPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("run", help="run directory (or its model/ folder)")
    export.add_argument("--format", required=True, choices=["onnx", "safetensors"])
    export.add_argument("--out", required=True, help="file to write (e.g. model.onnx)")
    export.add_argument(
        "--data", help="a few rows of inputs to check the ONNX graph on (default: made up)"
    )
    export.add_argument("--overwrite", action="store_true", help="replace --out if it exists")

    serve = verbs.add_parser(
        "serve",
        help="serve a trained model over HTTP (POST /predict, GET /health, /metadata, /docs)",
        description=SERVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("run", help="run directory (or its model/ folder)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--max-batch-size",
        type=int,
        default=32,
        help="concurrent requests are batched up to this many rows (default 32)",
    )
    serve.add_argument(
        "--max-wait-ms",
        type=float,
        default=5.0,
        help="how long the first request of a batch waits for others (default 5 ms)",
    )
    serve.add_argument(
        "--max-request-mb", type=float, default=10.0, help="largest request body (default 10 MB)"
    )
    serve.add_argument(
        "--api-key-env",
        default="MODELYARD_API_KEY",
        metavar="VAR",
        help="environment variable holding the API key; when set, requests need X-API-Key (default MODELYARD_API_KEY)",
    )

    _compress_parser(verbs)
    _explain_parser(verbs)
    verbs.add_parser("schema", help="print the config's JSON Schema (for editor autocompletion)")
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


def _explain_parser(verbs) -> None:
    explain = verbs.add_parser(
        "explain",
        help="which inputs drive the predictions (attributions, permutation importance)",
        description=EXPLAIN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain.add_argument("run", help="run directory (or its model/ folder)")
    explain.add_argument(
        "--data", required=True, help="table (csv, tsv, parquet, jsonl) to explain"
    )
    explain.add_argument(
        "--method",
        default="integrated_gradients",
        help="integrated_gradients (default), shap, lime, ablation or permutation",
    )
    explain.add_argument(
        "--rows", type=int, help="explain the first N rows (default 10; permutation: all rows)"
    )
    explain.add_argument("--output", help="output to explain (default: the first)")
    explain.add_argument(
        "--target", help="class whose probability is explained (default: each row's prediction)"
    )
    explain.add_argument("--out", required=True, help="JSON file to write")
    explain.add_argument(
        "--overwrite", action="store_true", help="replace --out and its page, figures and heatmaps"
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

    try:
        code = VERBS[args.verb](args) or 0
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
        print("interrupted; a training run can be continued with --resume", file=sys.stderr)
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


def _train(args) -> int:
    from modelyard.api import Model

    model = Model.from_config(args.config, args.set)
    output = Path(args.output) if args.output else Path("runs") / model.config.name
    model.fit(output_dir=output, resume=args.resume, overwrite=args.overwrite)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one copy of the metrics
        print(json.dumps(model.metrics, indent=2))
    return 0


def _evaluate(args) -> int:
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


def _predict(args) -> int:
    from modelyard.api import Model
    from modelyard.errors import UserError
    from modelyard.train.progress import log

    out = Path(args.out)
    writers = {".csv": "to_csv", ".tsv": "to_csv", ".parquet": "to_parquet", ".jsonl": "to_json"}
    if out.suffix.lower() not in writers:
        raise UserError(
            f"--out '{out}': unknown format '{out.suffix}'; use one of {', '.join(writers)}"
        )
    if out.exists() and not args.overwrite:
        raise UserError(f"--out '{out}' already exists; pass --overwrite to replace it")
    predictions = Model.load(args.run).predict(args.data)
    out.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {
        ".csv": {"index": False},
        ".tsv": {"index": False, "sep": "\t"},
        ".parquet": {"index": False},
        ".jsonl": {"orient": "records", "lines": True},
    }
    getattr(predictions, writers[out.suffix.lower()])(out, **kwargs[out.suffix.lower()])
    log(f"wrote {len(predictions)} predictions to {out}")
    return 0


def _validate(args) -> int:
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


def _generate(args) -> int:
    from modelyard.api import Model

    model = Model.load(args.run)  # generate() checks the sampling settings
    model.generate(
        args.prompt,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        greedy=args.greedy,
        seed=args.seed,
        stream=True,
    )
    return 0


def _export(args) -> int:
    from modelyard.api import Model
    from modelyard.errors import UserError
    from modelyard.export import export

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise UserError(f"--out '{out}' already exists; pass --overwrite to replace it")
    model = Model.load(args.run)
    if not hasattr(model, "preprocessing"):
        raise UserError(
            "a language model's model/ folder already is a Hugging Face checkpoint; export it with transformers or optimum"
        )
    result = export(model, args.format, out, args.data)
    print(json.dumps(result, indent=2))
    return 0


def _serve(args) -> int:
    from modelyard.serve import serve

    serve(
        args.run,
        args.host,
        args.port,
        args.max_batch_size,
        args.max_wait_ms,
        args.max_request_mb,
        args.api_key_env,
    )
    return 0


def _compress_parser(verbs) -> None:
    compress = verbs.add_parser(
        "compress",
        help="quantize, prune or distill a trained model into a new run, with a before/after table",
        description=COMPRESS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compress.add_argument("run", help="run directory (or its model/ folder)")
    compress.add_argument("--method", required=True, help="quantize, prune or distill")
    compress.add_argument("--output", required=True, help="the new run directory")
    compress.add_argument("--data", help="labelled data to measure both models on (required)")
    compress.add_argument("--train", help="labelled data for fine-tuning (prune) or distillation")
    compress.add_argument(
        "--epochs",
        type=int,
        help="prune: fine-tuning epochs (default 0); distill: default the student's trainer.epochs",
    )
    compress.add_argument(
        "--amount", type=float, help="prune: fraction of weights (or neurons) removed (default 0.5)"
    )
    compress.add_argument(
        "--structured",
        action="store_true",
        help="prune: remove whole neurons / channels, so tensors shrink",
    )
    compress.add_argument(
        "--student", help="distill: config of the smaller student (same inputs and outputs)"
    )
    compress.add_argument(
        "--temperature", type=float, help="distill: softmax temperature T (default 2)"
    )
    compress.add_argument(
        "--alpha", type=float, help="distill: weight of the teacher's soft targets (default 0.5)"
    )
    compress.add_argument(
        "--repeats", type=int, help="latency: median of this many forward passes (default 30)"
    )
    compress.add_argument("--overwrite", action="store_true", help="replace --output if it exists")


def _compress(args) -> int:
    from modelyard.compress import compress, options_from

    options = options_from(**vars(args))
    result = compress(args.run, args.method, args.output, args.data, options, args.overwrite)
    print(result["markdown"])
    return 0


def _explain(args) -> int:
    from modelyard.api import Model
    from modelyard.explain import METHODS, explain, render
    from modelyard.train.progress import log

    METHODS.get(args.method)
    out = Path(args.out)
    render.check_free(out, args.overwrite)
    model = Model.load(args.run)
    found = explain(model, args.data, args.method, args.rows, args.output, args.target)
    page = render.write(found, out, model.config.name)
    print(json.dumps(found["global"], indent=2))
    log(f"wrote {out} and {page}")
    return 0


def _schema(args) -> int:
    from typing import Union

    from pydantic import TypeAdapter

    from modelyard.config.schema import TASKS

    schema = TypeAdapter(Union[tuple(TASKS.values())]).json_schema()  # noqa: UP007
    schema["title"] = "modelyard config"
    print(json.dumps(schema, indent=2))
    return 0


VERBS = {
    "train": _train,
    "evaluate": _evaluate,
    "predict": _predict,
    "validate": _validate,
    "generate": _generate,
    "export": _export,
    "serve": _serve,
    "explain": _explain,
    "compress": _compress,
    "schema": _schema,
}
