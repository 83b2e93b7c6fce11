"""The summarization line format, parsed without TensorFlow: `text<TAB>summary`, UTF-8.

Blank lines and lines starting with '#' are ignored; anything else that does not fit is an error
naming the file and line, unless skipBadLines is set, in which case bad lines are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trainers.runtime.textfile import parse_lines


@dataclass
class Pairs:
    texts: list[str] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)
    skipped: int = 0
    path: str = ""

    def __len__(self) -> int:
        return len(self.texts)


def parse_line(line: str) -> tuple[str, str]:
    parts = line.split("\t")
    if len(parts) != 2:
        raise ValueError(f"expected '<text><TAB><summary>', found {len(parts) - 1} tabs")
    text, summary = (part.strip() for part in parts)
    if not text:
        raise ValueError("the text before the tab is empty")
    if not summary:
        raise ValueError("the summary after the tab is empty")
    return text, summary


def read_pairs(path: str | Path, skip_bad_lines: bool) -> Pairs:
    rows, numbers, skipped = parse_lines(path, parse_line, skip_bad_lines, what="pairs")
    return Pairs(
        texts=[text for text, _ in rows],
        summaries=[summary for _, summary in rows],
        line_numbers=numbers,
        skipped=skipped,
        path=str(path),
    )
