"""Reading tables (CSV, TSV, Parquet, JSON lines) and class-per-subfolder folders."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from modelyard.errors import UserError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".opus"}
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
    except Exception as e:  # noqa: BLE001 - every parser error is the user's file
        raise UserError(f"data file '{path}' could not be read: {e}") from None
    if len(frame) == 0:
        raise UserError(f"data file '{path}' has no rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def read_folder(path: Path, path_column: str, label_column: str) -> pd.DataFrame:
    """A folder with one subfolder per class: rows of (file path, subfolder name). A folder of
    files alone (for predict) gives the path column only. Files that are not images or audio
    by their suffix (README.txt, .DS_Store) are skipped, with a note saying how many."""
    files = sorted(p for p in path.iterdir() if p.is_file())
    if files and not any(p.is_dir() for p in path.iterdir()):
        media = _media_files(files, path)
        if not media:
            raise UserError(f"data folder '{path}' has no image or audio files")
        return pd.DataFrame({path_column: [str(p) for p in media]})
    classes = sorted(p for p in path.iterdir() if p.is_dir())
    found = [
        (file, sub.name) for sub in classes for file in sorted(sub.iterdir()) if file.is_file()
    ]
    kept = set(_media_files([file for file, _ in found], path))
    rows = [(str(file), label) for file, label in found if file in kept]
    if not rows:
        raise UserError(
            f"data folder '{path}' has no image or audio files in class subfolders (expected {path}/<class>/<file>)"
        )
    return pd.DataFrame(rows, columns=[path_column, label_column])


def _media_files(files: list[Path], folder: Path) -> list[Path]:
    """The image and audio files among `files`; the others are skipped with a note."""
    from modelyard.train.progress import log

    media = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES | AUDIO_SUFFIXES]
    skipped = [f for f in files if f not in media]
    visible = [f for f in skipped if not f.name.startswith(".")]  # .DS_Store is no news
    if visible:
        example = visible[0].relative_to(folder)
        log(
            f"data folder '{folder}': skipped {len(skipped)} file{'s' if len(skipped) > 1 else ''} "
            f"that are not images or audio by their suffix (e.g. '{example}')"
        )
    return media


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
