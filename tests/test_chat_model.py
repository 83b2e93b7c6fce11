"""The chat task's Transformer with tiny shapes: no position sees a later one, padding is never
attended, step-by-step decoding computes what teacher forcing computes, beam width 1 is greedy,
and the keys refuse what cannot build."""

import numpy as np
import pytest
import tensorflow as tf

from trainers.runtime import keyset
from trainers.runtime.errors import ConfigError
from trainers.shared.seq2seq.decode import Beam, Greedy
from trainers.tasks import registry
from trainers.tasks.chat.model import Transformer
from trainers.tasks.chat.serving import decode

VOCAB, SOURCE, TARGET = 23, 7, 6


@pytest.fixture(scope="module")
def model():
    tf.keras.utils.set_random_seed(3)
    m = Transformer(VOCAB, layers_count=2, heads=2, model_dim=16, ff_dim=32, dropout=0.1, max_target=TARGET)
    m((tf.zeros([1, SOURCE], tf.int64), tf.zeros([1, TARGET], tf.int64)))
    return m


def ids(rows):
    return tf.constant(rows, tf.int64)


def test_no_position_attends_to_a_later_one(model):
    source = ids([[5, 6, 7, 8, 0, 0, 0]] * 2)
    decoder_in = ids([[2, 9, 10, 11, 12, 13], [2, 9, 10, 14, 15, 16]])  # rows differ from position 3 on
    logits = model((source, decoder_in), training=False).numpy()
    np.testing.assert_allclose(logits[0, :3], logits[1, :3], atol=1e-5)
    assert np.abs(logits[0, 3:] - logits[1, 3:]).max() > 1e-3  # and later positions do see them


def test_context_padding_is_never_attended(model):
    """The same context with more padding (a longer maxSourceLength), and with its padding
    positions carrying other position encodings, gives the same outputs."""
    decoder_in = ids([[2, 9, 10, 11, 0, 0]])
    short = model((ids([[5, 6, 7, 0, 0, 0, 0]]), decoder_in), training=False)
    longer = model((ids([[5, 6, 7] + [0] * 12]), decoder_in), training=False)
    np.testing.assert_allclose(short.numpy(), longer.numpy(), atol=1e-5)
    other = model((ids([[5, 6, 8, 0, 0, 0, 0]]), decoder_in), training=False)
    assert np.abs(short.numpy() - other.numpy()).max() > 1e-3  # real tokens are attended


def test_reply_padding_changes_no_real_position(model):
    source = ids([[5, 6, 7, 0, 0, 0, 0]])
    a = model((source, ids([[2, 9, 10, 0, 0, 0]])), training=False).numpy()
    b = model((source, ids([[2, 9, 10, 0, 0, 0, 0, 0, 0]])), training=False).numpy()
    np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-5)


def test_step_decoding_computes_what_teacher_forcing_computes(model):
    source = ids([[5, 6, 7, 8, 0, 0, 0], [9, 10, 0, 0, 0, 0, 0]])
    reply = ids([[2, 11, 12, 13, 14, 15], [2, 16, 17, 18, 19, 20]])
    forced = tf.nn.log_softmax(model((source, reply), training=False)).numpy()
    memory, mask = model.encode(source)
    state = model.start_state(2)
    for t in range(TARGET):
        log_probs, state = model.step(reply[:, t], state, memory, mask)
        np.testing.assert_allclose(log_probs.numpy(), forced[:, t], atol=1e-4, err_msg=f"step {t}")


def test_beam_width_one_is_greedy(model):
    source = ids([[5, 6, 7, 8, 0, 0, 0], [9, 10, 0, 0, 0, 0, 0], [11, 12, 13, 14, 15, 16, 17]])
    greedy, greedy_score = decode(model, source, Greedy(), TARGET)
    beam, beam_score = decode(model, source, Beam(1, 0.0), TARGET)
    np.testing.assert_array_equal(greedy.numpy(), beam.numpy())
    np.testing.assert_allclose(greedy_score.numpy(), beam_score.numpy(), atol=1e-5)
    wide, _ = decode(model, source, Beam(3, 0.6), TARGET)
    assert wide.shape == (3, TARGET)


def test_heads_must_divide_model_dim():
    with pytest.raises(ConfigError, match="heads='3' must divide modelDim=128"):
        keyset.load({}, {"modelType": "transformer", "heads": "3"}, registry())
