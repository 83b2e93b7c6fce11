"""Word vectors as text: the word2vec text format (GloVe's too), read and written.

Each line is a word followed by its numbers, separated by single spaces; a first line of two
integers (count, dimension) is a word2vec header. The reader accepts files with or without it
(GloVe has none) and a trailing space (word2vec's C tool writes one); every problem names the
file and line. The writer always writes the header, and each number as the shortest text that
reads back as the same float32, so writing and reading again gives identical vectors.

No TensorFlow: the classifier checks an embeddings file before TensorFlow starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from trainers.runtime.errors import DataError
from trainers.runtime.textfile import numbered_lines


def _header(number: int, parts: list[str]) -> bool:
    return number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts)


def records(path: str | Path, dim: int, dim_name: str = "dimension") -> Iterator[tuple[int, str, list[str]]]:
    """(line number, word, its `dim` numbers as text) for every vector line; the header is
    skipped. A line with another count of numbers is a DataError naming `dim_name` (the key that
    set the dimension). The numbers stay text: a reader that keeps a few words of a large file
    converts only those (`vector`)."""
    path = Path(path)
    for number, line in numbered_lines(path):
        parts = line.rstrip().split(" ")
        if _header(number, parts):
            continue
        if len(parts) != dim + 1:
            raise DataError(
                f"{path}:{number}: expected a word and {dim} numbers ({dim_name}), found {len(parts) - 1} numbers"
            )
        yield number, parts[0], parts[1:]


def vector(path: str | Path, number: int, numbers: Sequence[str]) -> np.ndarray:
    """One record's numbers as float32; DataError naming the line when one is not a number."""
    try:
        return np.asarray(numbers, dtype=np.float32)
    except ValueError:
        raise DataError(f"{path}:{number}: a vector value is not a number") from None


def check_format(path: str | Path, dim: int, dim_name: str = "dimension", lines: int = 3) -> None:
    """A cheap look at the first lines, before TensorFlow starts; the full read may still fail."""
    for number, _, _ in records(path, dim, dim_name):
        if number >= lines:
            return


def file_dimension(path: str | Path) -> int:
    """The dimension the file declares in its header, or that its first vector line has."""
    path = Path(path)
    for number, line in numbered_lines(path):
        parts = line.rstrip().split(" ")
        if _header(number, parts):
            return int(parts[1])
        if len(parts) < 2:
            raise DataError(f"{path}:{number}: expected a word and its numbers")
        return len(parts) - 1
    raise DataError(f"{path}: no word vectors")


def read_vectors(path: str | Path, dim: int | None = None) -> tuple[list[str], np.ndarray]:
    """Every (word, vector) of the file: (words, matrix [words, dim] float32). `dim` None takes
    the file's own dimension. A word given twice is an error: which vector would count?"""
    dim = file_dimension(path) if dim is None else dim
    words, rows, seen = [], [], {}
    for number, word, numbers in records(path, dim):
        if word in seen:
            raise DataError(f"{path}:{number}: word {word!r} already has a vector (line {seen[word]})")
        seen[word] = number
        words.append(word)
        rows.append(vector(path, number, numbers))
    matrix = np.stack(rows) if rows else np.zeros((0, dim), np.float32)
    return words, matrix


def vectors_text(words: Sequence[str], vectors: np.ndarray) -> str:
    """word2vec text with its header, as one string (an export's `vectors.txt`).
    ValueError for what the format cannot hold: an empty word, or one with whitespace."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(words) != len(vectors):
        raise ValueError(f"{len(words)} words and vectors of shape {vectors.shape}")
    for word in words:
        if not word or any(c.isspace() for c in word):
            raise ValueError(f"word {word!r} cannot be written in word2vec text format (empty or with whitespace)")
    lines = [f"{len(words)} {vectors.shape[1]}"]
    for word, row in zip(words, vectors, strict=True):
        # str() of a float32 is the shortest text that reads back as the same float32.
        lines.append(word + " " + " ".join(str(value) for value in row))
    return "\n".join(lines) + "\n"


def write_vectors(path: str | Path, words: Sequence[str], vectors: np.ndarray) -> None:
    """Write `vectors_text` atomically (a temporary file renamed into place)."""
    path = Path(path)
    text = vectors_text(words, vectors)
    staging = path.with_name(f".tmp-{path.name}")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)
