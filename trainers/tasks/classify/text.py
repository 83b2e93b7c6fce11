"""Tokenization and vocabulary as TensorFlow ops.

The same `Vectorizer` runs in the tf.data pipeline and inside the exported SavedModel, so
training and serving cannot drift apart. Ids: 0 is padding, 1 is out-of-vocabulary, 2.. are
tokens ordered by training-set frequency (ties alphabetical).
"""

from __future__ import annotations

import tensorflow as tf

from trainers.shared import text as shared_text

PAD, OOV = 0, 1
RESERVED = ["<pad>", "<oov>"]


def build_vocabulary(texts: list[str], max_size: int) -> list[str]:
    return shared_text.build_vocabulary(texts, max_size, RESERVED)


class Vectorizer(tf.Module):
    """Raw strings -> int64 ids of shape [batch, max_length]."""

    def __init__(self, vocabulary: list[str], max_length: int):
        super().__init__(name="vectorizer")
        self.max_length = max_length
        self.vocabulary_size = len(vocabulary)
        self.table = shared_text.lookup_table(vocabulary, len(RESERVED), OOV)

    def __call__(self, texts: tf.Tensor) -> tf.Tensor:
        ids = self.table.lookup(shared_text.tokenize(texts))
        return ids.to_tensor(default_value=PAD, shape=[None, self.max_length])
