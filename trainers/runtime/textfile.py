"""Read a UTF-8 text file line by line, with every error naming the file and the true line.

Each line is decoded on its own, so a bad byte is reported as `file:line: not UTF-8 ... at
column N` rather than at an offset inside some read buffer. A byte-order mark at the start of the
file (Windows editors write one) is dropped instead of becoming part of the first field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from trainers.runtime.errors import DataError

BOM = b"\xef\xbb\xbf"
T = TypeVar("T")


def numbered_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield (line number from 1, line without its line ending)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}:{number}: not UTF-8 ({exc.reason} at column {exc.start + 1}): {raw[:60]!r}"
                ) from None
            yield number, text.rstrip("\r\n")


def content_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Like `numbered_lines`, without blank lines and `#` comments."""
    for number, line in numbered_lines(path):
        if line.strip() and not line.startswith("#"):
            yield number, line


def parse_lines(
    path: str | Path, parse: Callable[[str], T], skip_bad_lines: bool, what: str = "examples"
) -> tuple[list[T], list[int], int]:
    """(parsed rows, their line numbers, lines skipped) of a data file's content lines.

    `parse` raises ValueError saying what is wrong with a line; that becomes a DataError naming
    the file and line, unless skip_bad_lines, which counts the line instead. No rows at all is
    an error either way.
    """
    rows, numbers, skipped = [], [], 0
    for number, line in content_lines(path):
        try:
            rows.append(parse(line))
        except ValueError as exc:
            if not skip_bad_lines:
                raise DataError(f"{path}:{number}: {exc}: {line[:80]!r}") from None
            skipped += 1
            continue
        numbers.append(number)
    if not rows:
        raise DataError(f"{path}: no {what}")
    return rows, numbers, skipped
