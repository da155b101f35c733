"""Messages about a table's columns: a missing column with the closest names, duplicates."""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Iterable

import pandas as pd

from modelyard.errors import UserError


def column_hint(column: str, columns: Iterable[object]) -> str:
    """What to add after "column 'X' is not in the data": the closest names ("did you mean"),
    a separator hint when the whole header is one column holding ';' or tabs, then the columns."""
    names = [str(c) for c in columns]
    hint = ""
    by_lower = {n.lower(): n for n in names}
    close = [by_lower[column.lower()]] if column.lower() in by_lower else []
    close = close or difflib.get_close_matches(column, names, n=3, cutoff=0.6)
    if close:
        hint += f"; did you mean {' or '.join(repr(c) for c in close)}?"
    separator = header_separator(names)
    if separator is not None:
        hint += f"; the header looks {separator[1]}-separated: set data.separator: {json.dumps(separator[0])}"
    shown = ", ".join(names[:30]) + (", ..." if len(names) > 30 else "")
    return f"{hint}; columns: {shown}"


def header_separator(names: list[str]) -> tuple[str, str] | None:
    """(separator, its name) when a table read as one column has a header holding ';', a tab,
    '|' or ',': the file was read with the wrong separator."""
    if len(names) != 1:
        return None
    for separator, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")):
        if separator in names[0]:
            return separator, name
    return None


def require_unique_columns(frame: pd.DataFrame) -> None:
    """A table with two columns of one name is ambiguous: say which names repeat."""
    counts = Counter(str(c) for c in frame.columns)
    repeated = [f"'{name}' ({count} times)" for name, count in counts.items() if count > 1]
    if repeated:
        raise UserError(
            f"the data has duplicate column names: {', '.join(repeated)}; give each column its own name"
        )
