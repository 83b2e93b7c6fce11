"""Text as TensorFlow ops, shared by the text tasks: one tokenizer, one way to build a vocabulary.

Tokenization runs inside tf.data during training and inside every exported SavedModel, with core
`tf.strings` ops only, so stock TF Serving and KServe load the exports and training and serving
cannot drift apart. Vocabularies list reserved tokens first, then tokens by training-set
frequency (ties alphabetical).
"""

from __future__ import annotations

import collections

import tensorflow as tf

# Punctuation becomes its own token; the rest is split on whitespace, after lower-casing.
_PUNCTUATION = r"([.,!?;:()\[\]\"`])"


def tokenize(texts: tf.Tensor) -> tf.RaggedTensor:
    lowered = tf.strings.lower(texts, encoding="utf-8")
    spaced = tf.strings.regex_replace(lowered, _PUNCTUATION, r" \1 ")
    return tf.strings.split(spaced)


def build_vocabulary(texts: list[str], max_size: int, reserved: list[str]) -> list[str]:
    counts: collections.Counter[str] = collections.Counter()
    for start in range(0, len(texts), 4096):
        tokens = tokenize(tf.constant(texts[start : start + 4096]))
        counts.update(t.decode("utf-8") for t in tokens.flat_values.numpy())
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return reserved + [token for token, _ in ordered[: max(0, max_size - len(reserved))] if token not in reserved]


def lookup_table(vocabulary: list[str], first_id: int, default_id: int) -> tf.lookup.StaticHashTable:
    """token -> id for vocabulary[first_id:], `default_id` for anything else."""
    tokens = tf.constant(vocabulary[first_id:], dtype=tf.string)
    ids = tf.range(first_id, len(vocabulary), dtype=tf.int64)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(tokens, ids), default_value=default_id)
