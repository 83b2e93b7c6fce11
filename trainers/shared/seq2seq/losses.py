"""The training signal of a sequence-to-sequence model, on targets [B, T] and logits [B, T, V]:
padding (id 0) neither costs nor counts."""

from __future__ import annotations

import tensorflow as tf

from trainers.shared.seq2seq.vocab import PAD


def masked_token_loss(targets, logits, label_smoothing: float = 0.0):
    """[B] mean cross-entropy over each row's real tokens. With label_smoothing e the target is
    (1 - e) on the right token plus e spread evenly over the vocabulary."""
    mask = tf.cast(tf.not_equal(targets, PAD), tf.float32)
    logits = tf.cast(logits, tf.float32)
    if label_smoothing:
        one_hot = tf.one_hot(targets, tf.shape(logits)[-1])
        losses = tf.keras.losses.categorical_crossentropy(
            one_hot, logits, from_logits=True, label_smoothing=label_smoothing
        )
    else:
        losses = tf.keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    return tf.reduce_sum(losses * mask, axis=-1) / tf.maximum(tf.reduce_sum(mask, axis=-1), 1.0)


def token_accuracy(targets, logits):
    """(tokens predicted right, real tokens), each summed over the batch: a running metric's
    (sum, count), as TaskRun.step_metrics returns it."""
    mask = tf.not_equal(targets, PAD)
    right = tf.equal(tf.argmax(logits, axis=-1), targets) & mask
    return tf.reduce_sum(tf.cast(right, tf.float32)), tf.reduce_sum(tf.cast(mask, tf.float32))
