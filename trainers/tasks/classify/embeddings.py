"""Initial embeddings from a word-vector text file (word2vec text or GloVe format, read by
`trainers/shared/wordvectors.py`; the embeddings task's `vectors.txt` is one).

Words of the vocabulary that the file lacks get small random vectors, uniform in [-0.25, 0.25]
as in Kim 2014; padding stays zero and the out-of-vocabulary row stays random.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainers.shared import wordvectors

DIM_KEY = "embeddingDim"


def check_format(path: Path, dim: int) -> None:
    """A cheap look at the first lines, before TensorFlow starts; the full read may still fail."""
    wordvectors.check_format(path, dim, DIM_KEY)


def load_embedding_matrix(path: Path, vocabulary: list[str], dim: int, seed: int) -> tuple[np.ndarray, int]:
    """Return (matrix [V, dim], number of vocabulary words found in the file)."""
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-0.25, 0.25, size=(len(vocabulary), dim)).astype(np.float32)
    matrix[0] = 0.0  # padding
    index = {word: i for i, word in enumerate(vocabulary)}
    found = 0
    for number, word, numbers in wordvectors.records(path, dim, DIM_KEY):
        row = index.get(word)
        if row is None or row < 2:
            continue
        matrix[row] = wordvectors.vector(path, number, numbers)
        found += 1
    return matrix, found
