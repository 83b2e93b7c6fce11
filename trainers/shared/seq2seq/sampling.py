"""Sampling decoding in core TensorFlow ops, seeded, so it runs inside the exported graph and a
seed gives the same output every time.

Each step draws the next token from the model's distribution, reshaped three ways:
`temperature` divides the log-probabilities (below 1 sharpens, above 1 flattens); `top_k` > 0
keeps only the k most likely tokens; `top_p` < 1 keeps the smallest set of most likely tokens
whose probability (after top-k, renormalised) reaches p (nucleus sampling, Holtzman et al. 2020).
The most likely token always stays a candidate. Draws are stateless: step t of a call uses the
seed pair (seed, t), so the same seed, inputs and batch give the same tokens, in training-time
validation, in the export and on any machine.

Like greedy search, a row that has produced </s> produces </s> from then on; the score is the
log-probability of the drawn tokens under the model's own (untempered) distribution.
"""

from __future__ import annotations

import tensorflow as tf

from trainers.shared.seq2seq.search import NEG_INF, write_column


def check_sampling(temperature, top_k: int, top_p: float) -> None:
    """ValueError for settings that cannot sample; tensors (chosen per request) are not checked."""
    if isinstance(temperature, int | float) and not temperature > 0:
        raise ValueError(f"temperature must be > 0, not {temperature}")
    if top_k < 0:
        raise ValueError(f"top_k must be >= 0 (0: no limit), not {top_k}")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], not {top_p}")


def draw(log_probs, seed, temperature=1.0, top_k: int = 0, top_p: float = 1.0):
    """One token per row, int64 [N], from log-probabilities [N, V]; `seed` is a [2] tensor."""
    logits = log_probs / tf.cast(temperature, log_probs.dtype)
    if not top_k and top_p >= 1.0:
        return tf.random.stateless_categorical(logits, 1, seed, dtype=tf.int64)[:, 0]
    vocabulary = tf.shape(logits)[-1]
    k = tf.minimum(top_k, vocabulary) if top_k else vocabulary
    # Sampling among the k best (sorted, best first) keeps every draw inside them, ties included.
    values, indices = tf.math.top_k(logits, k=k)
    if top_p < 1.0:
        before = tf.math.cumsum(tf.nn.softmax(values, axis=-1), axis=-1, exclusive=True)
        values = tf.where(before < top_p, values, NEG_INF)
    choice = tf.random.stateless_categorical(values, 1, seed, dtype=tf.int32)[:, 0]
    return tf.cast(tf.gather(indices, choice, batch_dims=1), tf.int64)


def sample_search(
    step_fn,
    state,
    batch_size,
    max_length: int,
    start_id: int,
    end_id: int,
    seed=0,
    temperature=1.0,
    top_k: int = 0,
    top_p: float = 1.0,
):
    """-> (ids [B, max_length] int64, log-probability [B]). `step_fn` as for greedy_search;
    `seed` and `temperature` may be tensors (a signature's inputs), top_k and top_p are fixed."""
    check_sampling(temperature, top_k, top_p)
    seed = tf.cast(seed, tf.int64)
    tokens = tf.fill([batch_size], tf.constant(start_id, tf.int64))
    finished = tf.zeros([batch_size], tf.bool)
    scores = tf.zeros([batch_size])
    ids = tf.zeros([batch_size, max_length], tf.int64)

    def body(t, tokens, state, finished, scores, ids):
        log_probs, state = step_fn(tokens, state)
        drawn = draw(log_probs, tf.stack([seed, tf.cast(t, tf.int64)]), temperature, top_k, top_p)
        drawn = tf.where(finished, tf.constant(end_id, tf.int64), drawn)
        gained = tf.gather(log_probs, drawn, batch_dims=1)
        scores = scores + tf.where(finished, 0.0, gained)
        ids = write_column(ids, t, drawn)
        return t + 1, drawn, state, finished | tf.equal(drawn, end_id), scores, ids

    def more(t, tokens, state, finished, scores, ids):
        return (t < max_length) & ~tf.reduce_all(finished)

    loop = tf.while_loop(more, body, (tf.constant(0), tokens, state, finished, scores, ids))
    return loop[5], loop[4]
