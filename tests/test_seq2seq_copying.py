"""The copy mechanism's shared parts (trainers/shared/seq2seq/copying.py) with tiny shapes: the
mixed distribution sums to one and puts copy mass where the extended ids say, extended ids and
copy targets, and a hand-built decoding that writes an out-of-vocabulary source name."""

import numpy as np
import pytest
import tensorflow as tf

from trainers.shared.seq2seq.copying import CopyVocabularies, decoder_tokens, mix
from trainers.shared.seq2seq.decode import Beam, Greedy, decode
from trainers.shared.seq2seq.vocab import END, OOV, PAD

SOURCE = ["<pad>", "<oov>", "said", "its", "profits", "rose"]
TARGET = ["<pad>", "<oov>", "<s>", "</s>", "profits", "up", "pct"]  # V = 7
V = len(TARGET)


def vocabularies(max_source=8, max_target=6):
    return CopyVocabularies(SOURCE, TARGET, max_source, max_target)


def test_mixed_distribution_sums_to_one_with_padding_and_repeated_ids():
    rng = np.random.default_rng(0)
    batch, steps, positions = 3, 4, 5
    logits = tf.constant(rng.normal(scale=3.0, size=(batch, steps, V)), tf.float32)
    p_gen = tf.constant(rng.uniform(size=(batch, steps, 1)), tf.float32)
    raw = rng.uniform(size=(batch, steps, positions))
    raw[2, :, 3:] = 0.0  # padding gets no attention
    attention = tf.constant(raw / raw.sum(-1, keepdims=True), tf.float32)
    # Row 0 repeats a copy id and a vocabulary id; row 2 ends in padding.
    extended = tf.constant([[V, 4, V, 4, 6], [V, V + 1, V + 2, V + 3, V + 4], [5, V + 1, V, PAD, PAD]], tf.int64)
    probabilities = tf.exp(mix(logits, p_gen, attention, extended)).numpy()
    assert probabilities.shape == (batch, steps, V + positions)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-4)
    # Copy mass lands on the ids: row 0's V gets positions 0 and 2, its 4 adds to the vocabulary's.
    vocabulary = tf.nn.softmax(logits, -1).numpy()
    gen, att = p_gen.numpy(), attention.numpy()
    expected = (1 - gen[0, :, 0]) * (att[0, :, 0] + att[0, :, 2])
    np.testing.assert_allclose(probabilities[0, :, V], expected, rtol=1e-4, atol=1e-6)
    expected = gen[0, :, 0] * vocabulary[0, :, 4] + (1 - gen[0, :, 0]) * (att[0, :, 1] + att[0, :, 3])
    np.testing.assert_allclose(probabilities[0, :, 4], expected, rtol=1e-4, atol=1e-6)
    assert np.all(probabilities[0, :, V + 1 :] < 1e-8)  # no position holds those copy ids


def test_mixed_distribution_has_finite_gradients_where_nothing_is_copied():
    logits = tf.Variable(tf.zeros([1, 1, V]))
    gate = tf.Variable([[[0.0]]])
    attention = tf.constant([[[1.0, 0.0]]])
    with tf.GradientTape() as tape:
        log_p = mix(logits, tf.sigmoid(gate), attention, tf.constant([[V, PAD]], tf.int64))
        loss = -tf.reduce_sum(tf.nn.log_softmax(log_p)[0, 0, V])  # the loss "from logits" sees
    grads = tape.gradient(loss, [logits, gate])
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)
    assert grads[1].numpy()[0, 0, 0] > 0  # more copying (a lower p_gen) lowers the loss


def test_extended_ids_give_unknown_source_words_their_first_position():
    vocab = vocabularies()
    ids, extended, tokens = vocab.source(tf.constant(["zorgco said its profits rose 12 pct zorgco", "Up b"]))
    assert [t.decode() for t in tokens.numpy()[0]] == [
        "zorgco",
        "said",
        "its",
        "profits",
        "rose",
        "12",
        "pct",
        "zorgco",
    ]
    assert ids.numpy()[0].tolist() == [OOV, 2, 3, 4, 5, OOV, OOV, OOV]  # the source vocabulary
    # Summary words keep their ids (profits 4, pct 6); others point at their first position.
    assert extended.numpy().tolist() == [[V, V + 1, V + 2, 4, V + 4, V + 5, 6, V], [5, V + 1, 0, 0, 0, 0, 0, 0]]


def test_copy_targets_point_into_the_source_and_the_decoder_reads_oov():
    vocab = vocabularies()
    _, _, tokens = vocab.source(tf.constant(["zorgco said its profits rose 12 pct", "a b"]))
    decoder_in, decoder_out = vocab.copy_target_pair(tf.constant(["zorgco profits up 12 pct", "nowhere up"]), tokens)
    assert decoder_in.numpy().tolist() == [[2, OOV, 4, 5, OOV, 6], [2, OOV, 5, 0, 0, 0]]
    # "zorgco" and "12" are copies of positions 0 and 5; "nowhere" is in neither: <oov>.
    assert decoder_out.numpy().tolist() == [[V, 4, 5, V + 5, 6, END], [OOV, 5, END, 0, 0, 0]]
    assert decoder_tokens(decoder_out, V).numpy().tolist()[0] == [OOV, 4, 5, OOV, 6, END]


def copying_step(extended, plan):
    """A hand-built pointer-generator step: at step t (each row counts its own) it attends where
    plan[t] says, with plan[t]'s generation probability, over fixed vocabulary logits that favour
    "up"; from step len(plan) on it can only write </s>."""
    logits = tf.constant(np.log([1e-3, 1e-3, 1e-3, 0.05, 0.05, 0.85, 0.05]), tf.float32)
    gates = tf.constant([[p] for p, _ in plan], tf.float32)
    weights = tf.constant([a for _, a in plan], tf.float32)
    end_only = tf.one_hot(END, V + weights.shape[1], on_value=0.0, off_value=-1e9)

    def step(tokens, t):
        at = tf.minimum(t, len(plan) - 1)
        rows = tf.shape(tokens)[0]
        mixed = mix(
            tf.tile(logits[None, None, :], [rows, 1, 1]),
            tf.gather(gates, at)[:, None, :],
            tf.gather(weights, at)[:, None, :],
            extended,
        )[:, 0, :]
        return tf.where(t[:, None] >= len(plan), end_only, mixed), t + 1

    return step


@pytest.mark.parametrize("how", [Greedy(), Beam(3, 0.6)])
def test_decoding_copies_an_out_of_vocabulary_name_from_the_source(how):
    vocab = vocabularies()
    source = tf.constant(["the board met . zorgco profits rose 12 pct"])
    ids, extended, tokens = vocab.source(source)
    # Step 0 copies position 4 ("zorgco"), step 1 generates "up", step 2 copies "12" (position
    # 7), then </s>. Neither word is in the summary vocabulary.
    plan = [
        (0.1, [0, 0, 0, 0, 1.0, 0, 0, 0]),
        (1.0, [1.0, 0, 0, 0, 0, 0, 0, 0]),
        (0.1, [0, 0, 0, 0, 0, 0, 0, 1.0]),
    ]

    def encode(source):
        _, extended = source
        return extended, tf.zeros([tf.shape(extended)[0]], tf.int32)

    def step(tokens_so_far, t, extended):
        return copying_step(extended, plan)(tokens_so_far, t)

    found, _ = decode(encode, step, (ids, extended), 6, how)
    assert found.numpy()[0, :4].tolist() == [V + 4, 5, V + 7, END]
    assert [t.decode() for t in vocab.detokenize_copied(found, tokens).numpy()] == ["zorgco up 12"]
