"""Preprocessing speed of the bow text encoder against scikit-learn's TfidfVectorizer union.

Fits the bow feature (document frequencies in parts, as training does) and transforms the
same texts, on --rows short texts: the GCIDE definitions and Debian package descriptions
built by bench/text_defaults.py, repeated to the row count. Baseline: the TF-IDF union of
modelyard's baselines (word 1-2 + char_wb 2-5 grams), fit_transform on the same texts.

Usage::

    python bench/text_defaults.py --methods tfidf_lr --sets gcide_pos debian_sections
    python bench/bow_speed.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=ROOT / "bench/out/text_defaults")
    args = parser.parse_args()
    texts = pd.concat(
        pd.read_csv(args.data / f"{name}.csv", keep_default_na=False).text
        for name in ("gcide_pos", "debian_sections")
    )
    texts = pd.Series((texts.tolist() * (args.rows // len(texts) + 1))[: args.rows])

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    from modelyard.config.schema import TextInput
    from modelyard.data.features.bow import BowTextFeature

    start = time.perf_counter()
    feature = BowTextFeature(TextInput(name="text", type="text"))
    feature.fit(texts)
    fitted = time.perf_counter()
    x = feature.transform(texts)
    ours = time.perf_counter() - start
    print(f"bow fit {fitted - start:.1f} s, transform {ours - (fitted - start):.1f} s")
    print(
        f"bow: {len(texts)} texts in {ours:.1f} s ({len(texts) / ours:,.0f} texts/s), {tuple(x.shape)}"
    )

    start = time.perf_counter()
    make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
    ).fit_transform(texts)
    theirs = time.perf_counter() - start
    print(f"TfidfVectorizer union fit_transform (baseline): {theirs:.1f} s")
    print(f"ratio bow / baseline: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
