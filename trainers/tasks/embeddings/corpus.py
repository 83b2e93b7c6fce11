"""The training corpus: plain text, one line a unit (a sentence, a story); windows never cross a
line. Each line is cleaned by `trainers/shared/cleaning.clean_text`. No TensorFlow: the trainer
reads and checks the corpus before TensorFlow starts.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainers.runtime.errors import DataError
from trainers.runtime.textfile import numbered_lines
from trainers.shared.cleaning import clean_text


@dataclass
class Corpus:
    """Cleaned lines (blank ones dropped) and each token's count."""

    path: str
    lines: list[str]
    counts: collections.Counter = field(default_factory=collections.Counter)
    skipped: int = 0  # a corpus has no malformed lines: a line that cleans to nothing is just empty

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def tokens(self) -> int:
        return sum(self.counts.values())


def read_corpus(path: str | Path) -> Corpus:
    lines, counts = [], collections.Counter()
    for _, line in numbered_lines(path):
        cleaned = clean_text(line)
        if cleaned:
            lines.append(cleaned)
            counts.update(cleaned.split())
    if not lines:
        raise DataError(f"{path}: no text (every line is empty after cleaning)")
    return Corpus(str(path), lines, counts)


def build_vocabulary(counts: collections.Counter, min_count: int, max_size: int) -> dict:
    """{"words": [...], "counts": [...]}: words seen at least `min_count` times, most frequent first
    (ties alphabetical), at most `max_size`. No reserved ids: word2vec drops unknown words."""
    ordered = sorted(((w, c) for w, c in counts.items() if c >= min_count), key=lambda item: (-item[1], item[0]))
    ordered = ordered[:max_size]
    return {"words": [w for w, _ in ordered], "counts": [c for _, c in ordered]}


def encode(lines: list[str], words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(ids int32 [T], line number int32 [T]) of every in-vocabulary token, in corpus order;
    out-of-vocabulary tokens are dropped before windows are drawn, as word2vec does."""
    index = {w: i for i, w in enumerate(words)}
    ids, line_of = [], []
    for number, line in enumerate(lines):
        found = [index[t] for t in line.split() if t in index]
        ids.extend(found)
        line_of.extend([number] * len(found))
    return np.asarray(ids, np.int32), np.asarray(line_of, np.int32)
