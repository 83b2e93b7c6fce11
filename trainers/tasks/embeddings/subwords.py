"""fastText-style character n-grams of a word, hashed into buckets, with core TensorFlow ops only
(the same function builds the training table and runs inside the exported SavedModel, so a word
never seen in training gets its vector from the n-grams it shares with known words).

The word is wrapped in `<` and `>`; its n-grams of minN..maxN characters (Unicode characters,
not bytes) are hashed with `tf.strings.to_hash_bucket_fast` (FarmHash64, the same on every
platform) into `buckets`. fastText hashes with FNV-1a instead; bucket ids are not meant to match.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def ngram_buckets(words: tf.Tensor, min_n: int, max_n: int, buckets: int) -> tf.RaggedTensor:
    """words [N] -> bucket ids [N, (n-grams)] int64."""
    wrapped = tf.strings.join(["<", words, ">"])
    characters = tf.strings.unicode_split(wrapped, "UTF-8")
    grams = tf.concat([tf.strings.ngrams(characters, n, separator="") for n in range(min_n, max_n + 1)], axis=1)
    return tf.ragged.map_flat_values(tf.strings.to_hash_bucket_fast, grams, buckets)


def padded_table(words: list[str], min_n: int, max_n: int, buckets: int, first_row: int) -> np.ndarray:
    """[V, M] int32 rows of each word's n-grams in the input table (first_row + bucket), -1 padded."""
    if not words:
        return np.zeros((0, 0), np.int32)
    ragged = ngram_buckets(tf.constant(words), min_n, max_n, buckets) + first_row
    return ragged.to_tensor(default_value=-1).numpy().astype(np.int32)
