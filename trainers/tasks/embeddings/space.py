"""A word space: vocabulary words, their unit vectors, and the questions asked of it (nearest
neighbours, Spearman rho on similarity pairs, analogy accuracy). numpy only, so the trainer's
per-epoch evaluation, `python -m trainers play` and the benchmark measure alike.

`WordSpace.oov` optionally builds a vector for a word outside the vocabulary (subword models);
rankings only ever return vocabulary words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


def unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


@dataclass
class WordSpace:
    words: list[str]
    vectors: np.ndarray  # [V, D], unit rows
    oov: Callable[[list[str]], np.ndarray] | None = None

    def __post_init__(self):
        self.vectors = unit(self.vectors)
        self.index = {w: i for i, w in enumerate(self.words)}

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def vector(self, word: str) -> np.ndarray | None:
        """The unit vector of `word`; a subword vector for an unknown word when the model has
        subwords; None otherwise."""
        row = self.index.get(word)
        if row is not None:
            return self.vectors[row]
        if self.oov is not None:
            return unit(self.oov([word]))[0]
        return None

    def nearest(self, query: np.ndarray, k: int, exclude: Sequence[str] = ()) -> list[tuple[str, float]]:
        """The k vocabulary words closest (cosine) to `query`, skipping `exclude`."""
        scores = self.vectors @ unit(query)
        for word in exclude:
            row = self.index.get(word)
            if row is not None:
                scores[row] = -np.inf
        k = min(k, len(self.words))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in top if np.isfinite(scores[i])]


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho with average ranks for ties (as scipy.stats.spearmanr)."""

    def ranks(values):
        values = np.asarray(values, np.float64)
        order = np.argsort(values, kind="stable")
        result = np.empty(len(values))
        sorted_values = values[order]
        i = 0
        while i < len(values):
            j = i
            while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
                j += 1
            result[order[i : j + 1]] = (i + j) / 2.0
            i = j + 1
        return result

    if len(a) < 2:
        return float("nan")
    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / denominator) if denominator else float("nan")


def similarity_rho(space: WordSpace, pairs: Sequence[tuple[str, str, float]]) -> tuple[float, int]:
    """(rho, pairs used): pairs with a word outside the vocabulary are skipped, as gensim's
    evaluate_word_pairs does, so the two are comparable."""
    model, human = [], []
    for a, b, score in pairs:
        if a in space and b in space:
            model.append(float(space.vectors[space.index[a]] @ space.vectors[space.index[b]]))
            human.append(score)
    return spearman(model, human), len(model)


def analogy_accuracy(
    space: WordSpace, questions: Sequence[tuple[str, str, str, str]], batch: int = 512
) -> tuple[float, int]:
    """(accuracy, questions answered) by 3CosAdd (b - a + c, the question's words excluded) over
    the questions whose four words are in the vocabulary, as gensim's evaluate_word_analogies."""
    usable = [q for q in questions if all(w in space for w in q)]
    if not usable:
        return float("nan"), 0
    ids = np.array([[space.index[w] for w in q] for q in usable])
    correct = 0
    for start in range(0, len(ids), batch):
        part = ids[start : start + batch]
        v = space.vectors
        query = unit(v[part[:, 1]] - v[part[:, 0]] + v[part[:, 2]])
        scores = query @ v.T
        rows = np.arange(len(part))
        for column in range(3):
            scores[rows, part[:, column]] = -np.inf
        correct += int((scores.argmax(axis=1) == part[:, 3]).sum())
    return correct / len(usable), len(usable)
