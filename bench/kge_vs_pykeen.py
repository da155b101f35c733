"""Link prediction against PyKEEN: the same graphs, models, embedding size, epochs, batch size,
optimizer and loss (1-N softmax / PyKEEN's LCWA with cross-entropy, with inverse relations),
both evaluated by filtered ranking over all entities with the realistic tie rule. Prints each
side's test MRR, Hits@10 and training wall time, and the ratios ours / PyKEEN.

Data: bench/kg_data.py extracts Nations, Kinships and UMLS from the PyKEEN wheel (no network
at run time). PyKEEN is optional: without it only our half runs. It installs without
touching torch (pip install --dry-run pykeen keeps torch==2.13.0); to keep the shared
environment as it is, put it in a venv that sees the system packages:

    python -m venv --system-site-packages /tmp/pkvenv && /tmp/pkvenv/bin/pip install pykeen==1.11.1
    OMP_NUM_THREADS=1 PYTHONPATH=src /tmp/pkvenv/bin/python bench/kge_vs_pykeen.py --data data/kg

Both sides score with the same functions: our TransE with `normalize_entities` (our default;
PyKEEN normalises entity vectors after each step, ours scales them to unit norm where they
are used) and our RotatE with `p_norm: 2` (PyKEEN's L2 norm of the complex difference; the
paper and our default sum the moduli); `--raw-transe` (entity norms left free) and
`--paper-rotate` (our RotatE default) run the other variants.
Our side trains with `training.queries: distinct` by default, PyKEEN's LCWA objective: each
distinct (entity, relation) query once per epoch, all its training answers as the target,
every query weighted alike. `--queries grouped` trains our 1vsAll loss (each triple's answer,
so a query with n answers counts n times) with each query scored once; `--queries triples`
the same loss one triple at a time (our default, the slowest). The difference that remains
on the `distinct` side: initialisations.

On graphs this small one seed's test MRR moves by about 0.01-0.02 (Nations' test split has
201 triples): `--seeds N` trains each side with seeds 42 .. 42 + N - 1 and prints the mean and
standard deviation of each, and the ratio of the means.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

MODELS = ("transe", "distmult", "complex", "rotate")
PYKEEN_NAMES = {
    "transe": "TransE",
    "distmult": "DistMult",
    "complex": "ComplEx",
    "rotate": "RotatE",
}


def ours(folder: Path, kind: str, args, seed: int = 42) -> dict[str, float]:
    """Train our model on folder/{train,valid,test}.txt; test MRR, Hits@10, seconds."""
    from modelyard import Model

    model_section = {"type": kind, "dim": args.dim}
    if kind == "transe":  # PyKEEN's TransE: L1 distance, entity vectors of unit L2 norm
        model_section.update(p_norm=1, normalize_entities=not args.raw_transe)
    if kind == "rotate":  # PyKEEN's RotatE: the L2 norm of the complex difference
        model_section["p_norm"] = 1 if args.paper_rotate else 2
    config = {
        "task": "link_prediction",
        "name": f"bench-{folder.name}-{kind}",
        "data": {
            "train": str(folder / "train.txt"),
            "validation": str(folder / "valid.txt"),
            "test": str(folder / "test.txt"),
        },
        "model": model_section,
        "training": {
            "loss": "softmax",
            "inverse_relations": True,
            "queries": args.queries,
        },
        "trainer": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "optimizer": {"type": "adam", "lr": args.lr},
            "early_stopping": None,
            "keep": "last",
            "device": "cpu",
            "seed": seed,
        },
        "tracking": {"tensorboard": False},
    }
    model = Model.from_config(config)
    with tempfile.TemporaryDirectory() as run:
        start = time.perf_counter()
        model.fit(output_dir=Path(run) / "run")
        seconds = time.perf_counter() - start
    test = model.metrics["test"]
    return {"mrr": test["mrr"], "hits_at_10": test["hits_at_10"], "seconds": seconds}


def pykeen_side(folder: Path, kind: str, args, seed: int = 42) -> dict[str, float]:
    """The same with pykeen.pipeline: LCWA training (1-N over tails, inverse triples), filtered
    rank-based evaluation on test, realistic ranks."""
    from pykeen.pipeline import pipeline
    from pykeen.triples import TriplesFactory

    train = TriplesFactory.from_path(folder / "train.txt", create_inverse_triples=True)
    valid, test = (
        TriplesFactory.from_path(
            folder / name,
            entity_to_id=train.entity_to_id,
            relation_to_id=train.relation_to_id,
            create_inverse_triples=True,
        )
        for name in ("valid.txt", "test.txt")
    )
    model_kwargs = {"embedding_dim": args.dim}
    if kind == "transe":
        model_kwargs["scoring_fct_norm"] = 1
    start = time.perf_counter()
    result = pipeline(
        training=train,
        validation=valid,
        testing=test,
        model=PYKEEN_NAMES[kind],
        model_kwargs=model_kwargs,
        loss="crossentropy",
        training_loop="lcwa",
        optimizer="adam",
        optimizer_kwargs={"lr": args.lr},
        training_kwargs={"num_epochs": args.epochs, "batch_size": args.batch_size},
        evaluation_kwargs={"batch_size": 256},
        random_seed=seed,
        device="cpu",
        use_tqdm=False,
    )
    seconds = time.perf_counter() - start  # training and the test evaluation
    metrics = result.metric_results
    return {
        "mrr": metrics.get_metric("both.realistic.inverse_harmonic_mean_rank"),
        "hits_at_10": metrics.get_metric("both.realistic.hits_at_10"),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="bench/kg_data.py's folder")
    parser.add_argument("--graphs", nargs="+", default=["nations", "umls"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seeds", type=int, default=1, help="runs per side: seeds 42, 43, ...")
    parser.add_argument("--ours-only", action="store_true", help="skip PyKEEN")
    parser.add_argument(
        "--raw-transe", action="store_true", help="our TransE without unit-norm entities"
    )
    parser.add_argument(
        "--queries",
        choices=["distinct", "grouped", "triples"],
        default="distinct",
        help="our training.queries (distinct: PyKEEN's LCWA objective)",
    )
    parser.add_argument(
        "--paper-rotate", action="store_true", help="our RotatE with the paper's L1 distance"
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    try:
        if args.ours_only:
            raise ImportError
        import pykeen  # noqa: F401

        has_pykeen = True
    except ImportError:
        has_pykeen = False
        print("PyKEEN not run (not installed, or --ours-only): our half only")
    print(
        f"dim {args.dim}, {args.epochs} epochs, batch {args.batch_size}, adam lr {args.lr}, "
        f"1-N softmax with inverse relations (our queries: {args.queries}), {args.seeds} seed(s) per side; "
        "test: filtered, realistic rank, both sides"
    )
    ours(args.data / args.graphs[0], "distmult", argparse.Namespace(**{**vars(args), "epochs": 1}))
    rows = []  # (after one warm-up run: our lazy imports are not timed, as PyKEEN's are not)
    for graph in args.graphs:
        for kind in args.models:
            runs: dict[str, list[dict[str, float]]] = {"ours": [], "pykeen": []}
            for seed in range(42, 42 + args.seeds):
                runs["ours"].append(ours(args.data / graph, kind, args, seed))
                if has_pykeen:
                    runs["pykeen"].append(pykeen_side(args.data / graph, kind, args, seed))
                row = {"graph": graph, "model": kind, "seed": seed}
                row.update({side: found[-1] for side, found in runs.items() if found})
                print(_line(row), flush=True)
            row = {"graph": graph, "model": kind, "seed": "mean"}
            row.update({side: _mean(found) for side, found in runs.items() if found})
            if args.seeds > 1:
                print(_line(row), flush=True)
            rows.append({**row, "runs": runs})
    print(json.dumps(rows))


def _mean(runs: list[dict[str, float]]) -> dict[str, float]:
    """The mean of each figure over seeds, and the standard deviation of the MRR."""
    import statistics

    found = {key: statistics.fmean(run[key] for run in runs) for key in runs[0]}
    found["mrr_sd"] = statistics.stdev(run["mrr"] for run in runs) if len(runs) > 1 else 0.0
    return found


def _line(row: dict) -> str:
    o = row["ours"]
    sd = lambda side: f"±{side['mrr_sd']:.3f}" if "mrr_sd" in side else ""  # noqa: E731
    text = (
        f"{row['graph']:9s} {row['model']:9s} seed {row['seed']!s:4s} ours MRR {o['mrr']:.3f}{sd(o)}"
        f" H@10 {o['hits_at_10']:.3f} {o['seconds']:6.1f}s"
    )
    if "pykeen" in row:
        p = row["pykeen"]
        text += (
            f" | pykeen MRR {p['mrr']:.3f}{sd(p)} H@10 {p['hits_at_10']:.3f} {p['seconds']:6.1f}s"
            f" | ratio ours/pykeen: MRR {o['mrr'] / p['mrr']:.2f}, time {o['seconds'] / p['seconds']:.2f}"
        )
    return text


if __name__ == "__main__":
    main()
