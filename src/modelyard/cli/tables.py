"""The `--out FILE` of verbs that write a table (recommend, link predict): checked before any
work, written as CSV, TSV, Parquet or JSON lines, or CSV on stdout without --out."""

from __future__ import annotations

from pathlib import Path

SEPARATORS = {".csv": ",", ".tsv": "\t", ".parquet": None, ".jsonl": None}


def checked_out(out: str | None, overwrite: bool) -> Path | None:
    """`--out` as a Path (None: stdout); a UserError for an unknown format, or a file that
    exists without --overwrite."""
    from modelyard.errors import UserError

    if not out:
        return None
    path = Path(out)
    if path.suffix.lower() not in SEPARATORS:
        raise UserError(
            f"--out '{path}': unknown format '{path.suffix}'; use one of {', '.join(SEPARATORS)}"
        )
    if path.exists() and not overwrite:
        raise UserError(f"--out '{path}' already exists; pass --overwrite to replace it")
    return path


def write_table(table, out: Path | None) -> None:
    """`table` (a DataFrame) to `out` by its suffix, or as CSV on stdout."""
    import sys

    if out is None:
        table.to_csv(sys.stdout, index=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        table.to_parquet(out, index=False)
    elif suffix == ".jsonl":
        table.to_json(out, orient="records", lines=True)
    else:
        table.to_csv(out, index=False, sep=SEPARATORS[suffix])
