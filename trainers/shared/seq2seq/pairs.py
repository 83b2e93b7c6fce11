"""The line format of every sequence-to-sequence task, parsed without TensorFlow:
`source<TAB>target` per line, UTF-8 (a byte-order mark is ignored).

Blank lines and lines starting with '#' are ignored; anything else that does not fit is an error
naming the file and line, unless skipBadLines is set, in which case bad lines are counted. Each
task names its two fields, so the messages speak its language (`text`/`summary` for the
summarizer, `context`/`response` for a chatbot).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trainers.runtime.textfile import parse_lines


@dataclass
class Pairs:
    sources: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)
    skipped: int = 0
    path: str = ""

    def __len__(self) -> int:
        return len(self.sources)


@dataclass(frozen=True)
class PairFormat:
    """What a task calls the two fields of its lines, e.g. PairFormat("text", "summary")."""

    source: str
    target: str

    def parse_line(self, line: str) -> tuple[str, str]:
        """(source, target), or ValueError saying what is wrong with the line."""
        parts = line.split("\t")
        if len(parts) != 2:
            raise ValueError(f"expected '<{self.source}><TAB><{self.target}>', found {len(parts) - 1} tabs")
        source, target = (part.strip() for part in parts)
        if not source:
            raise ValueError(f"the {self.source} before the tab is empty")
        if not target:
            raise ValueError(f"the {self.target} after the tab is empty")
        return source, target

    def read(self, path: str | Path, skip_bad_lines: bool) -> Pairs:
        rows, numbers, skipped = parse_lines(path, self.parse_line, skip_bad_lines, what="pairs")
        return Pairs(
            sources=[source for source, _ in rows],
            targets=[target for _, target in rows],
            line_numbers=numbers,
            skipped=skipped,
            path=str(path),
        )
