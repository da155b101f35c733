"""Cold start on MovieLens: the two-tower model scoring held-out movies from their title and
genres, against popularity, on the same cold-item split (examples/movielens/cold_start.yaml).

Protocol (recommend/cold.py): 10% of the movies and all their ratings are test, 10%
validation; each test user ranks all the test movies (and only those); recall/ndcg at 10.
Baselines: popularity in training (zero for every test movie, so a seeded random order:
chance), the deployable one and the named baseline of the ratio; and, as an upper reference,
popularity among the OTHER users' test ratings, an oracle that knows the new movies' future
popularity.

    python examples/movielens/prepare.py /tmp/dslabs        # once: data/ratings.csv, movies.csv
    python bench/recommend_cold_start.py                     # title through bow
    python bench/recommend_cold_start.py --title minilm      # title through frozen minilm
    python bench/recommend_cold_start.py --title both
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / "examples" / "movielens" / "cold_start.yaml"
MINILM_TITLE = (
    '{"name": "title", "type": "text", "encoder": {"type": "pretrained", "model": "minilm",'
    ' "freeze": "all", "dropout": 0.0}, "preprocessing": {"max_length": 32}}'
)


def train(overrides: list[str], out: Path) -> dict:
    """Test metrics of the config trained with `overrides`."""
    from modelyard import Model

    model = Model.from_config(CONFIG, overrides)
    model.fit(output_dir=out)
    return model.metrics["test"]


def popularity(config_path: Path, ks: list[int], oracle: bool) -> dict:
    """A popularity baseline on the same split (recommend/cold.popularity_baseline)."""
    from modelyard.config.load import load_config
    from modelyard.recommend.cold import popularity_baseline
    from modelyard.recommend.data import read_interactions
    from modelyard.recommend.side import add_side_ids, read_sides
    from modelyard.recommend.split import split_rows

    config, base = load_config(config_path, [])
    found = read_interactions(config.data, base)
    found = add_side_ids(found, read_sides(config, base, None, found))
    rows = split_rows(found, config.split)
    return popularity_baseline(
        found.users,
        found.items,
        rows,
        "test",
        config.split.by == "cold_items",
        len(found.user_ids),
        len(found.item_ids),
        ks,
        oracle,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--title", choices=["bow", "minilm", "both"], default="bow")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    from modelyard.train.progress import verbosity

    verbosity("quiet")
    rows = {}
    started = time.perf_counter()
    base = popularity(CONFIG, [10], oracle=False)
    rows["popularity (training counts: chance)"] = (base, time.perf_counter() - started)
    started = time.perf_counter()
    oracle = popularity(CONFIG, [10], oracle=True)
    rows["popularity oracle (other users' test counts)"] = (oracle, time.perf_counter() - started)
    variants = {}
    if args.title in ("bow", "both"):
        variants["two_tower, title bow + genres + year"] = []
    if args.title in ("minilm", "both"):
        variants["two_tower, title minilm + genres + year"] = [f"items.features.0={MINILM_TITLE}"]
    with tempfile.TemporaryDirectory() as folder:
        for i, (name, overrides) in enumerate(variants.items()):
            started = time.perf_counter()
            found = train([f"trainer.epochs={args.epochs}", *overrides], Path(folder) / str(i))
            rows[name] = (found, time.perf_counter() - started)
    print(f"protocol: {base['protocol']}")
    print(f"{'model':46s} {'recall@10':>10s} {'ndcg@10':>8s} {'seconds':>8s}")
    for name, (found, seconds) in rows.items():
        print(f"{name:46s} {found['recall_at_10']:10.4f} {found['ndcg_at_10']:8.4f} {seconds:8.1f}")
    for name, (found, _) in list(rows.items())[2:]:
        for label, reference in (("popularity", base), ("oracle", oracle)):
            print(
                f"{name} / {label}: recall@10 x{found['recall_at_10'] / reference['recall_at_10']:.2f}, "
                f"ndcg@10 x{found['ndcg_at_10'] / reference['ndcg_at_10']:.2f}"
            )


if __name__ == "__main__":
    main()
