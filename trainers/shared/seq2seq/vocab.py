"""Source and target vocabularies, and the in-graph conversion of strings to ids and back.

Target ids reserve <pad>=0, <oov>=1, <s>=2 (start) and </s>=3 (end); source ids reserve <pad>
and <oov>. A task whose source and target share one vocabulary passes the same target-style
list (all four reserved) for both. Only core `tf.strings` and lookup ops, so the export needs
nothing but TensorFlow.
"""

from __future__ import annotations

import tensorflow as tf

from trainers.shared import text

PAD, OOV, START, END = 0, 1, 2, 3
SOURCE_RESERVED = ["<pad>", "<oov>"]
TARGET_RESERVED = ["<pad>", "<oov>", "<s>", "</s>"]


class Vocabularies(tf.Module):
    def __init__(self, source: list[str], target: list[str], max_source: int, max_target: int):
        super().__init__(name="vocabularies")
        self.max_source = max_source
        self.max_target = max_target
        self.source_table = text.lookup_table(source, len(SOURCE_RESERVED), OOV)
        self.target_table = text.lookup_table(target, len(TARGET_RESERVED), OOV)
        self.target_tokens = tf.constant(target)

    def source_ids(self, texts):
        """[B] strings -> [B, max_source] ids."""
        return self.source_table.lookup(text.tokenize(texts)).to_tensor(PAD, shape=[None, self.max_source])

    def target_pair(self, targets):
        """[B] strings -> (decoder input <s> y..., decoder target y... </s>), each [B, max_target]."""
        ids = self.target_table.lookup(text.tokenize(targets))[:, : self.max_target - 1]
        column = tf.stack([ids.nrows(out_type=tf.int32), 1])
        start = tf.RaggedTensor.from_tensor(tf.fill(column, tf.constant(START, tf.int64)))
        end = tf.RaggedTensor.from_tensor(tf.fill(column, tf.constant(END, tf.int64)))
        decoder_in = tf.concat([start, ids], axis=1).to_tensor(PAD, shape=[None, self.max_target])
        decoder_out = tf.concat([ids, end], axis=1).to_tensor(PAD, shape=[None, self.max_target])
        return decoder_in, decoder_out

    def detokenize(self, ids):
        """[B, T] ids -> [B] strings, up to the first </s>. Reserved ids are dropped, <oov> too: a
        word the target vocabulary lacks cannot be spelled, and leaving it out reads better."""
        before_end = tf.cumsum(tf.cast(tf.equal(ids, END), tf.int32), axis=1, exclusive=True) == 0
        keep = before_end & (ids >= len(TARGET_RESERVED))
        words = tf.ragged.boolean_mask(tf.gather(self.target_tokens, ids), keep)
        return tf.strings.reduce_join(words, axis=1, separator=" ")
