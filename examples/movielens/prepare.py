"""Build MovieLens ratings (100,004 ratings, 671 users, 9,066 movies; GroupLens terms forbid
redistribution: never commit them) from the Debian package r-cran-dslabs, with PyPI `rdata`:

    apt-get download r-cran-dslabs && dpkg-deb -x r-cran-dslabs_*.deb /tmp/dslabs
    pip install rdata
    python examples/movielens/prepare.py /tmp/dslabs

Writes data/ratings.csv beside this script: userId, movieId, rating (0.5 to 5), timestamp
(Unix seconds), title, year, genres ('|'-separated, e.g. Comedy|Romance); and data/movies.csv,
one row per movie: movieId, title, year, genres (the item side table of cold_start.yaml).
"""

from __future__ import annotations

import argparse
import gzip
import lzma
import zlib
from pathlib import Path

DATA = "usr/lib/R/site-library/dslabs/data/Rdata"


def read_movielens(root: Path):
    """The `movielens` data frame of the R lazy-load database under `root` (dpkg-deb -x)."""
    import warnings

    import rdata

    warnings.filterwarnings("ignore", "Unknown file type", UserWarning)  # the .rdx's blobs

    def convert(blob: bytes):
        return rdata.conversion.convert(rdata.parser.parse_data(blob, expand_altrep=True))

    prefix = root / DATA
    index = convert(gzip.decompress(prefix.with_suffix(".rdx").read_bytes()))
    offset, length = (int(x) for x in index["variables"]["movielens"])
    blob = prefix.with_suffix(".rdb").read_bytes()[offset : offset + length]
    return convert(lzma.decompress(blob[5:]) if blob[4:5] == b"Z" else zlib.decompress(blob[4:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="where r-cran-dslabs was extracted (dpkg-deb -x)")
    args = parser.parse_args()
    frame = read_movielens(args.root)
    columns = ["userId", "movieId", "rating", "timestamp", "title", "year", "genres"]
    out = Path(__file__).resolve().parent / "data" / "ratings.csv"
    out.parent.mkdir(exist_ok=True)
    frame[columns].to_csv(out, index=False)
    print(f"wrote {len(frame)} ratings to {out}")
    movies = frame[["movieId", "title", "year", "genres"]].drop_duplicates("movieId")
    movies.sort_values("movieId").to_csv(out.with_name("movies.csv"), index=False)
    print(f"wrote {len(movies)} movies to {out.with_name('movies.csv')}")


if __name__ == "__main__":
    main()
