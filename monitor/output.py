"""Shared output formats for the CLI: table, json, ndjson, csv."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Sequence
from typing import Any

FORMATS = ("table", "json", "ndjson", "csv")


def counted(number: int, noun: str, plural: str = "") -> str:
    """'1 source', '2 sources': a count with its noun in the right number."""
    return f"{number} {noun}" if number == 1 else f"{number} {plural or noun + 's'}"


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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_cell(item) for item in value)
    return " ".join(str(value).split())


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection):
# a feed's title such as =HYPERLINK(...) must stay text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    cell = _cell(value)
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _table(records: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    rows = [[_cell(record.get(column)) for column in columns] for record in records]
    widths = [max([len(column), *(len(row[i]) for row in rows)]) for i, column in enumerate(columns)]
    room = shutil.get_terminal_size((160, 24)).columns
    while sum(widths) + 2 * len(widths) > room and max(widths) > 12:
        widest = widths.index(max(widths))
        widths[widest] -= 1
    lines = ["  ".join(column.upper().ljust(widths[i]) for i, column in enumerate(columns))]
    for row in rows:
        lines.append("  ".join(_fit(cell, widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


def _fit(text: str, width: int) -> str:
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"
