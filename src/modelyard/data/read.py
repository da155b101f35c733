"""Reading tables (CSV, TSV, Parquet, JSON lines), Parquet datasets (a folder of Parquet
files, hive-partitioned or not, or a glob pattern) and class-per-subfolder folders."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import pandas as pd

from modelyard.config.schema import Data
from modelyard.data.columns import header_separator
from modelyard.errors import UserError

DEFAULTS = Data()  # ',' for .csv, a tab for .tsv, utf-8, decimal point
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".opus"}
TABLE_READERS = {  # (path, the config's data section: separator, encoding, decimal)
    ".csv": lambda p, d: _read_text_table(p, d, ","),
    ".tsv": lambda p, d: _read_text_table(p, d, "\t"),
    ".parquet": lambda p, d: pd.read_parquet(p),
    ".pq": lambda p, d: pd.read_parquet(p),
    ".jsonl": lambda p, d: pd.read_json(p, lines=True, encoding=d.encoding),
    ".json": lambda p, d: pd.read_json(p, lines=True, encoding=d.encoding),
}
PARQUET_SUFFIXES = {".parquet", ".pq"}


def read_table(path: Path, data: Data = DEFAULTS) -> pd.DataFrame:
    """Read one table file; the format comes from the file's suffix, CSV/TSV settings from
    `data` (data.separator, data.encoding, data.decimal)."""
    if not path.exists():
        raise UserError(f"data file '{path}' does not exist")
    reader = TABLE_READERS.get(path.suffix.lower())
    if reader is None:
        known = ", ".join(sorted(TABLE_READERS))
        raise UserError(
            f"data file '{path}': unknown format '{path.suffix}'; use one of {known}, or a folder"
        )
    try:
        frame = reader(path, data)
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

    suffixes = IMAGE_SUFFIXES | AUDIO_SUFFIXES
    media = [f for f in files if f.suffix.lower() in suffixes]
    skipped = [f for f in files if f.suffix.lower() not in suffixes]  # not `f not in media`: N^2
    visible = [f for f in skipped if not f.name.startswith(".")]  # .DS_Store is no news
    if visible:
        example = visible[0].relative_to(folder)
        log(
            f"data folder '{folder}': skipped {len(skipped)} file{'s' if len(skipped) > 1 else ''} "
            f"that are not images or audio by their suffix (e.g. '{example}')"
        )
    return media


def read_data(
    path: Path, path_columns: list[str], label_columns: list[str], data: Data = DEFAULTS
) -> pd.DataFrame:
    """Read a table or a class folder; file-path columns become absolute, relative to the table.
    `data`: the config's data section (how CSV/TSV files are read)."""
    files = parquet_files(path)
    if files is not None:  # a Parquet dataset: paths inside are relative to its folder
        frame = read_parquet_files(files, path)
        base = path if path.is_dir() else path.parent
        for column in path_columns:
            if column in frame.columns:
                frame[column] = [_resolve(base, v) for v in frame[column]]
        return frame
    if path.is_dir():
        inputs = [c for c in path_columns if c not in label_columns]  # not masks: outputs
        if len(inputs) != 1 or len(label_columns) != 1:
            raise UserError(
                f"data '{path}' is a folder: that needs exactly one image or audio input and one output "
                f"(the subfolder name); found {len(inputs)} file inputs and {len(label_columns)} outputs"
            )
        if label_columns[0] in path_columns and any(p.is_dir() for p in path.iterdir()):
            raise UserError(
                f"data '{path}' is a folder with subfolders, but the output '{label_columns[0]}' "
                "is a file per row (a mask), not a subfolder name: give a table of image and "
                "mask paths, or a folder holding the images alone (to predict)"
            )
        return read_folder(path, inputs[0], label_columns[0])
    frame = read_table(path, data)
    for column in path_columns:
        if column in frame.columns:
            frame[column] = [_resolve(path.parent, v) for v in frame[column]]
    return frame


def parquet_files(path: Path) -> list[Path] | None:
    """The Parquet files `path` stands for when it is a glob pattern (`data/*.parquet`,
    `data/**/*.parquet`) or a folder holding Parquet files (searched recursively, as
    hive-partitioned datasets are laid out); None when it is neither."""
    if glob.has_magic(str(path)):
        found = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
        if not found:
            raise UserError(f"data '{path}': the pattern matches no files")
        others = [f for f in found if f.suffix.lower() not in PARQUET_SUFFIXES]
        if others:
            raise UserError(
                f"data '{path}': '{others[0]}' is not a Parquet file; a pattern reads Parquet files "
                "(.parquet, .pq) only: narrow it, e.g. to *.parquet"
            )
        return found
    if path.is_dir():
        found = sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PARQUET_SUFFIXES
        )
        return found or None
    return None


def read_parquet_files(files: list[Path], source: Path) -> pd.DataFrame:
    """One table from several Parquet files (`parquet_dataset`)."""
    import pyarrow as pa

    try:
        table = parquet_dataset(files, source).to_table()
    except (pa.ArrowException, OSError) as e:
        raise UserError(f"data '{source}' could not be read: {e}") from None
    if table.num_rows == 0:
        raise UserError(f"data '{source}' has no rows")
    frame = table.to_pandas()
    frame.columns = [str(c) for c in frame.columns]
    return frame


def parquet_dataset(files: list[Path], source: Path):
    """A pyarrow dataset of Parquet files (a folder's hive partition columns, `year=2024/`,
    included). Each file's schema is read first (its footer only), so a damaged file or files
    whose columns differ are named."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    schemas = [_parquet_schema(f) for f in files]
    for f, schema in zip(files[1:], schemas[1:], strict=True):
        problem = _schema_difference(schemas[0], schema)
        if problem:
            raise UserError(
                f"data files '{files[0]}' and '{f}' do not have the same columns: {problem}; "
                "every file of a dataset needs the same columns"
            )
    try:
        schema = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise UserError(
            f"data '{source}': the files' column types cannot be combined ({e}); give each column one type in every file"
        ) from None
    try:
        if source.is_dir():  # its own files, and the partition columns of its folder names
            return ds.dataset(str(source), format="parquet", partitioning="hive")
        return ds.dataset([str(f) for f in files], schema=schema, format="parquet")
    except (pa.ArrowException, OSError) as e:
        raise UserError(f"data '{source}' could not be read: {e}") from None


def _parquet_schema(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(path)
    except (pa.ArrowException, OSError) as e:
        raise UserError(
            f"data file '{path}' is not a readable Parquet file ({e}); replace or remove it"
        ) from None


def _schema_difference(first, other) -> str | None:
    """How `other`'s columns differ from `first`'s (pyarrow schemas), or None."""
    missing = [n for n in first.names if n not in other.names]
    if missing:
        return f"the second lacks column '{missing[0]}'"
    extra = [n for n in other.names if n not in first.names]
    if extra:
        return f"the second has column '{extra[0]}', which the first lacks"
    return None


def _resolve(base: Path, value: object) -> object:
    if not isinstance(value, str) or not value:
        return value
    p = Path(value)
    return str(p if p.is_absolute() else base / p)


def _read_text_table(path: Path, data: Data, separator: str) -> pd.DataFrame:
    """A CSV/TSV file, with the user's separator (else `separator`), encoding and decimal mark;
    a wrong encoding or separator is reported with the setting that fixes it."""
    try:
        frame = pd.read_csv(
            path, sep=data.separator or separator, encoding=data.encoding, decimal=data.decimal
        )
    except UnicodeError:
        raise UserError(_encoding_problem(path, data.encoding)) from None
    found = header_separator([str(c) for c in frame.columns])
    if data.separator is None and found is not None:
        raise UserError(
            f"data file '{path}' reads as one column '{frame.columns[0]}': its fields look "
            f"{found[1]}-separated; set data.separator: {json.dumps(found[0])}"
        )
    return frame


def _encoding_problem(path: Path, encoding: str) -> str:
    """Where the file stops being `encoding` text (line and byte), and what to set."""
    raw = path.read_bytes()
    try:
        raw.decode(encoding)
        where = ""
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        where = f" (byte 0x{raw[e.start]:02x} at line {line}, byte position {e.start})"
    except UnicodeError:  # an encoding that cannot say where (utf-16 without its mark, ...)
        where = ""
    other = "latin-1" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else "utf-8"
    return (
        f"data file '{path}' is not {encoding} text{where}; set data.encoding to the file's "
        f"encoding, e.g. data.encoding: {other} (or cp1252 for files saved by Excel on Windows)"
    )
