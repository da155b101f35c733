"""Reading tables (CSV, TSV, Parquet, JSON lines) and class-per-subfolder folders."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from modelyard.errors import UserError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
TABLE_READERS = {
    ".csv": lambda p: pd.read_csv(p),
    ".tsv": lambda p: pd.read_csv(p, sep="\t"),
    ".parquet": lambda p: pd.read_parquet(p),
    ".pq": lambda p: pd.read_parquet(p),
    ".jsonl": lambda p: pd.read_json(p, lines=True),
    ".json": lambda p: pd.read_json(p, lines=True),
}


def read_table(path: Path) -> pd.DataFrame:
    """Read one table file; the format comes from the file's suffix."""
    if not path.exists():
        raise UserError(f"data file '{path}' does not exist")
    reader = TABLE_READERS.get(path.suffix.lower())
    if reader is None:
        known = ", ".join(sorted(TABLE_READERS))
        raise UserError(
            f"data file '{path}': unknown format '{path.suffix}'; use one of {known}, or a folder"
        )
    try:
        frame = reader(path)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except (ValueError, OSError) as e:  # ParserError, UnicodeDecodeError, ArrowInvalid; I/O
        raise UserError(f"data file '{path}' could not be read: {e}") from None
    if len(frame) == 0:
        raise UserError(f"data file '{path}' has no rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def read_folder(path: Path, path_column: str, label_column: str) -> pd.DataFrame:
    """A folder with one subfolder per class: rows of (file path, subfolder name). A folder of
    files alone (for predict) gives the path column only."""
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if files and not any(p.is_dir() for p in path.iterdir()):
        return pd.DataFrame({path_column: [str(p) for p in files]})
    rows = [
        (str(file), sub.name)
        for sub in sorted(p for p in path.iterdir() if p.is_dir())
        for file in sorted(sub.iterdir())
        if file.is_file() and not file.name.startswith(".")
    ]
    if not rows:
        raise UserError(
            f"data folder '{path}' has no files in class subfolders (expected {path}/<class>/<file>)"
        )
    return pd.DataFrame(rows, columns=[path_column, label_column])


def read_data(path: Path, path_columns: list[str], label_columns: list[str]) -> pd.DataFrame:
    """Read a table or a class folder; file-path columns become absolute, relative to the table."""
    if path.is_dir():
        if len(path_columns) != 1 or len(label_columns) != 1:
            raise UserError(
                f"data '{path}' is a folder: that needs exactly one image or audio input and one output "
                f"(the subfolder name); found {len(path_columns)} file inputs and {len(label_columns)} outputs"
            )
        return read_folder(path, path_columns[0], label_columns[0])
    frame = read_table(path)
    for column in path_columns:
        if column in frame.columns:
            frame[column] = [_resolve(path.parent, v) for v in frame[column]]
    return frame


def _resolve(base: Path, value: object) -> object:
    if not isinstance(value, str) or not value:
        return value
    p = Path(value)
    return str(p if p.is_absolute() else base / p)
