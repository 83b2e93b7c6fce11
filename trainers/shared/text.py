"""Text as TensorFlow ops, shared by the text tasks: one tokenizer, one way to build a vocabulary.

Tokenization runs inside tf.data during training and inside every exported SavedModel, with core
`tf.strings` ops only, so stock TF Serving and KServe load the exports and training and serving
cannot drift apart. Vocabularies list reserved tokens first, then tokens by training-set
frequency (ties alphabetical), and keep each token's count: a task that drops rare words
(`minCount`) or samples by frequency (word2vec's sub-sampling and negative table) reads the
counts from the same place as the tokens.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import tensorflow as tf

# Punctuation becomes its own token; the rest is split on whitespace, after lower-casing.
_PUNCTUATION = r"([.,!?;:()\[\]\"`])"
_COUNT_BATCH = 4096


def tokenize(texts: tf.Tensor) -> tf.RaggedTensor:
    lowered = tf.strings.lower(texts, encoding="utf-8")
    spaced = tf.strings.regex_replace(lowered, _PUNCTUATION, r" \1 ")
    return tf.strings.split(spaced)


def count_tokens(texts: Sequence[str], counts: collections.Counter[str] | None = None) -> collections.Counter[str]:
    """Each token's number of occurrences in `texts`, tokenized as `tokenize` does; added to
    `counts` when given, so a corpus too large for one list is counted chunk by chunk."""
    counts = collections.Counter() if counts is None else counts
    for start in range(0, len(texts), _COUNT_BATCH):
        tokens = tokenize(tf.constant(texts[start : start + _COUNT_BATCH]))
        counts.update(t.decode("utf-8") for t in tokens.flat_values.numpy())
    return counts


@dataclass(frozen=True)
class Vocabulary:
    """Tokens in id order and their training-set counts (0 for the reserved tokens)."""

    tokens: tuple[str, ...]
    counts: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def from_counts(
        cls, counts: collections.Counter[str], max_size: int, reserved: Sequence[str], min_count: int = 1
    ) -> Vocabulary:
        """`reserved`, then the most frequent tokens seen at least `min_count` times (ties
        alphabetical), `max_size` in all. A reserved token found in the text keeps its reserved
        place and also uses up the slot its frequency earned (the vocabulary is that much
        shorter), as every vocabulary so far was built: changing it would change their ids."""
        ordered = sorted(((t, c) for t, c in counts.items() if c >= min_count), key=lambda item: (-item[1], item[0]))
        kept = [(t, c) for t, c in ordered[: max(0, max_size - len(reserved))] if t not in reserved]
        return cls(tuple(reserved) + tuple(t for t, _ in kept), (0,) * len(reserved) + tuple(c for _, c in kept))


def build_vocabulary_with_counts(
    texts: Sequence[str], max_size: int, reserved: Sequence[str], min_count: int = 1
) -> Vocabulary:
    return Vocabulary.from_counts(count_tokens(texts), max_size, reserved, min_count)


def build_vocabulary(texts: Sequence[str], max_size: int, reserved: Iterable[str]) -> list[str]:
    """The tokens alone, as the tasks' assets files store them."""
    return list(build_vocabulary_with_counts(texts, max_size, list(reserved)).tokens)


def lookup_table(vocabulary: Sequence[str], first_id: int, default_id: int) -> tf.lookup.StaticHashTable:
    """token -> id for vocabulary[first_id:], `default_id` for anything else."""
    tokens = tf.constant(vocabulary[first_id:], dtype=tf.string)
    ids = tf.range(first_id, len(vocabulary), dtype=tf.int64)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(tokens, ids), default_value=default_id)
