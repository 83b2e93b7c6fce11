"""The summarizer's parts with tiny shapes: attention, beam search, length penalty, ROUGE wiring,
vocabularies and the line format."""

import numpy as np
import pytest
import tensorflow as tf

from trainers.runtime.errors import DataError
from trainers.shared.seq2seq.search import beam_search, greedy_search, length_penalty
from trainers.shared.seq2seq.vocab import END, START, Vocabularies
from trainers.tasks.summarize import metrics
from trainers.tasks.summarize.layers import BahdanauAttention
from trainers.tasks.summarize.model import Seq2SeqAttention
from trainers.tasks.summarize.task import PAIRS

START_ID, END_ID, V = 2, 3, 6


def test_attention_weights_sum_to_one_over_real_positions_and_ignore_padding():
    attention = BahdanauAttention(5)
    rng = np.random.default_rng(0)
    query = tf.constant(rng.normal(size=(2, 3, 4)), tf.float32)
    values = tf.constant(rng.normal(size=(2, 6, 8)), tf.float32)
    mask = tf.constant([[True] * 6, [True, True, True, False, False, False]])
    context, weights = attention(query, values, mask=mask, return_weights=True)
    assert context.shape == (2, 3, 8) and weights.shape == (2, 3, 6)
    np.testing.assert_allclose(tf.reduce_sum(weights, -1).numpy(), 1.0, rtol=1e-6)
    assert np.all(weights.numpy()[1, :, 3:] == 0.0)  # padding is never attended
    # So what sits at padded positions cannot change the context.
    noisy = tf.concat([values[:, :3], values[:, 3:] + 100.0], axis=1)
    np.testing.assert_allclose(attention(query, noisy, mask=mask)[1].numpy(), context[1].numpy(), atol=1e-6)
    assert BahdanauAttention.from_config(attention.get_config()).units == 5


def tree_scorer(table):
    """A step function from a table {prefix tuple: {token: probability}}; unknown prefixes end.
    The state is the prefix so far, as a fixed-width row of token ids and its length."""

    def log_probs(prefixes, lengths):
        rows = []
        for prefix, length in zip(prefixes, lengths, strict=True):
            row = np.full(V, -1e9, np.float32)
            for token, p in table.get(tuple(int(t) for t in prefix[:length]), {END_ID: 1.0}).items():
                row[token] = np.log(p)
            rows.append(row)
        return np.stack(rows)

    def step(tokens, state):
        prefix, length = state
        grows = tokens != START_ID
        at = tf.one_hot(length, prefix.shape[1], on_value=True, off_value=False, dtype=tf.bool) & grows[:, None]
        prefix = tf.where(at, tokens[:, None], prefix)
        length = length + tf.cast(grows, tf.int32)
        scores = tf.numpy_function(log_probs, [prefix, length], tf.float32)
        scores.set_shape([None, V])
        return scores, (prefix, length)

    return step


def start_state(rows):
    return tf.zeros([rows, 4], tf.int64), tf.zeros([rows], tf.int32)


# Greedy takes "a" (0.6) and is then stuck with 0.35; "b" (0.4) then </s> (0.9) is better overall.
TRAP = {(): {4: 0.6, 5: 0.4}, (4,): {4: 0.35, 5: 0.35, END_ID: 0.3}, (5,): {END_ID: 0.9, 4: 0.1}}


def test_beam_search_finds_the_best_sequence_that_greedy_misses():
    step = tree_scorer(TRAP)
    greedy, greedy_score = greedy_search(step, start_state(1), 1, 4, START_ID, END_ID)
    beam, beam_score = beam_search(step, start_state(2), 1, 2, 4, START_ID, END_ID, alpha=0.0)
    assert greedy.numpy()[0, :3].tolist() == [4, 4, END_ID]
    assert beam.numpy()[0, :2].tolist() == [5, END_ID]
    assert beam_score.numpy()[0] == pytest.approx(np.log(0.4 * 0.9), rel=1e-5)
    assert greedy_score.numpy()[0] == pytest.approx(np.log(0.6 * 0.35), rel=1e-5)


def test_beam_width_one_is_greedy_decoding_on_a_real_model():
    model = Seq2SeqAttention(30, 12, embedding_dim=8, hidden_size=6, dropout=0.0)
    source = tf.constant(np.random.default_rng(1).integers(2, 30, size=(5, 7)), tf.int64)
    model((source, tf.zeros([5, 4], tf.int64)))
    values, keys, mask, state = model.encode(source)

    def step(tokens, s):
        return model.step(tokens, s, values, keys, mask)

    greedy, _ = greedy_search(step, state, 5, 6, START, END)
    beam, _ = beam_search(step, state, 5, 1, 6, START, END, alpha=0.6)
    np.testing.assert_array_equal(beam.numpy(), greedy.numpy())


def test_step_decoding_computes_what_teacher_forcing_computes():
    model = Seq2SeqAttention(30, 12, embedding_dim=8, hidden_size=6, dropout=0.0)
    source = tf.constant(np.random.default_rng(2).integers(2, 30, size=(3, 7)), tf.int64)
    decoder_in = tf.constant([[START, 5, 6, 7], [START, 8, 9, 4], [START, 4, 4, 4]], tf.int64)
    logits = model((source, decoder_in))
    values, keys, mask, state = model.encode(source)
    for t in range(4):
        log_probs, state = model.step(decoder_in[:, t], state, values, keys, mask)
        np.testing.assert_allclose(log_probs.numpy(), tf.nn.log_softmax(logits[:, t]).numpy(), atol=1e-5)


def test_length_penalty_lets_a_longer_summary_win_as_documented():
    # "a </s>" has P = 0.5; "b b b </s>" has P = 0.5 * 0.8 * 0.8 * 1.0 = 0.32.
    table = {(): {4: 0.5, 5: 0.5}, (4,): {END_ID: 1.0}, (5,): {5: 0.8, END_ID: 0.2}, (5, 5): {5: 0.8, END_ID: 0.2}}
    table[(5, 5, 5)] = {END_ID: 1.0}
    step = tree_scorer(table)
    short, _ = beam_search(step, start_state(3), 1, 3, 5, START_ID, END_ID, alpha=0.0)
    assert short.numpy()[0, :2].tolist() == [4, END_ID]
    # alpha = 0 ranks by log P: log 0.5 = -0.69 beats log 0.32 = -1.14. With alpha = 5 the scores
    # are log 0.5 / (7/6)^5 = -0.32 and log 0.32 / (9/6)^5 = -0.15: the longer one wins.
    assert length_penalty(tf.constant(2), 2.0).numpy() == pytest.approx((7 / 6) ** 2)
    long, score = beam_search(step, start_state(3), 1, 3, 5, START_ID, END_ID, alpha=5.0)
    assert long.numpy()[0, :4].tolist() == [5, 5, 5, END_ID]
    assert score.numpy()[0] == pytest.approx(np.log(0.32) / (9 / 6) ** 5, rel=1e-5)


def test_rouge_wiring_on_hand_computed_cases():
    found = metrics.rouge(["the cat sat on the mat"], ["the cat sat"])
    # unigrams: 3 of 3 predicted are right (P=1), 3 of 6 reference (R=0.5): F1 = 2/3.
    assert found["rouge1"] == pytest.approx(2 / 3)
    # bigrams: "the cat", "cat sat" of 5 reference bigrams: P=1, R=0.4, F1 = 0.8/1.4.
    assert found["rouge2"] == pytest.approx(0.8 / 1.4)
    assert found["rougeL"] == pytest.approx(2 / 3)
    assert metrics.rouge(["profits rose"], ["profit rose"])["rouge1"] == 1.0  # Porter stemming
    assert metrics.rouge(["a b", "c d"], ["a b", "x y"])["rouge1"] == pytest.approx(0.5)  # mean over pairs
    assert metrics.lead("one two three four", 2) == "one two"


def test_vocabularies_frame_summaries_and_read_them_back():
    vocab = Vocabularies(["<pad>", "<oov>", "acme", "rose"], ["<pad>", "<oov>", "<s>", "</s>", "acme", "up"], 6, 4)
    decoder_in, decoder_out = vocab.target_pair(tf.constant(["Acme up", "acme up up up up"]))
    assert decoder_in.numpy().tolist() == [[START, 4, 5, 0], [START, 4, 5, 5]]
    assert decoder_out.numpy().tolist() == [[4, 5, END, 0], [4, 5, 5, END]]
    assert vocab.source_ids(tf.constant(["acme rose, fast"])).numpy().tolist() == [[2, 3, 1, 1, 0, 0]]
    text = vocab.detokenize(tf.constant([[4, 1, 5, END, 4], [5, 5, 0, 0, 0]], tf.int64))
    assert [t.decode() for t in text.numpy()] == ["acme up", "up up"]


def test_pairs_name_file_and_line(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("# header\nsome text\ta summary\n\nno summary here\n")
    with pytest.raises(DataError, match=r"p.tsv:4: expected '<text><TAB><summary>', found 0 tabs"):
        PAIRS.read(path, skip_bad_lines=False)
    pairs = PAIRS.read(path, skip_bad_lines=True)
    assert (pairs.sources, pairs.targets, pairs.line_numbers, pairs.skipped) == (["some text"], ["a summary"], [2], 1)


def test_bundled_sample_is_what_the_generator_writes(tmp_path):
    from trainers.tasks.summarize.task import SAMPLE_DIR
    from trainers.tasks.summarize.tools import sample_data

    sample_data.main(["--out", str(tmp_path)])
    for name in ("headlines.train.tsv", "headlines.eval.tsv", "headlines_copy.train.tsv", "headlines_copy.eval.tsv"):
        assert (tmp_path / name).read_text() == (SAMPLE_DIR / name).read_text(), name
    # The copy sample's evaluation names never occur in its training file.
    copy_train = PAIRS.read(SAMPLE_DIR / "headlines_copy.train.tsv", skip_bad_lines=False)
    copy_eval = PAIRS.read(SAMPLE_DIR / "headlines_copy.eval.tsv", skip_bad_lines=False)
    seen = {word for text in copy_train.sources for word in text.split()}
    names = {summary.split()[0] for summary in copy_eval.targets}
    assert len(names) > 150 and not names & seen
    pairs = PAIRS.read(SAMPLE_DIR / "headlines.eval.tsv", skip_bad_lines=False)
    # The key sentence is never first, so the lead baseline has little to find.
    assert all(
        metrics.lead(text, 8).split()[0] not in summary.split()[:1]
        for text, summary in zip(pairs.sources, pairs.targets, strict=True)
    )
