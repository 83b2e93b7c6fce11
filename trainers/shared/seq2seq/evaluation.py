"""Validation of a sequence-to-sequence model over pairs, batch by batch: teacher-forced loss and
token accuracy over every pair, and the decoded outputs of the first few (which the task scores
with its own measure: ROUGE for summaries, BLEU for replies)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

from trainers.shared.seq2seq.losses import masked_token_loss, token_accuracy

BATCH = 64


def teacher_forced_scorer(model, batch_fn: Callable, label_smoothing: float = 0.0):
    """A tf.function (sources [b], targets [b] strings) -> (summed loss, right tokens, tokens).
    `batch_fn` turns the strings into ((source ids, decoder input), decoder target), as in
    training; `model` takes those inputs (source ids, decoder input, or whatever else the
    batch function puts first) and returns logits."""

    @tf.function(reduce_retracing=True)
    def score(sources, targets):
        inputs, decoder_out = batch_fn(sources, targets)
        logits = model(inputs, training=False)
        loss = tf.reduce_sum(masked_token_loss(decoder_out, logits, label_smoothing))
        right, tokens = token_accuracy(decoder_out, logits)
        return loss, right, tokens

    return score


def teacher_forced(score, sources: Sequence[str], targets: Sequence[str], batch: int = BATCH) -> dict[str, float]:
    """val_loss (mean over pairs) and val_token_accuracy of a `teacher_forced_scorer`."""
    loss = right = tokens = 0.0
    for start in range(0, len(sources), batch):
        batch_loss, batch_right, batch_tokens = score(
            tf.constant(sources[start : start + batch]), tf.constant(targets[start : start + batch])
        )
        loss, right, tokens = loss + float(batch_loss), right + float(batch_right), tokens + float(batch_tokens)
    return {"val_loss": loss / len(sources), "val_token_accuracy": right / max(tokens, 1.0)}


def decoded(decode_texts, sources: Sequence[str], count: int, batch: int = BATCH) -> list[str]:
    """The first `count` sources decoded by `decode_texts` ([b] strings -> [b] strings)."""
    sample = min(count, len(sources))
    return [
        text.decode()
        for start in range(0, sample, batch)
        for text in decode_texts(tf.constant(sources[start : min(start + batch, sample)])).numpy()
    ]
