"""Greedy and beam-search decoding in TensorFlow ops, so they run inside the exported graph.
(Sampling is in sampling.py; decode.py picks one of them for a model.)

Both drive a `step_fn(tokens [N], state) -> (log-probabilities [N, V], state)`, where `state` is
any nested structure of tensors whose leading dimension is N. Beam search keeps N = batch x width
hypotheses, each batch element's beams adjacent; anything the step needs that does not change
(the encoded source) is closed over, tiled the same way, and never reordered, because beams only
ever replace beams of their own batch element.

Length penalty (Wu et al. 2016, GNMT): when the search ends, each hypothesis is ranked by
log P(Y) / ((5 + |Y|) / 6) ** alpha, |Y| counting the end token. alpha = 0 ranks by log P(Y)
alone, which favours short outputs; larger alpha favours longer ones. During the search a
finished hypothesis keeps its score and competes for a beam slot by its raw log-probability.
"""

from __future__ import annotations

import tensorflow as tf

NEG_INF = -1e9


def length_penalty(lengths, alpha: float):
    return tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, alpha)


def forbid_end_before(log_probs, t, min_length: int, end_id: int):
    """log_probs [N, V] with </s> impossible while fewer than `min_length` tokens are written
    (step t writes token t + 1), so no hypothesis ends that short; min_length 0 changes nothing."""
    if not min_length:
        return log_probs
    is_end = tf.equal(tf.range(tf.shape(log_probs)[-1]), end_id)[tf.newaxis]
    return tf.where(is_end & (t < min_length), tf.constant(NEG_INF, log_probs.dtype), log_probs)


def forbid_repeated_ngrams(log_probs, written, t, n: int):
    """log_probs [N, V] with every token impossible that would repeat an n-gram the row has
    already written (written [N, T], positions before t are the row's tokens). n = 0 changes
    nothing; n = 1 forbids any token already written. Decoders trained with teacher forcing loop
    ("dollar dollar dollar"); blocking repeats at decoding time is Paulus et al. 2017's remedy,
    cheaper than training a coverage loss."""
    if not n:
        return log_probs
    rows, width = tf.shape(written)[0], written.shape[-1]
    starts = width - n + 1
    if starts <= 0:
        return log_probs
    # Start j matches when written[j : j + n - 1] equals the row's last n - 1 tokens.
    match = tf.fill([rows, starts], True)
    for i in range(n - 1):
        last = tf.gather(written, tf.maximum(t - (n - 1) + i, 0), axis=1)
        match &= tf.equal(written[:, i : i + starts], last[:, tf.newaxis])
    # ... and its next token, written[j + n - 1], is already written.
    match &= (tf.range(starts) + n - 1 < t)[tf.newaxis] & (t >= n - 1)
    following = tf.cast(written[:, n - 1 : n - 1 + starts], tf.int32)
    row_ids = tf.broadcast_to(tf.range(rows)[:, tf.newaxis], tf.shape(following))
    indices = tf.stack([row_ids, following], axis=-1)
    hits = tf.tensor_scatter_nd_max(tf.zeros(tf.shape(log_probs), tf.int32), indices, tf.cast(match, tf.int32))
    return tf.where(hits > 0, tf.constant(NEG_INF, log_probs.dtype), log_probs)


def greedy_search(
    step_fn,
    state,
    batch_size,
    max_length: int,
    start_id: int,
    end_id: int,
    min_length: int = 0,
    no_repeat_ngram: int = 0,
):
    """-> (ids [B, max_length] int64, log-probability [B]). After </s> come more </s>, then zeros
    once every row has finished. `min_length` tokens come before any </s>; with
    `no_repeat_ngram` n no n-gram is written twice."""
    tokens = tf.fill([batch_size], tf.constant(start_id, tf.int64))
    finished = tf.zeros([batch_size], tf.bool)
    scores = tf.zeros([batch_size])
    ids = tf.zeros([batch_size, max_length], tf.int64)

    def body(t, tokens, state, finished, scores, ids):
        log_probs, state = step_fn(tokens, state)
        log_probs = forbid_end_before(log_probs, t, min_length, end_id)
        log_probs = forbid_repeated_ngrams(log_probs, ids, t, no_repeat_ngram)
        best = tf.argmax(log_probs, axis=-1, output_type=tf.int64)
        best = tf.where(finished, tf.constant(end_id, tf.int64), best)
        gained = tf.gather(log_probs, best, batch_dims=1)
        scores = scores + tf.where(finished, 0.0, gained)
        ids = write_column(ids, t, best)
        return t + 1, best, state, finished | tf.equal(best, end_id), scores, ids

    def more(t, tokens, state, finished, scores, ids):
        return (t < max_length) & ~tf.reduce_all(finished)

    loop = tf.while_loop(more, body, (tf.constant(0), tokens, state, finished, scores, ids))
    return loop[5], loop[4]


def beam_search(
    step_fn,
    state,
    batch_size,
    beam_width: int,
    max_length: int,
    start_id: int,
    end_id: int,
    alpha: float,
    min_length: int = 0,
    no_repeat_ngram: int = 0,
):
    """-> (ids [B, max_length] int64 of the best hypothesis, its length-normalised score [B]);
    `min_length` tokens come before any </s>; with `no_repeat_ngram` n no hypothesis writes an
    n-gram twice."""
    k = beam_width
    tokens = tf.fill([batch_size * k], tf.constant(start_id, tf.int64))
    # Only the first beam is alive at the start, so the first step does not pick k copies.
    first = tf.concat([[0.0], tf.fill([k - 1], NEG_INF)], axis=0)
    scores = tf.tile(first[tf.newaxis], [batch_size, 1])
    finished = tf.zeros([batch_size, k], tf.bool)
    lengths = tf.zeros([batch_size, k], tf.int32)
    sequences = tf.zeros([batch_size, k, max_length], tf.int64)
    offsets = tf.range(batch_size)[:, tf.newaxis] * k

    def body(t, tokens, state, scores, finished, lengths, sequences):
        log_probs, state = step_fn(tokens, state)
        log_probs = forbid_end_before(log_probs, t, min_length, end_id)
        log_probs = forbid_repeated_ngrams(log_probs, tf.reshape(sequences, [-1, max_length]), t, no_repeat_ngram)
        vocabulary = tf.shape(log_probs)[-1]
        log_probs = tf.reshape(log_probs, [batch_size, k, vocabulary])
        only_end = tf.where(tf.range(vocabulary) == end_id, 0.0, NEG_INF)
        log_probs = tf.where(finished[:, :, tf.newaxis], only_end, log_probs)
        total = tf.reshape(scores[:, :, tf.newaxis] + log_probs, [batch_size, k * vocabulary])
        scores, chosen = tf.math.top_k(total, k=k)
        beam, token = chosen // vocabulary, tf.cast(chosen % vocabulary, tf.int64)
        sequences = write_column(tf.gather(sequences, beam, batch_dims=1), t, token)
        was_finished = tf.gather(finished, beam, batch_dims=1)
        lengths = tf.gather(lengths, beam, batch_dims=1) + tf.cast(~was_finished, tf.int32)
        finished = was_finished | tf.equal(token, end_id)
        rows = tf.reshape(beam + offsets, [-1])
        state = tf.nest.map_structure(lambda s: tf.gather(s, rows), state)
        return t + 1, tf.reshape(token, [-1]), state, scores, finished, lengths, sequences

    def more(t, tokens, state, scores, finished, lengths, sequences):
        return (t < max_length) & ~tf.reduce_all(finished)

    loop = tf.while_loop(more, body, (tf.constant(0), tokens, state, scores, finished, lengths, sequences))
    _, _, _, scores, _, lengths, sequences = loop
    normalized = scores / length_penalty(lengths, alpha)
    best = tf.argmax(normalized, axis=1, output_type=tf.int32)
    return tf.gather(sequences, best, batch_dims=1), tf.gather(normalized, best, batch_dims=1)


def write_column(ids, t, column):
    """ids [..., T] with position t replaced by column [...]."""
    at_t = tf.one_hot(t, tf.shape(ids)[-1], on_value=True, off_value=False, dtype=tf.bool)
    return tf.where(at_t, column[..., tf.newaxis], ids)
