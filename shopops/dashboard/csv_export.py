"""Streaming CSV downloads for merchant pages."""

import csv
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: str) -> str:
    """Entered text (a name, an email) that a spreadsheet shows and never runs as a formula.

    Apply it to text only: a number such as a negative leverage must stay a number.
    """
    return "'" + value if value[:1] in _FORMULA_STARTS else value


class _Echo:
    """A file-like object whose ``write`` hands the line back, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """Each row as one CSV line, lazily, for a StreamingHttpResponse."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)
