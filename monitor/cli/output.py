"""Shared output formats for the CLI: table, json, ndjson, csv."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any

FORMATS = ("table", "json", "ndjson", "csv")


def render(records: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str) -> str:
    """Render records: tables and CSV show `columns`; JSON formats show whole records."""
    if fmt == "json":
        return json.dumps(list(records), ensure_ascii=False, indent=2)
    if fmt == "ndjson":
        return "\n".join(json.dumps(record, ensure_ascii=False) for record in records)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for record in records:
            writer.writerow([_csv_cell(record.get(column)) for column in columns])
        return buffer.getvalue().rstrip("\n")
    return _table(records, columns)


def show(records: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str) -> None:
    """Print the records rendered; NDJSON of no records is no line at all (a blank line would
    be read as a record by a strict NDJSON reader)."""
    text = render(records, columns, fmt)
    if text or fmt != "ndjson":
        print(text)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(item) for item in value)
    return " ".join(str(value).split())


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection):
# a feed's title such as =HYPERLINK(...) must stay text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    cell = _cell(value)
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


# Embeddings, overrides and isolates: a U+202E in a feed's title reverses the rest of its row
# (the other columns too) in a terminal that runs the bidi algorithm. The letters keep their own
# direction without them.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def _table(records: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Columns padded by display width (a Chinese character takes two cells). On a terminal the
    widest columns are cut to fit it; into a pipe or a file nothing is cut."""
    rows = [[_cell(record.get(column)).translate(_BIDI_CONTROLS) for column in columns] for record in records]
    widths = [max([len(column), *(_width(row[i]) for row in rows)]) for i, column in enumerate(columns)]
    if sys.stdout.isatty():
        room = shutil.get_terminal_size((160, 24)).columns
        while sum(widths) + 2 * len(widths) > room and max(widths) > 12:
            widths[widths.index(max(widths))] -= 1
    lines = ["  ".join(_fit(column.upper(), widths[i]) for i, column in enumerate(columns))]
    for row in rows:
        lines.append("  ".join(_fit(cell, widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


def _width(text: str) -> int:
    """Terminal cells: wide (East Asian) characters take two, combining marks none."""
    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1
        for char in text
    )


def _fit(text: str, width: int) -> str:
    """The text padded or cut (with an ellipsis) to `width` cells."""
    used = _width(text)
    if used <= width:
        return text + " " * (width - used)
    kept, used = [], 1  # room for the ellipsis
    for char in text:
        used += _width(char)
        if used > width:
            break
        kept.append(char)
    return "".join(kept) + "…" + " " * (width - _width("".join(kept)) - 1)
