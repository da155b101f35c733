"""Image generation on Fashion-MNIST: VAE, GAN and diffusion side by side.

For each trained run (examples/fashion_mnist/{vae,gan,diffusion}.yaml): FID and KID in the
judge's feature space against the real test images (from the run's metrics.json, next to
the real-data reference: as many real training images against the same test images),
training wall time (history.csv), sampling time per 64 images, and the Classification
Accuracy Score (Ravuri & Vinyals 2019): the judge's own classifier config
(examples/fashion_mnist/config.yaml) trained on `--cas-samples` generated images only
(balanced over the classes) and tested on the real test set. References: the same config
trained on as many real training images, and the judge run itself (all 60k real images:
the ceiling). Baseline named by issue 15: CAS >= 0.80 for class-conditional diffusion.

    python examples/fashion_mnist/prepare.py
    modelyard train examples/fashion_mnist/config.yaml --output runs/fashion_mnist   # judge
    modelyard train examples/fashion_mnist/diffusion.yaml --output runs/fashion_diffusion
    (likewise vae.yaml -> runs/fashion_vae, gan.yaml -> runs/fashion_gan)
    python bench/generation.py --runs runs/fashion_vae runs/fashion_gan runs/fashion_diffusion

Writes the table as JSON to --out (default runs/generation_bench.json).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CLASSIFIER = ROOT / "examples" / "fashion_mnist" / "config.yaml"
DATA = ROOT / "examples" / "fashion_mnist" / "data"


def sampling_seconds_per_64(model, steps: int | None) -> float:
    labels = [i % max(len(model.classes), 1) for i in range(64)] if model.classes else None
    model.sample(8, labels=labels[:8] if labels else None, steps=steps)  # warm-up
    began = time.perf_counter()
    model.sample(64, labels=labels, steps=steps)
    return time.perf_counter() - began


def write_images(images, labels: list[str], folder: Path) -> Path:
    """folder/images/<i>.png and folder/train.csv (image,label)."""
    from modelyard.generation.grid import save_each

    paths = save_each(images, folder / "images")
    frame = pd.DataFrame({"image": [str(p.relative_to(folder)) for p in paths], "label": labels})
    frame.to_csv(folder / "train.csv", index=False)
    return folder / "train.csv"


def classifier_accuracy(train_csv: Path, output: Path, epochs: int) -> float:
    """The judge's config trained on `train_csv`, its accuracy on the real test set."""
    from modelyard.api import Model

    overrides = [
        f"data.train={train_csv}",
        f"data.test={DATA / 'test.csv'}",
        f"trainer.epochs={epochs}",
        "trainer.schedule.warmup_steps=20",  # the example's 200 are most of a small set's steps
        "tracking.tensorboard=false",
    ]
    model = Model.from_config(CLASSIFIER, overrides).fit(output_dir=output, overwrite=True)
    return float(model.metrics["test"]["accuracy"])


def cas(run: Path, n: int, steps: int | None, epochs: int, work: Path) -> tuple[float, float]:
    """(CAS, seconds to generate the n images)."""
    from modelyard.api import Model

    model = Model.load(run)
    labels = [i % len(model.classes) for i in range(n)]
    began = time.perf_counter()
    images = model.sample(n, labels=labels, steps=steps, seed=1)
    seconds = time.perf_counter() - began
    csv = write_images(images, [model.classes[i] for i in labels], work / run.name / "data")
    return classifier_accuracy(csv, work / run.name / "classifier", epochs), seconds


def real_reference(n: int, epochs: int, work: Path) -> float:
    """The same classifier trained on n real training images (balanced, seed 0)."""
    table = pd.read_csv(DATA / "train.csv")
    per_class = n // table["label"].nunique()
    picked = table.groupby("label").sample(per_class, random_state=0)
    picked = picked.assign(image=[str(DATA / p) for p in picked["image"]])
    folder = work / "real" / "data"
    folder.mkdir(parents=True, exist_ok=True)
    picked.to_csv(folder / "train.csv", index=False)
    return classifier_accuracy(folder / "train.csv", work / "real" / "classifier", epochs)


def row(run: Path, args, work: Path) -> dict:
    from modelyard.api import Model

    metrics = json.loads((run / "metrics.json").read_text())
    test = metrics.get("test", {})
    history = pd.read_csv(run / "history.csv")
    model = Model.load(run)
    found = {
        "run": run.name,
        "model": model.config.model.type,
        "epochs": int(history["epoch"].max()),
        "train_seconds": round(float(history["seconds"].sum()), 1),
        "sampling_seconds_per_64": round(sampling_seconds_per_64(model, args.steps), 3),
        **{
            k: test.get(k)
            for k in ("fid", "fid_reference", "kid", "kid_reference", "judge_accuracy")
        },
    }
    if args.cas_samples:
        found["cas"], found["cas_generation_seconds"] = cas(
            run, args.cas_samples, args.steps, args.epochs, work
        )
    print(json.dumps(found), flush=True)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", type=Path, required=True)
    parser.add_argument("--judge", type=Path, default=ROOT / "runs" / "fashion_mnist")
    parser.add_argument("--cas-samples", type=int, default=1000, help="0: no CAS")
    parser.add_argument("--steps", type=int, help="diffusion DDIM steps (default: the run's)")
    parser.add_argument("--epochs", type=int, default=15, help="CAS classifier epochs")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "generation_bench")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "generation_bench.json")
    args = parser.parse_args()
    args.work = args.work.resolve()  # config overrides resolve relative paths from the config
    rows = [row(run, args, args.work) for run in args.runs]
    ceiling = json.loads((args.judge / "metrics.json").read_text())["test"]["accuracy"]
    reference = (
        real_reference(args.cas_samples, args.epochs, args.work) if args.cas_samples else None
    )
    result = {"rows": rows, "classifier_on_all_real": ceiling, "classifier_on_n_real": reference}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nclassifier trained on all 60k real images (ceiling): accuracy {ceiling:.4f}")
    if reference is not None:
        print(f"classifier trained on {args.cas_samples} real images: accuracy {reference:.4f}")
    print(
        f"{'model':10} {'FID':>8} {'(real)':>8} {'KID':>8} {'(real)':>8} {'CAS':>6} {'CAS/real':>8} {'train s':>8} {'s/64':>6}"
    )
    for r in rows:
        ratio = r.get("cas", 0) / reference if reference else float("nan")
        print(
            f"{r['model']:10} {r['fid'] or float('nan'):8.3f} {r['fid_reference'] or float('nan'):8.3f} "
            f"{r['kid'] or float('nan'):8.4f} {r['kid_reference'] or float('nan'):8.4f} "
            f"{r.get('cas', float('nan')):6.3f} {ratio:8.3f} {r['train_seconds']:8.0f} {r['sampling_seconds_per_64']:6.2f}"
        )


if __name__ == "__main__":
    main()
