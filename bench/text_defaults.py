"""Text defaults against TF-IDF + logistic regression on three real short-text sets (issue 12).

Sets (built offline from installed Debian packages into --out, nothing is committed):

* fortunes: topic of a Debian fortune, 6 classes (examples/fortunes/prepare.py's split).
* gcide_pos: part of speech (noun, verb, adjective, adverb) of a GCIDE dictionary sense from
  its definition alone (Debian dict-gcide, /usr/share/dictd/gcide.dict.dz); 12,000 evenly
  spaced entries.
* debian_sections: archive section (games, science, net, admin, sound, graphics) of a Debian
  package from its description (`apt-cache dumpavail`: needs apt lists, as after
  `apt-get update`).

Each gets a fixed stratified 70/15/15 split (seed 0). Methods, all scored on the same test rows:
`tfidf_lr` (scikit-learn: word 1-2 + char_wb 2-5 grams TF-IDF, LogisticRegression, as
modelyard's baseline), `default` (the config `{name: text, type: text}` and a category output,
nothing else: the bow encoder), `cnn` (the encoder named, bpe subwords; the default before
bow), `char_cnn` (cnn over characters, max_length 300), `bow` (named; same as default) and `minilm`
(all-MiniLM-L6-v2 fine-tuned; --minilm-rows training rows, --minilm-epochs epochs, to fit
two CPU cores). Prints test accuracy, the difference to tfidf_lr in points, and wall time.

Usage::

    python bench/text_defaults.py [--sets fortunes gcide_pos debian_sections]
        [--methods tfidf_lr default bow cnn minilm] [--out bench/out/text_defaults]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SETS = ["fortunes", "gcide_pos", "debian_sections"]
METHODS = ["tfidf_lr", "default", "cnn", "char_cnn", "minilm"]
OPTIONAL = ["bow"]  # the default: the same config with encoder named
POS = {"n": "noun", "v. t": "verb", "v. i": "verb", "v": "verb", "a": "adjective", "adv": "adverb"}
SECTIONS = ["games", "science", "net", "admin", "sound", "graphics"]


def split(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """A stratified 70/15/15 `split` column, fixed by `seed`."""
    rng = np.random.default_rng(seed)
    names = np.empty(len(frame), dtype=object)
    for _, rows in frame.groupby("label").indices.items():
        rows = rng.permutation(rows)
        a, b = int(0.7 * len(rows)), int(0.85 * len(rows))
        names[rows[:a]], names[rows[a:b]], names[rows[b:]] = "train", "validation", "test"
    return frame.assign(split=names)


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Duplicates once; a text under two labels not at all."""
    frame = frame.drop_duplicates()
    return frame[~frame.duplicated("text", keep=False)].reset_index(drop=True)


def fortunes() -> pd.DataFrame:
    path = ROOT / "examples/fortunes/data/fortunes.csv"
    if not path.exists():
        subprocess.run([sys.executable, str(ROOT / "examples/fortunes/prepare.py")], check=True)
    frame = pd.read_csv(path)
    return frame.rename(columns={"topic": "label"})[["text", "label", "split"]]


def gcide_pos(entries: int = 12_000) -> pd.DataFrame:
    """(definition, part of speech) of the first sense of every GCIDE entry with one POS."""
    with gzip.open("/usr/share/dictd/gcide.dict.dz", "rt", errors="replace") as file:
        text = file.read()
    header = re.compile(r"^\S[^\n\\]*\\[^\\\n]*\\[^,\n]*, (n|v\. t|v\. i|v|a|adv)\.[^\n]*\n", re.M)
    rows = []
    for match in header.finditer(text):
        body = text[match.end() : match.end() + 600].split("[1913 Webster]")[0]
        body = body.split("\n\n")[0]
        body = re.sub(r"\[[^\]]*\]", "", " ".join(body.split()))  # etymologies
        body = re.sub(r"^\s*1\.\s*", "", body.split("]")[-1])
        body = re.sub(r"[{}]", "", re.sub(r"^\([^)]*\)\s*", "", body)).strip()
        if len(body) >= 15 and not re.match(r"^\d|^See|^Same as", body):
            rows.append((body, POS[match.group(1)]))
    keep = np.linspace(0, len(rows) - 1, min(entries, len(rows))).astype(int)
    return split(clean(pd.DataFrame([rows[i] for i in keep], columns=["text", "label"])))


def debian_sections() -> pd.DataFrame:
    """(short + long description up to 300 characters, section) of Debian packages."""
    dump = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True).stdout
    rows = []
    for block in dump.split("\n\n"):
        section = re.search(r"^Section: (?:\w+/)?(\S+)", block, re.M)
        described = re.search(r"^Description: (.*)\n((?: .*\n?)*)", block, re.M)
        if section and described and section.group(1) in SECTIONS:
            long = described.group(2).split("\n .")[0]
            rows.append((" ".join(f"{described.group(1)} {long}".split())[:300], section.group(1)))
    return split(clean(pd.DataFrame(rows, columns=["text", "label"])))


def build(name: str, out: Path) -> Path:
    path = out / f"{name}.csv"
    if not path.exists():
        out.mkdir(parents=True, exist_ok=True)
        globals()[name]().to_csv(path, index=False)
    return path


def tfidf_lr(path: Path) -> float:
    """Test accuracy of modelyard's TF-IDF baseline pipeline fitted on the train rows."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    frame = pd.read_csv(path, keep_default_na=False)
    train, test = frame[frame.split == "train"], frame[frame.split == "test"]
    model = make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        ),
        LogisticRegression(max_iter=1000),
    )
    model.fit(train.text, train.label)
    return float((model.predict(test.text) == test.label).mean())


def config(method: str, data: Path, args) -> dict:
    text: dict = {"name": "text", "type": "text"}
    cfg: dict = {
        "name": method,
        "data": {"train": str(data), "split": {"column": "split"}},
        "inputs": [text],
        "outputs": [{"name": "label", "type": "category"}],
    }
    if method in ("bow", "cnn"):
        text["encoder"] = {"type": method}
    if method == "char_cnn":
        text["encoder"] = {"type": "cnn"}
        text["preprocessing"] = {"tokenizer": "characters", "max_length": 300}
    if method == "minilm":
        text["encoder"] = {"type": "pretrained", "model": "minilm", "lr": 1e-4}
        text["preprocessing"] = {"max_length": 64}
        cfg["baselines"] = False
        cfg["trainer"] = {
            "epochs": args.minilm_epochs,
            "optimizer": {"type": "adamw", "lr": 1e-3, "weight_decay": 0.01},
            "schedule": {"type": "linear", "warmup_steps": 20},
        }
    return cfg


def subsample(path: Path, rows: int) -> Path:
    """`rows` training rows and rows // 4 validation rows drawn at random; all test rows."""
    frame = pd.read_csv(path, keep_default_na=False)
    parts = [
        frame[frame.split == "train"].sample(
            min(rows, (frame.split == "train").sum()), random_state=0
        ),
        frame[frame.split == "validation"].sample(
            min(rows // 4, (frame.split == "validation").sum()), random_state=0
        ),
        frame[frame.split == "test"],
    ]
    small = path.with_name(f"{path.stem}_{rows}.csv")
    pd.concat(parts).to_csv(small, index=False)
    return small


def train(method: str, data: Path, run: Path, args) -> float:
    """Test accuracy of `modelyard train` on the method's config."""
    import yaml

    if method == "minilm":
        data = subsample(data, args.minilm_rows)
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.in.yaml").write_text(yaml.safe_dump(config(method, data, args)))
    command = [sys.executable, "-m", "modelyard", "train", str(run / "config.in.yaml")]
    shutil.rmtree(run / "run", ignore_errors=True)  # a run of an earlier bench
    done = subprocess.run([*command, "--output", str(run / "run")], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{method} on {data.name} failed:\n{done.stderr[-3000:]}")
    return json.loads((run / "run/metrics.json").read_text())["test"]["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=SETS, choices=SETS)
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS + OPTIONAL)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out/text_defaults")
    parser.add_argument("--minilm-rows", type=int, default=2000)
    parser.add_argument("--minilm-epochs", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    print("| set | train/val/test | method | test accuracy | vs tfidf_lr (points) | wall s |")
    print("|---|---|---|---|---|---|")
    for name in args.sets:
        data = build(name, args.out)
        sizes = pd.read_csv(data).split.value_counts()
        shape = "/".join(str(sizes.get(s, 0)) for s in ("train", "validation", "test"))
        reference = None
        for method in ["tfidf_lr", *[m for m in args.methods if m != "tfidf_lr"]]:
            start = time.perf_counter()
            if method == "tfidf_lr":
                accuracy = reference = tfidf_lr(data)
            else:
                accuracy = train(method, data, args.out / "runs" / name / method, args)
            wall = time.perf_counter() - start
            vs = f"{100 * (accuracy - reference):+.1f}"
            print(
                f"| {name} | {shape} | {method} | {accuracy:.3f} | {vs} | {wall:.0f} |", flush=True
            )


if __name__ == "__main__":
    main()
