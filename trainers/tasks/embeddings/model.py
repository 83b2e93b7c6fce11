"""Word2vec with negative sampling as a Keras model: an input table (word rows, then the
character n-gram buckets when subwords are on) and an output table (word rows), as word2vec's
syn0 and syn1neg.

A word's input vector is its row, or with subwords the mean of its row and its n-gram rows
(fastText); as in word2vec and fastText, each averaged row takes the whole error, not its share. Skip-gram scores the centre word's input vector against the context word's output
vector; CBOW the mean of the context words' input vectors against the centre word's output
vector. The model's output is each example's loss,
    -log sigmoid(u . v) - sum over negatives n of log sigmoid(-u . n),
negatives equal to the positive word left out (word2vec skips them too). Gradients reach only the
rows a batch uses (IndexedSlices), so plain SGD updates are sparse.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def mean_with_full_gradient(vectors, mask, axis: int):
    """The masked mean of `vectors` along `axis`, whose gradient reaches each vector in full (not
    divided by the count): word2vec's CBOW (cbow_mean) and fastText's subword average update every
    row they averaged with the whole error, and learn several times faster for it."""
    summed = tf.reduce_sum(vectors * mask, axis=axis)
    mean = summed / tf.maximum(tf.reduce_sum(mask, axis=axis), 1.0)
    return summed + tf.stop_gradient(mean - summed)


class Word2Vec(keras.Model):
    def __init__(
        self, vocab_size: int, dim: int, model_type: str, subword_table: np.ndarray | None, buckets: int, **kw
    ):
        super().__init__(**kw)
        self.vocab_size, self.dim, self.model_type = vocab_size, dim, model_type
        rows = vocab_size + (buckets if subword_table is not None else 0)
        bound = 0.5 / dim  # word2vec's initialisation: U(-0.5/dim, 0.5/dim); output rows zero
        self.input_table = self.add_weight(
            shape=(rows, dim), initializer=keras.initializers.RandomUniform(-bound, bound), name="input_vectors"
        )
        self.output_table = self.add_weight(shape=(vocab_size, dim), initializer="zeros", name="output_vectors")
        self.subword_table = None
        if subword_table is not None:
            # Word id -> its rows in the input table: itself, then its n-gram buckets; -1 pads.
            own = np.arange(vocab_size, dtype=np.int32)[:, None]
            self.subword_table = tf.constant(np.concatenate([own, subword_table], axis=1))
        self.built = True  # the tables are the whole model, made above

    def input_vectors(self, ids):
        if self.subword_table is None:
            return tf.gather(self.input_table, ids)
        rows = tf.gather(self.subword_table, ids)  # [..., 1 + M]
        mask = tf.cast(rows >= 0, self.input_table.dtype)[..., None]
        return mean_with_full_gradient(tf.gather(self.input_table, tf.maximum(rows, 0)), mask, axis=-2)

    def call(self, features, training=False):
        if self.model_type == "skipgram":
            u = self.input_vectors(features["center"])
            positive = features["context"]
        else:
            mask = features["context_mask"][..., None]
            u = mean_with_full_gradient(self.input_vectors(features["context"]), mask, axis=1)
            positive = features["center"]
        negatives = features["negatives"]
        v = tf.gather(self.output_table, positive)
        n = tf.gather(self.output_table, negatives)
        positive_logit = tf.reduce_sum(u * v, axis=-1)
        negative_logits = tf.einsum("bd,bkd->bk", u, n)
        real = tf.cast(negatives != positive[:, None], u.dtype)
        return tf.nn.softplus(-positive_logit) + tf.reduce_sum(tf.nn.softplus(negative_logits) * real, axis=-1)

    def word_vectors(self) -> np.ndarray:
        """[V, dim] input vectors of the vocabulary words (subwords averaged in)."""
        ids = tf.range(self.vocab_size)
        parts = [self.input_vectors(ids[i : i + 8192]).numpy() for i in range(0, self.vocab_size, 8192)]
        return np.concatenate(parts, axis=0) if parts else np.zeros((0, self.dim), np.float32)
