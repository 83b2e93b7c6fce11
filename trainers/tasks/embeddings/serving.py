"""The exported word vectors: a SavedModel and `vectors.txt` (word2vec text) beside it.

Signatures (core TensorFlow ops only; words are expected as `clean_text` makes them):

- `serving_default`: `words` [N] string -> `vectors` [N, dim] float32 and `known` [N] bool. A word
  outside the vocabulary gets the mean of its character n-gram vectors when the model has
  subwords (known stays false), else zeros.
- `nearest`: `words` [N] and `k` (int32) -> `neighbours` [N, k] string and `scores` [N, k]
  (cosine), the word itself left out.
- `nearest_to_vectors`: `vectors` [N, dim] and `k` -> the same, for any point (a hint average, an
  analogy b - a + c).

`embeddings.json` beside them says the model type, dimension and subword settings.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from trainers.tasks.embeddings.subwords import ngram_buckets

VECTORS_FILE = "vectors.txt"
INFO_FILE = "embeddings.json"


class EmbeddingsModule(tf.Module):
    def __init__(self, words: list[str], vectors: np.ndarray, bucket_vectors: np.ndarray | None, subwords: dict | None):
        super().__init__(name="textjobs_embeddings")
        dim = vectors.shape[1]
        self.dim = dim
        self.words = tf.constant(words, tf.string)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(self.words, tf.range(len(words), dtype=tf.int64)), default_value=-1
        )
        self.vectors = tf.Variable(vectors, trainable=False, name="vectors")
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        self.unit_vectors = tf.Variable(vectors / norms, trainable=False, name="unit_vectors")
        self.subwords = dict(subwords) if subwords else None
        self.bucket_vectors = tf.Variable(bucket_vectors, trainable=False, name="bucket_vectors") if subwords else None
        words_spec = tf.TensorSpec([None], tf.string, name="words")
        k_spec = tf.TensorSpec([], tf.int32, name="k")
        self.serve = tf.function(self._serve, input_signature=[words_spec])
        self.nearest = tf.function(self._nearest, input_signature=[words_spec, k_spec])
        self.nearest_to_vectors = tf.function(
            self._nearest_to_vectors, input_signature=[tf.TensorSpec([None, dim], tf.float32, name="vectors"), k_spec]
        )

    def signatures(self):
        return {"nearest": self.nearest, "nearest_to_vectors": self.nearest_to_vectors}

    def _lookup(self, words):
        ids = self.table.lookup(words)
        known = ids >= 0
        vectors = tf.gather(self.vectors, tf.maximum(ids, 0))
        if self.subwords is None:
            return tf.where(known[:, None], vectors, tf.zeros_like(vectors)), known, ids
        s = self.subwords
        buckets = ngram_buckets(words, s["minN"], s["maxN"], s["buckets"])
        grams = tf.gather(self.bucket_vectors, buckets)  # ragged [N, (g), dim]
        oov = tf.reduce_mean(grams, axis=1)
        oov = tf.where(tf.math.is_finite(oov), oov, tf.zeros_like(oov))  # a word with no n-grams
        return tf.where(known[:, None], vectors, oov), known, ids

    def _serve(self, words):
        vectors, known, _ = self._lookup(words)
        return {"vectors": vectors, "known": known}

    def _top(self, query, k, own_ids):
        query = tf.math.l2_normalize(query, axis=1)
        scores = tf.matmul(query, self.unit_vectors, transpose_b=True)  # [N, V]
        size = tf.shape(scores)[1]
        own = tf.one_hot(tf.maximum(own_ids, 0), size, on_value=True, off_value=False) & (own_ids >= 0)[:, None]
        scores = tf.where(own, tf.fill(tf.shape(scores), -np.inf), scores)
        top = tf.math.top_k(scores, k=tf.minimum(k, size))
        return {"neighbours": tf.gather(self.words, top.indices), "scores": top.values}

    def _nearest(self, words, k):
        vectors, _, ids = self._lookup(words)
        return self._top(vectors, k, ids)

    def _nearest_to_vectors(self, vectors, k):
        return self._top(vectors, k, -tf.ones([tf.shape(vectors)[0]], tf.int64))


def read_info(version_dir: Path) -> dict:
    return json.loads((Path(version_dir) / INFO_FILE).read_text())
