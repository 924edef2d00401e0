"""CSV that spreadsheets open as data: cells that would start a formula are neutralised.

A spreadsheet evaluates a cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return as
a formula (`=HYPERLINK(...)` in a case id someone typed into a URL ends up in the audit export).
Such a cell gets a leading apostrophe, which spreadsheets show as text (OWASP's advice). Plain
numbers (`-3`, `+1.5`) are left alone: they are data, and no formula. Every CSV the project
writes goes through `writer` or `dict_writer`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class _TextOut(Protocol):
    def write(self, text: str, /) -> Any: ...


def safe_cell(value: Any) -> Any:
    """`value`, with an apostrophe before it if a spreadsheet would read it as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _NUMBER.match(value):
        return "'" + value
    return value


class SafeWriter:
    """`csv.writer` whose rows are neutralised cell by cell."""

    def __init__(self, out: _TextOut) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        """Write one row."""
        self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Write every row."""
        for row in rows:
            self.writerow(row)


class SafeDictWriter:
    """`csv.DictWriter` (header from `fieldnames`, missing keys empty), neutralised."""

    def __init__(self, out: _TextOut, fieldnames: Sequence[str]) -> None:
        self._writer = SafeWriter(out)
        self.fieldnames = list(fieldnames)

    def writeheader(self) -> None:
        """Write the field names."""
        self._writer.writerow(self.fieldnames)

    def writerow(self, row: Mapping[str, Any]) -> None:
        """Write one row, in the order of `fieldnames`."""
        self._writer.writerow([row.get(name, "") for name in self.fieldnames])

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Write every row."""
        for row in rows:
            self.writerow(row)


def writer(out: _TextOut) -> SafeWriter:
    """A neutralising `csv.writer` on `out`."""
    return SafeWriter(out)


def dict_writer(out: _TextOut, fieldnames: Sequence[str]) -> SafeDictWriter:
    """A neutralising `csv.DictWriter` on `out`."""
    return SafeDictWriter(out, fieldnames)
