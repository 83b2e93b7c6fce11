"""Tokenization and vocabulary as TensorFlow ops.

The same `Vectorizer` runs in the tf.data pipeline and inside the exported SavedModel, so
training and serving cannot drift apart. Ids: 0 is padding, 1 is out-of-vocabulary, 2.. are
tokens ordered by training-set frequency (ties alphabetical).
"""

from __future__ import annotations

import collections

import tensorflow as tf

PAD, OOV = 0, 1
RESERVED = ["<pad>", "<oov>"]
# Punctuation becomes its own token; the rest is split on whitespace.
_PUNCTUATION = r"([.,!?;:()\[\]\"`])"


def tokenize(texts: tf.Tensor) -> tf.RaggedTensor:
    lowered = tf.strings.lower(texts, encoding="utf-8")
    spaced = tf.strings.regex_replace(lowered, _PUNCTUATION, r" \1 ")
    return tf.strings.split(spaced)


def build_vocabulary(texts: list[str], max_size: int) -> list[str]:
    counts: collections.Counter[str] = collections.Counter()
    for start in range(0, len(texts), 4096):
        tokens = tokenize(tf.constant(texts[start : start + 4096]))
        counts.update(t.decode("utf-8") for t in tokens.flat_values.numpy())
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return RESERVED + [token for token, _ in ordered[: max(0, max_size - len(RESERVED))]]


class Vectorizer(tf.Module):
    """Raw strings -> int64 ids of shape [batch, max_length]."""

    def __init__(self, vocabulary: list[str], max_length: int):
        super().__init__(name="vectorizer")
        self.max_length = max_length
        self.vocabulary_size = len(vocabulary)
        tokens = tf.constant(vocabulary[len(RESERVED) :], dtype=tf.string)
        ids = tf.range(len(RESERVED), len(vocabulary), dtype=tf.int64)
        self.table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(tokens, ids), default_value=OOV)

    def __call__(self, texts: tf.Tensor) -> tf.Tensor:
        ids = self.table.lookup(tokenize(texts))
        return ids.to_tensor(default_value=PAD, shape=[None, self.max_length])
