"""Initial embeddings from a word-vector text file (word2vec text or GloVe format).

Each line is a word followed by its numbers; a first line of two integers (count, dimension) is a
word2vec header and is skipped. Words of the vocabulary that the file lacks get small random
vectors, uniform in [-0.25, 0.25] as in Kim 2014.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainers.runtime.errors import DataError
from trainers.runtime.textfile import numbered_lines


def _fields(path: Path, number: int, line: str, dim: int) -> list[str] | None:
    """The line's word and numbers; None for a word2vec header."""
    parts = line.rstrip().split(" ")
    if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
        return None
    if len(parts) != dim + 1:
        raise DataError(
            f"{path}:{number}: expected a word and {dim} numbers (embeddingDim), found {len(parts) - 1} numbers"
        )
    return parts


def check_format(path: Path, dim: int, lines: int = 3) -> None:
    """A cheap look at the first lines, before TensorFlow starts; the full read may still fail."""
    for number, line in numbered_lines(path):
        _fields(path, number, line, dim)
        if number >= lines:
            return


def load_embedding_matrix(path: Path, vocabulary: list[str], dim: int, seed: int) -> tuple[np.ndarray, int]:
    """Return (matrix [V, dim], number of vocabulary words found in the file)."""
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-0.25, 0.25, size=(len(vocabulary), dim)).astype(np.float32)
    matrix[0] = 0.0  # padding
    index = {word: i for i, word in enumerate(vocabulary)}
    found = 0
    for number, line in numbered_lines(path):
        parts = _fields(path, number, line, dim)
        if parts is None:
            continue
        row = index.get(parts[0])
        if row is None or row < 2:
            continue
        try:
            matrix[row] = np.asarray(parts[1:], dtype=np.float32)
        except ValueError:
            raise DataError(f"{path}:{number}: a vector value is not a number") from None
        found += 1
    return matrix, found
