"""Word2vec's training examples, generated in tf.data from the encoded corpus.

The corpus is one int32 array of word ids (out-of-vocabulary words already dropped) with each
token's line number; it is cut into chunks of `chunkTokens` tokens. A data epoch visits the
chunks in an order seeded by (seed, epoch) and, for each chunk, with stateless random ops keyed by
(seed, epoch, position in the stream):

1. sub-samples frequent words: word w is kept with probability
   min(1, (sqrt(f(w) / t) + 1) * t / f(w)), f its corpus frequency, t = `subsample` (word2vec's
   formula);
2. draws each kept word's window b uniformly in 1..window (the dynamic window: near words count
   more) and takes the words within b positions on the same line;
3. skip-gram: one example per (word, context word); CBOW: one example per word with its context
   words (padded to 2 x window, a mask saying which are real);
4. draws `negatives` words per example from the unigram^0.75 distribution (a table of 10^6+
   entries, as word2vec's).

Nothing is random outside those keys, so a data epoch is the same stream every time it is built:
resume skips exactly the batches already trained. The number of examples of an epoch is itself
random; a data epoch is `steps_per_epoch` global batches, counted once from epoch 0's stream, and
the stream repeats (with new keys) so no epoch runs dry.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from trainers.runtime.training.inputs import TrainInput

NEGATIVE_TABLE_MIN = 1_000_000


def keep_probability(counts: np.ndarray, threshold: float) -> np.ndarray:
    if threshold <= 0:
        return np.ones(len(counts), np.float32)
    frequency = counts / counts.sum()
    keep = (np.sqrt(frequency / threshold) + 1.0) * threshold / frequency
    return np.minimum(keep, 1.0).astype(np.float32)


def negative_table(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """Word ids repeated in proportion to count^power: a uniform draw from it is a negative."""
    weights = counts.astype(np.float64) ** power
    size = max(NEGATIVE_TABLE_MIN, 100 * len(counts))
    repeats = np.maximum(1, np.round(weights / weights.sum() * size)).astype(np.int64)
    return np.repeat(np.arange(len(counts), dtype=np.int32), repeats)


class ExampleStream:
    def __init__(
        self,
        ids,
        line_of,
        counts,
        model_type: str,
        window: int,
        negatives: int,
        subsample: float,
        chunk_tokens: int,
        seed: int,
    ):
        self.model_type, self.window, self.negatives, self.seed = model_type, window, negatives, seed
        n = len(ids)
        self.chunks = max(1, -(-n // chunk_tokens))
        pad = self.chunks * chunk_tokens - n
        # Padding tokens carry line -1 and id 0, and are dropped before windows are drawn.
        self.ids = tf.constant(np.pad(ids, (0, pad)).reshape(self.chunks, chunk_tokens))
        self.lines = tf.constant(np.pad(line_of, (0, pad), constant_values=-1).reshape(self.chunks, chunk_tokens))
        self.keep = tf.constant(keep_probability(np.asarray(counts, np.float64), subsample))
        self.table = tf.constant(negative_table(np.asarray(counts)))
        self.offsets = tf.constant([d for d in range(-window, window + 1) if d != 0], tf.int32)

    def _chunk(self, key, chunk):
        """Examples of one chunk: a dict of tensors with a leading example dimension."""
        ids, lines = self.ids[chunk], self.lines[chunk]
        uniform = tf.random.stateless_uniform(tf.shape(ids), seed=key)
        kept = (uniform < tf.gather(self.keep, ids)) & (lines >= 0)
        ids, lines = tf.boolean_mask(ids, kept), tf.boolean_mask(lines, kept)
        n = tf.shape(ids)[0]
        reach = tf.random.stateless_uniform([n], seed=key + [0, 1], minval=1, maxval=self.window + 1, dtype=tf.int32)
        position = tf.range(n)[:, None] + self.offsets[None, :]  # [n, 2W]
        inside = (position >= 0) & (position < n)
        position = tf.clip_by_value(position, 0, tf.maximum(n - 1, 0))
        valid = inside & (tf.abs(self.offsets)[None, :] <= reach[:, None])
        valid &= tf.gather(lines, position) == lines[:, None]
        context = tf.gather(ids, position)
        if self.model_type == "skipgram":
            centers = tf.broadcast_to(ids[:, None], tf.shape(context))
            return {"center": tf.boolean_mask(centers, valid), "context": tf.boolean_mask(context, valid)}
        has_context = tf.reduce_any(valid, axis=1)
        return {
            "center": tf.boolean_mask(ids, has_context),
            "context": tf.boolean_mask(tf.where(valid, context, 0), has_context),
            "context_mask": tf.cast(tf.boolean_mask(valid, has_context), tf.float32),
        }

    def _order(self, epoch: int):
        return tf.random.experimental.stateless_shuffle(tf.range(self.chunks), seed=[self.seed, epoch])

    def examples(self, epoch: int, pipelines: int = 1, pipeline: int = 0):
        """The unbatched-in-spirit stream: one element per chunk (a batch of examples)."""
        order = tf.data.Dataset.from_tensor_slices(self._order(epoch)).shard(pipelines, pipeline).repeat()
        seed, epoch_key = self.seed, epoch

        def chunk(position, index):
            key = tf.stack([tf.cast(seed, tf.int64) * 1_000_003 + epoch_key, position])
            return self._chunk(tf.cast(key, tf.int32), index)

        return order.enumerate().map(chunk, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def count(self, epoch: int = 0) -> int:
        """Examples in one pass over every chunk of `epoch`'s stream."""
        total = 0
        for part in self.examples(epoch).take(self.chunks):
            total += int(tf.shape(part["center"])[0])
        return total

    def with_negatives(self, batch, key):
        size = tf.shape(batch["center"])[0]
        draws = tf.random.stateless_uniform(
            [size, self.negatives], seed=key, maxval=tf.shape(self.table, out_type=tf.int32)[0], dtype=tf.int32
        )
        negatives = tf.gather(self.table, draws)
        return {**batch, "negatives": negatives}, tf.zeros([size])

    def train_input(self, global_batch: int) -> TrainInput:
        examples = self.count(0)
        steps = max(1, examples // global_batch)

        def make(context, epoch: int, skip_steps: int):
            per_replica = context.get_per_replica_batch_size(global_batch)
            local_replicas = context.num_replicas_in_sync // context.num_input_pipelines
            stream = self.examples(epoch, context.num_input_pipelines, context.input_pipeline_id)
            stream = stream.rebatch(per_replica, drop_remainder=True)
            seed, epoch_key = self.seed, epoch

            def negatives(position, batch):
                key = tf.stack([tf.cast(seed, tf.int64) * 7_919 + epoch_key, position + 1_000_000_007])
                return self.with_negatives(batch, tf.cast(key % 2_147_483_647, tf.int32))

            stream = stream.enumerate().map(negatives, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            return stream.skip(skip_steps * local_replicas).prefetch(tf.data.AUTOTUNE)

        return TrainInput(steps, make, examples)
