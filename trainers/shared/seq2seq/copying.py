"""The copy mechanism of a pointer-generator (See et al. 2017), for any attention encoder-decoder:
the output distribution mixes generating a word of the closed target vocabulary with copying a
source token through the attention weights, so a name or number the vocabulary lacks can still
be written.

Extended vocabulary, per example: ids below V (the target vocabulary's size) are target words;
id V + i stands for the source token at position i, used only for source tokens outside the
target vocabulary, and always the token's first position, so repeats of one unknown name share
one id. A source of S positions gives V + S ids, a fixed size, so batches and the exported graph
keep static shapes. A source token that is a target word copies onto that word's id.

    P(w) = p_gen * P_vocab(w) + (1 - p_gen) * sum of attention over positions i whose id is w

Training targets use the extended ids (an unknown summary word found in the source becomes its
copy id; one not found stays <oov>); the decoder's own input maps every copy id back to <oov>,
as the paper feeds <unk>. Core TensorFlow ops only, so exports keep loading with TensorFlow alone.
"""

from __future__ import annotations

import tensorflow as tf

from trainers.shared import text
from trainers.shared.seq2seq.vocab import END, OOV, PAD, TARGET_RESERVED, Vocabularies

# log(P + EPSILON): slots no source position fills have P = 0 exactly, and log 0 would give
# NaN gradients (0 * inf). 1e-9 over 12,000 slots moves the total by about 1e-5.
EPSILON = 1e-9


def mix(logits, p_gen, attention, extended_ids):
    """log P over the extended vocabulary, [B, T, V + S], from vocabulary logits [B, T, V], the
    generation probability p_gen [B, T, 1], attention weights [B, T, S] (zero on padding) and
    the source's extended ids [B, S]. The result is what a loss "from logits" expects: its
    log-softmax is itself (up to EPSILON), so masked_token_loss and argmax work unchanged."""
    logits = tf.cast(logits, tf.float32)
    p_gen = tf.cast(p_gen, tf.float32)
    attention = tf.cast(attention, tf.float32)
    shape = tf.shape(attention)
    batch, steps, positions = shape[0], shape[1], shape[2]
    generated = tf.pad(tf.nn.softmax(logits, axis=-1) * p_gen, [[0, 0], [0, 0], [0, positions]])
    rows = tf.broadcast_to(tf.range(batch)[:, None, None], shape)
    times = tf.broadcast_to(tf.range(steps)[None, :, None], shape)
    slots = tf.broadcast_to(tf.cast(extended_ids, tf.int32)[:, None, :], shape)
    indices = tf.stack([rows, times, slots], axis=-1)
    probabilities = tf.tensor_scatter_nd_add(generated, indices, attention * (1.0 - p_gen))
    return tf.math.log(probabilities + EPSILON)


def decoder_tokens(ids, target_size: int):
    """What the decoder embeds: copy ids (>= V) read as <oov>."""
    return tf.where(ids >= target_size, tf.constant(OOV, ids.dtype), ids)


class CopyVocabularies(Vocabularies):
    """Vocabularies that also speak extended ids: the source's copy ids, summary targets that
    point into the source, and decoded ids spelled back from the source's own tokens."""

    def __init__(self, source: list[str], target: list[str], max_source: int, max_target: int):
        super().__init__(source, target, max_source, max_target)
        self.target_size = len(target)

    def source_tokens(self, texts):
        """[B] strings -> [B, max_source] tokens, "" after the end (as source_ids truncates)."""
        return text.tokenize(texts)[:, : self.max_source].to_tensor("", shape=[None, self.max_source])

    def extended_source_ids(self, tokens):
        """[B, S] tokens -> [B, S] extended ids: the target word's id, or V + the token's first
        position when the target vocabulary lacks it; PAD after the end."""
        ids = self.target_table.lookup(tokens)
        same = tf.equal(tokens[:, :, None], tokens[:, None, :])
        first = tf.argmax(tf.cast(same, tf.int32), axis=-1, output_type=tf.int64)
        extended = tf.where(tf.equal(ids, OOV), self.target_size + first, ids)
        return tf.where(tf.equal(tokens, ""), tf.constant(PAD, tf.int64), extended)

    def source(self, texts):
        """[B] strings -> (source ids, extended ids, tokens): everything a copying model and
        its detokenizer read."""
        tokens = self.source_tokens(texts)
        return self.source_ids(texts), self.extended_source_ids(tokens), tokens

    def copy_target_pair(self, targets, tokens):
        """As target_pair, but a summary word outside the target vocabulary that the source
        holds (tokens [B, S]) is the target V + its first source position."""
        decoder_in, decoder_out = self.target_pair(targets)
        words = text.tokenize(targets)[:, : self.max_target - 1].to_tensor("", shape=[None, self.max_target])
        match = tf.equal(words[:, :, None], tokens[:, None, :]) & tf.not_equal(tokens, "")[:, None, :]
        first = tf.argmax(tf.cast(match, tf.int32), axis=-1, output_type=tf.int64)
        copied = tf.equal(decoder_out, OOV) & tf.reduce_any(match, axis=-1)
        return decoder_in, tf.where(copied, self.target_size + first, decoder_out)

    def detokenize_copied(self, ids, tokens):
        """[B, T] extended ids and the source tokens [B, S] -> [B] strings, up to the first </s>;
        reserved ids (and <oov>) are dropped, as detokenize does."""
        before_end = tf.cumsum(tf.cast(tf.equal(ids, END), tf.int32), axis=1, exclusive=True) == 0
        keep = before_end & (ids >= len(TARGET_RESERVED))
        vocabulary_word = tf.gather(self.target_tokens, tf.minimum(ids, self.target_size - 1))
        position = tf.clip_by_value(ids - self.target_size, 0, self.max_source - 1)
        source_word = tf.gather(tokens, position, batch_dims=1)
        words = tf.where(ids < self.target_size, vocabulary_word, source_word)
        return tf.strings.reduce_join(tf.ragged.boolean_mask(words, keep), axis=1, separator=" ")
