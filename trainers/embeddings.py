"""Initial embeddings from a word-vector text file (word2vec text or GloVe format).

Each line is a word followed by its numbers; a first line of two integers (count, dimension) is a
word2vec header and is skipped. Words of the vocabulary that the file lacks get small random
vectors, uniform in [-0.25, 0.25] as in Kim 2014.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainers.lines import DataError


def load_embedding_matrix(path: Path, vocabulary: list[str], dim: int, seed: int) -> tuple[np.ndarray, int]:
    """Return (matrix [V, dim], number of vocabulary words found in the file)."""
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-0.25, 0.25, size=(len(vocabulary), dim)).astype(np.float32)
    matrix[0] = 0.0  # padding
    index = {word: i for i, word in enumerate(vocabulary)}
    found = 0
    with Path(path).open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue
            if len(parts) != dim + 1:
                raise DataError(
                    f"{path}:{number}: expected a word and {dim} numbers (embeddingDim), found {len(parts) - 1} numbers"
                )
            row = index.get(parts[0])
            if row is None or row < 2:
                continue
            try:
                matrix[row] = np.asarray(parts[1:], dtype=np.float32)
            except ValueError:
                raise DataError(f"{path}:{number}: a vector value is not a number") from None
            found += 1
    return matrix, found
