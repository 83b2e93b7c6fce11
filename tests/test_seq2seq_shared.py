"""The shared seq2seq pieces with tiny shapes and no model: searches over a fixed step function,
seeded sampling (reproducible, top-k and top-p respected, the model's distribution followed),
`decode` tiling for beams, the masked loss with label smoothing, and pair reading by any names."""

import numpy as np
import pytest
import tensorflow as tf

from trainers.runtime.errors import DataError
from trainers.shared.seq2seq.decode import Beam, Greedy, Sample, decode
from trainers.shared.seq2seq.losses import masked_token_loss, token_accuracy
from trainers.shared.seq2seq.pairs import PairFormat
from trainers.shared.seq2seq.sampling import draw, sample_search
from trainers.shared.seq2seq.search import beam_search, greedy_search

START, END, V = 2, 3, 12


def random_step(seed: int, rows: int):
    """A deterministic 'model': log-probabilities from a fixed table indexed by the previous token
    and a per-row bias carried in the state, so rows differ and beams must follow their state."""
    rng = np.random.default_rng(seed)
    table = tf.constant(np.log(rng.dirichlet(np.ones(V) * 0.3, size=V)), tf.float32)

    def step(tokens, bias):
        return tf.nn.log_softmax(tf.gather(table, tokens) + bias), bias

    bias = tf.constant(rng.normal(scale=2.0, size=(rows, V)), tf.float32)
    return step, bias


def fixed_step(probabilities):
    """The same next-token distribution at every step, for every row; never </s>."""
    log_probs = tf.constant(np.log(np.asarray(probabilities, np.float64)), tf.float32)

    def step(tokens, state):
        return tf.tile(log_probs[tf.newaxis], [tf.shape(tokens)[0], 1]), state

    return step


def test_beam_width_one_is_greedy_on_many_rows():
    step, bias = random_step(0, 16)
    greedy, _ = greedy_search(step, bias, 16, 8, START, END)
    beam, _ = beam_search(step, bias, 16, 1, 8, START, END, alpha=0.6)
    np.testing.assert_array_equal(beam.numpy(), greedy.numpy())
    assert len({tuple(row) for row in greedy.numpy()}) > 1  # the rows really differ


def test_decode_tiles_memory_and_state_for_beams():
    """decode() with Beam(k) equals beam_search on hand-tiled inputs, and Greedy equals greedy_search."""
    step, bias = random_step(1, 4)
    source = tf.zeros([4, 5], tf.int64)

    def encode(_):
        return bias * 0.5, bias  # memory: read by every step, never reordered; state: the bias

    def model_step(tokens, state, memory):
        return step(tokens, state + memory)

    ids, scores = decode(encode, model_step, source, 6, Beam(3, 0.6), START, END)
    tiled_memory, tiled_state = tf.repeat(bias * 0.5, 3, axis=0), tf.repeat(bias, 3, axis=0)
    expected, expected_scores = beam_search(
        lambda t, s: step(t, s + tiled_memory), tiled_state, 4, 3, 6, START, END, 0.6
    )
    np.testing.assert_array_equal(ids.numpy(), expected.numpy())
    np.testing.assert_allclose(scores.numpy(), expected_scores.numpy())
    greedy, _ = decode(encode, model_step, source, 6, Greedy(), START, END)
    by_hand, _ = greedy_search(lambda t, s: step(t, s + bias * 0.5), bias, 4, 6, START, END)
    np.testing.assert_array_equal(greedy.numpy(), by_hand.numpy())


def test_seeded_sampling_is_reproducible_and_seeds_differ():
    step, bias = random_step(2, 32)

    def run(seed):
        return sample_search(step, bias, 32, 10, START, END, seed=seed, temperature=1.3)

    first, first_scores = run(7)
    again, again_scores = run(7)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    np.testing.assert_array_equal(first_scores.numpy(), again_scores.numpy())
    assert not np.array_equal(first.numpy(), run(8)[0].numpy())
    # In a graph with the seed as a tensor, as a serving signature takes it.
    graph_run = tf.function(lambda seed: sample_search(step, bias, 32, 10, START, END, seed=seed, temperature=1.3))
    np.testing.assert_array_equal(graph_run(tf.constant(7, tf.int64))[0].numpy(), first.numpy())


def test_top_k_never_draws_outside_the_k_most_likely():
    rng = np.random.default_rng(3)
    log_probs = tf.constant(np.log(rng.dirichlet(np.ones(V), size=400)), tf.float32)
    allowed = tf.math.top_k(log_probs, k=3).indices.numpy()
    for seed in range(5):
        drawn = draw(log_probs, tf.constant([seed, 0], tf.int64), temperature=2.0, top_k=3).numpy()
        assert all(token in row for token, row in zip(drawn, allowed, strict=True))
    # k = 1 is greedy whatever the temperature.
    one = draw(log_probs, tf.constant([0, 0], tf.int64), temperature=5.0, top_k=1).numpy()
    np.testing.assert_array_equal(one, tf.argmax(log_probs, axis=-1).numpy())


def test_top_p_keeps_the_smallest_set_reaching_p():
    # Sorted probabilities 0.5, 0.3, 0.15, 0.05: p = 0.7 needs the first two (0.5 < 0.7 <= 0.8).
    probabilities = np.full(V, 1e-9)
    probabilities[[4, 5, 6, 7]] = [0.15, 0.5, 0.05, 0.3]
    step = fixed_step(probabilities / probabilities.sum())
    ids, _ = sample_search(step, tf.zeros([500, 1]), 500, 6, START, END, seed=11, top_p=0.7)
    assert set(ids.numpy().ravel().tolist()) == {5, 7}
    everything, _ = sample_search(step, tf.zeros([500, 1]), 500, 6, START, END, seed=11)
    assert set(everything.numpy().ravel().tolist()) == {4, 5, 6, 7}  # without top_p all four occur


def test_sampling_follows_the_model_distribution():
    probabilities = [0.6, 0.3, 0.1] + [0.0] * (V - 3)
    step = fixed_step(np.maximum(probabilities, 1e-12))
    ids, scores = sample_search(step, tf.zeros([4000, 1]), 4000, 1, START, END, seed=5)
    counts = np.bincount(ids.numpy()[:, 0], minlength=V) / 4000
    np.testing.assert_allclose(counts[:3], probabilities[:3], atol=0.03)
    # The score is the drawn token's log-probability under the model (temperature aside).
    np.testing.assert_allclose(scores.numpy(), np.log(np.asarray(probabilities)[ids.numpy()[:, 0]]), rtol=1e-5)


def test_a_finished_row_only_repeats_the_end_token():
    probabilities = np.full(V, 0.1 / (V - 1))
    probabilities[END] = 0.9
    step = fixed_step(probabilities)
    ids, scores = sample_search(step, tf.zeros([64, 1]), 64, 8, START, END, seed=1)
    finished = 0
    for row, score in zip(ids.numpy(), scores.numpy(), strict=True):
        ends = np.flatnonzero(row == END)
        if ends.size:
            finished += 1
            tail = row[ends[0] :].tolist()
            assert tail == sorted(tail, key=lambda token: token != END) and set(tail) <= {END, 0}, row
            # The score counts the tokens up to the first </s>, not the </s> that follow it.
            assert score == pytest.approx(np.log(probabilities[row[: ends[0] + 1]]).sum(), rel=1e-5)
    assert finished == 64 and len(set(ids.numpy()[:, 0])) > 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"temperature": 0.0}, "temperature"), ({"top_k": -1}, "top_k"), ({"top_p": 0.0}, "top_p")],
)
def test_sampling_settings_that_cannot_sample_are_refused(settings, message):
    step = fixed_step([1.0 / V] * V)
    with pytest.raises(ValueError, match=message):
        decode(lambda s: ((), tf.zeros([2, 1])), lambda t, s, m: step(t, s), tf.zeros([2, 3]), 4, Sample(**settings))


def test_masked_loss_ignores_padding_and_smooths_labels_as_documented():
    targets = tf.constant([[4, 5, 0, 0], [6, 0, 0, 0]], tf.int64)
    logits = tf.constant(np.random.default_rng(4).normal(size=(2, 4, 8)), tf.float32)
    log_probs = tf.nn.log_softmax(logits).numpy()
    plain = masked_token_loss(targets, logits).numpy()
    np.testing.assert_allclose(plain, [-(log_probs[0, 0, 4] + log_probs[0, 1, 5]) / 2, -log_probs[1, 0, 6]], rtol=1e-6)
    # Changing the logits at padded positions changes nothing.
    noisy = tf.concat([logits[:, :1], logits[:, 1:] + tf.constant([[[0.0]], [[50.0]]])], axis=1)
    np.testing.assert_allclose(masked_token_loss(targets, noisy).numpy()[1], plain[1], rtol=1e-6)
    e = 0.1
    smoothed = masked_token_loss(targets, logits, label_smoothing=e).numpy()
    target = (1 - e) * np.eye(8)[targets.numpy()] + e / 8
    per_token = -(target * log_probs).sum(-1)
    np.testing.assert_allclose(smoothed, [per_token[0, :2].mean(), per_token[1, 0]], rtol=1e-5)
    right, count = token_accuracy(targets, tf.one_hot([[4, 1, 0, 0], [6, 0, 0, 0]], 8))
    assert (float(right), float(count)) == (2.0, 3.0)


def test_pairs_speak_the_task_language(tmp_path):
    dialogue = PairFormat("context", "response")
    path = tmp_path / "chat.tsv"
    path.write_text("hello there\thi\n\tno context\n")
    with pytest.raises(DataError, match=r"chat.tsv:2: the context before the tab is empty"):
        dialogue.read(path, skip_bad_lines=False)
    with pytest.raises(DataError, match=r"expected '<context><TAB><response>', found 2 tabs"):
        path.write_text("a\tb\tc\n")
        dialogue.read(path, skip_bad_lines=False)


@pytest.mark.parametrize("how", [Greedy(), Beam(1), Beam(3, 0.6)])
def test_minimum_length_keeps_the_end_token_back(how):
    # </s> is by far the most likely token at every step; with a minimum of 3 it comes fourth.
    probabilities = np.full(V, 0.02)
    probabilities[END] = 1.0 - 0.02 * (V - 1)
    step = fixed_step(probabilities)

    def encode(source):
        return (), tf.zeros([tf.shape(source)[0]])

    short, _ = decode(encode, lambda t, s, m: step(t, s), tf.zeros([2, 3]), 6, how)
    assert short.numpy()[:, 0].tolist() == [END, END]
    if isinstance(how, Beam):
        how = Beam(how.width, how.length_penalty, min_length=3)
        found, _ = decode(encode, lambda t, s, m: step(t, s), tf.zeros([2, 3]), 6, how)
        assert all(END not in row[:3] and row[3] == END for row in found.numpy().tolist())
    else:
        found, _ = greedy_search(step, tf.zeros([2]), 2, 6, START, END, min_length=3)
        assert all(END not in row[:3] and row[3] == END for row in found.numpy().tolist())


@pytest.mark.parametrize("how", [Greedy(), Beam(1), Beam(3)])
def test_no_repeat_ngram_blocks_the_loops_a_decoder_falls_into(how):
    # Token 5 is always the most likely, then 6, 7, 8...; </s> least likely: the plain search loops.
    probabilities = np.array([0.01, 0.01, 0.01, 0.001, 0.01, 0.5, 0.2, 0.1, 0.06, 0.04, 0.03, 0.029])
    step = fixed_step(probabilities / probabilities.sum())

    def encode(source):
        return (), tf.zeros([tf.shape(source)[0]])

    def run(n):
        if isinstance(how, Beam):
            found, _ = decode(encode, lambda t, s, m: step(t, s), tf.zeros([2, 3]), 6, Beam(how.width, 0.0, 0, n))
        else:
            found, _ = greedy_search(step, tf.zeros([2]), 2, 6, START, END, no_repeat_ngram=n)
        return found.numpy().tolist()

    assert run(0)[0] == [5] * 6
    assert run(1)[0] == [5, 6, 7, 8, 9, 10]  # no token twice
    for row in run(2):  # no bigram twice: 5 5, 5 6, 6 5, 5 7, ...
        bigrams = list(zip(row, row[1:], strict=False))
        assert len(set(bigrams)) == len(bigrams), row
    assert run(2)[0] == [5, 5, 6, 5, 7, 5]
    for row in run(3):
        trigrams = list(zip(row, row[1:], row[2:], strict=False))
        assert len(set(trigrams)) == len(trigrams) and row[:4] == [5, 5, 5, 6], row
