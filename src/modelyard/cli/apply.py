"""Verbs that use a trained run: generate, export, serve, compress, explain.

Each verb has `add_<verb>(verbs)`, which adds its subparser, and `run_<verb>(args)`, which runs it
and returns the exit code. Heavy modules are imported inside the `run_` functions only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

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
metadata.
projector (link prediction and recommendation runs): the entity or item embeddings as a
TensorBoard Embedding Projector folder (tensors.bytes, metadata.tsv with the names,
projector_config.pbtxt); view it with `tensorboard --logdir OUT`."""

SERVE_HELP = """POST /predict with {"records": [{"<input name>": value, ...}, ...]} returns
{"predictions": [{"<output>_prediction": ..., "<output>_probability": ..., ...}, ...]}, one per
record, in order. Image and audio inputs are base64 strings (a data: URL works too), or files
in POST /predict/files (multipart form, one record). A record with a missing or unknown field,
or an input the model cannot read, is a 422 naming it. GET /health, GET /metadata (inputs,
outputs, classes, metrics, versions), GET /docs (OpenAPI). Concurrent requests are batched.
Binds 127.0.0.1 (this machine only) unless --host says otherwise. Set the environment variable
MODELYARD_API_KEY (or the one named by --api-key-env) to require an X-API-Key header.
A recommendation run (task: recommendation) answers instead POST /recommend with {"user": ID
or "users": [IDs], "k": 10, "include_seen": false, "fallback": null or "popular"} (per user:
items with scores, seen_excluded, source), POST /similar with {"item": ID or "items": [IDs],
"k": 10}, POST /predict with {"pairs": [{"user": ID, "item": ID}, ...]}, GET /health and
/metadata; an unknown id is a 422 saying how many were unknown (no request batching)."""

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


def add_generate(verbs) -> None:
    """`generate RUN --prompt TEXT`: a causal language model continues the prompt;
    `generate RUN --n N --out grid.png [--class NAME]`: an image generation run draws images."""
    generate = verbs.add_parser(
        "generate",
        help="continue a prompt with a causal language model (tokens stream as they come), or "
        "draw images from an image generation run (--n, --out, --class)",
    )
    generate.add_argument(
        "run",
        help="run directory of a task: language_model run (model.architecture: gpt2) or of a "
        "task: image_generation run",
    )
    generate.add_argument("--prompt", help="text to continue (language models)")
    _add_image_options(generate)
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


def _add_image_options(generate) -> None:
    images = generate.add_argument_group("images (task: image_generation runs)")
    images.add_argument("--n", type=int, default=64, help="how many images (default 64)")
    images.add_argument("--out", help="the grid PNG to write (e.g. grid.png)")
    images.add_argument(
        "--class",
        dest="image_class",
        help="the class to draw (a conditional run; default: every class in turn)",
    )
    images.add_argument("--each", help="also write each image as a PNG into this folder")
    images.add_argument(
        "--steps", type=int, help="diffusion: DDIM steps (default: model.sampling_steps)"
    )
    images.add_argument(
        "--guidance",
        type=float,
        help="diffusion: guidance scale (default: model.guidance; 1 = none)",
    )


def _generate_images(model, args) -> int:
    from modelyard.errors import UserError

    if args.out is None:
        raise UserError(
            "generate: give --prompt TEXT (a language model) or --out grid.png (an image generation run)"
        )
    written = model.generate_images(
        args.n,
        args.out,
        label=args.image_class,
        each=args.each,
        steps=args.steps,
        guidance=args.guidance,
        seed=args.seed if args.seed is not None else 0,
    )
    print(json.dumps({k: v for k, v in written.items() if k != "each"}, indent=2))
    return 0


def run_generate(args) -> int:
    from modelyard.api import Model

    model = Model.load(args.run)  # generate() checks the sampling settings
    if args.prompt is None:
        return _generate_images(model, args)
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


def add_export(verbs) -> None:
    """`export RUN --format F --out FILE`: ONNX or safetensors."""
    export = verbs.add_parser(
        "export",
        help="write a trained model as ONNX (checked with onnxruntime) or safetensors, or its "
        "entity / item embeddings for TensorBoard's projector",
        description=EXPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("run", help="run directory (or its model/ folder)")
    export.add_argument("--format", required=True, choices=["onnx", "safetensors", "projector"])
    export.add_argument(
        "--out", required=True, help="file to write (e.g. model.onnx); projector: a folder"
    )
    export.add_argument(
        "--data", help="a few rows of inputs to check the ONNX graph on (default: made up)"
    )
    export.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def run_export(args) -> int:
    from modelyard.api import Model
    from modelyard.errors import UserError
    from modelyard.export import export

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise UserError(f"--out '{out}' already exists; pass --overwrite to replace it")
    model = Model.load(args.run)
    if args.format == "projector":
        from modelyard.export.projector import write_projector

        vectors, names, tag = model.embedding_table()
        print(json.dumps(write_projector(vectors, names, out, tag), indent=2))
        return 0
    model.require("export", "export")
    result = export(model, args.format, out, args.data)
    print(json.dumps(result, indent=2))
    return 0


def add_serve(verbs) -> None:
    """`serve RUN`: a REST server."""
    serve = verbs.add_parser(
        "serve",
        help="serve a trained model over HTTP (POST /predict, GET /health, /metadata, /docs; "
        "recommendation runs: also /recommend, /similar)",
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


def run_serve(args) -> int:
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


def add_compress(verbs) -> None:
    """`compress RUN --method M --output DIR`: a smaller model in a new run."""
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


def run_compress(args) -> int:
    from modelyard.compress import compress, options_from

    options = options_from(**vars(args))
    result = compress(args.run, args.method, args.output, args.data, options, args.overwrite)
    print(result["markdown"])
    return 0


def add_explain(verbs) -> None:
    """`explain RUN --data PATH --out FILE`: attributions and their page."""
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


def run_explain(args) -> int:
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
