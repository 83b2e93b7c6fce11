"""The summarizer with its copy mechanism (`copyMechanism=true`): the model's step decoding is its
teacher forcing over the extended vocabulary, its distribution sums to one, and trained on the
copy sample (made-up company names, numbers up to 9999, a 25-word summary vocabulary) it writes
names and numbers it never saw in training, from an export that a TensorFlow-only process loads."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import katib_metrics, read_metrics, run_trainer, trainers_cli
from trainers.shared.seq2seq.copying import CopyVocabularies
from trainers.shared.seq2seq.decode import Beam
from trainers.shared.seq2seq.search import beam_search, greedy_search
from trainers.shared.seq2seq.vocab import START
from trainers.tasks.summarize.model import Seq2SeqAttention
from trainers.tasks.summarize.serving import decode
from trainers.tasks.summarize.task import SAMPLE_DIR

TRAIN, EVAL = SAMPLE_DIR / "headlines_copy.train.tsv", SAMPLE_DIR / "headlines_copy.eval.tsv"
# Neither name nor number occurs in the copy sample's training file.
TEXT = "the board will meet again next month . qwertyco said its profits rose 4321 pct in the third quarter ."


def tiny_copy_model(target_size=12, positions=7):
    model = Seq2SeqAttention(30, target_size, embedding_dim=8, hidden_size=6, dropout=0.0, copy=True)
    rng = np.random.default_rng(3)
    source = tf.constant(rng.integers(2, 30, size=(3, positions)), tf.int64)
    # Extended ids: some summary words, some copy ids (target_size + first position).
    extended = tf.constant(
        [[4, target_size + 1, 5, target_size + 1, 6, 0, 0], [target_size + i for i in range(positions)], [4] * 7],
        tf.int64,
    )
    return model, source, extended


def test_copying_model_steps_compute_what_teacher_forcing_computes_and_sum_to_one():
    model, source, extended = tiny_copy_model()
    # The decoder input may hold copy ids (V + i): the decoder reads them as <oov>.
    decoder_in = tf.constant([[START, 13, 6, 7], [START, 8, 9, 4], [START, 4, 4, 16]], tf.int64)
    log_p = model((source, extended, decoder_in))
    assert log_p.shape == (3, 4, 12 + 7)
    np.testing.assert_allclose(tf.reduce_sum(tf.exp(log_p), -1).numpy(), 1.0, atol=1e-4)
    values, keys, mask, state = model.encode(source)
    for t in range(4):
        step_log_p, state = model.step(decoder_in[:, t], state, values, keys, mask, extended)
        np.testing.assert_allclose(step_log_p.numpy(), log_p[:, t].numpy(), atol=1e-5)
    assert Seq2SeqAttention.from_config(model.get_config()).copy_mechanism


def test_copying_model_beam_width_one_is_greedy_over_the_extended_vocabulary():
    model, source, extended = tiny_copy_model()
    model((source, extended, tf.zeros([3, 4], tf.int64)))
    values, keys, mask, state = model.encode(source)

    def step(tokens, s):
        return model.step(tokens, s, values, keys, mask, extended)

    greedy, _ = greedy_search(step, state, 3, 6, START, 3)
    beam, _ = beam_search(step, state, 3, 1, 6, START, 3, alpha=0.6)
    np.testing.assert_array_equal(beam.numpy(), greedy.numpy())


def test_plain_model_is_unchanged_by_the_copy_key():
    plain = Seq2SeqAttention(30, 12, embedding_dim=8, hidden_size=6)
    assert "copy" not in plain.get_config() and not plain.copy_mechanism
    source = tf.ones([2, 5], tf.int64)
    assert plain((source, tf.zeros([2, 3], tf.int64))).shape == (2, 3, 12)
    assert not any("p_gen" in w.path for w in plain.weights)


def test_copying_decode_writes_source_words_through_the_vocabularies():
    # An untrained model told to copy always (p_gen's bias far below zero) can only write source
    # words: every word it spells comes from the text, none from the tiny summary vocabulary.
    vocab = CopyVocabularies(["<pad>", "<oov>", "a"], ["<pad>", "<oov>", "<s>", "</s>", "up"], 6, 5)
    model = Seq2SeqAttention(3, 5, embedding_dim=4, hidden_size=4, dropout=0.0, copy=True)
    ids, extended, tokens = vocab.source(tf.constant(["zorgco rose 4321 . a", "xyzex fell"]))
    model((ids, extended, tf.zeros([2, 5], tf.int64)))
    kernel, bias = model.generate_gate.weights
    kernel.assign(tf.zeros_like(kernel))
    bias.assign([-30.0])
    found, _ = decode(model, (ids, extended), Beam(2), 5)
    texts = [t.decode().split() for t in vocab.detokenize_copied(found, tokens).numpy()]
    assert texts[0] and set(texts[0]) <= {"zorgco", "rose", "4321", ".", "a"}, texts
    assert texts[1] and set(texts[1]) <= {"xyzex", "fell"}, texts


@pytest.mark.slow
def test_copying_summarizer_writes_unseen_names_and_numbers_and_serves_raw_text(tmp_path):
    values = {
        "modelType": "seq2seq-attention",
        "copyMechanism": "true",
        "trainData": str(TRAIN),
        "evalData": str(EVAL),
        "targetVocabSize": "25",  # the 21 frequent summary words: no name, no number
        "hiddenSize": "48",
        "embeddingDim": "32",
        "evalSamples": "64",
        "numEpochs": "6",
        "learningRate": "0.004",
        "exportBest": "true",
        "modelDir": str(tmp_path),
    }
    result = run_trainer(values, tiny=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(katib_metrics(result.stdout)) == 6
    vocabulary = json.loads((tmp_path / "vocab.json").read_text())["target"]
    assert len(vocabulary) == 25 and not any(word.endswith("co") for word in vocabulary)

    scored = trainers_cli("evaluate", "--json", "--model", str(tmp_path / "export"), "--data", str(EVAL))
    assert scored.returncode == 0, scored.stderr[-2000:]
    scores = json.loads(scored.stdout)
    # Every evaluation headline holds a name the training file never held and a number; copying
    # writes them (measured: ROUGE-1/2/L 1.0 with beam and greedy). The same run with
    # copyMechanism=false cannot spell them: it measured ROUGE-2 0.49, ROUGE-L 0.80.
    assert scores["beam_rouge2"] > 0.9 and scores["greedy_rouge2"] > 0.9 and scores["beam_rougeL"] > 0.95, scores

    # tools/decodings.py rebuilds the same model from the kept run: its greedy row is evaluate's.
    (tmp_path / "benchmark-settings.json").write_text(json.dumps({k: v for k, v in values.items() if k != "modelDir"}))
    rows = subprocess.run(
        [sys.executable, "-m", "trainers.tasks.summarize.tools.decodings", "--run", str(tmp_path), "--data", str(EVAL)]
        + ["--decoding", "beamWidth=1", "--decoding", "beamWidth=3,lengthPenalty=1.0,minSummaryLength=2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rows.returncode == 0, rows.stderr[-2000:]
    greedy_row = next(line for line in rows.stdout.splitlines() if line.startswith("| beamWidth=1 |"))
    expected = " | ".join(f"{100 * scores[f'greedy_{m}']:.1f}" for m in ("rouge1", "rouge2", "rougeL"))
    assert greedy_row.startswith(f"| beamWidth=1 | {expected} |"), (greedy_row, expected)
    assert "| beamWidth=3,lengthPenalty=1.0,minSummaryLength=2 |" in rows.stdout

    version = sorted((tmp_path / "export").iterdir())[-1]
    probe = (
        "import sys, tensorflow as tf; m = tf.saved_model.load(sys.argv[1]);"
        "out = m.signatures['serving_default'](text=tf.constant([sys.argv[2]]));"
        "greedy = m.signatures['greedy'](text=tf.constant([sys.argv[2]]));"
        "assert 'trainers' not in sys.modules;"
        "print(out['summary'].numpy()[0].decode()); print(greedy['summary'].numpy()[0].decode())"
    )
    served = subprocess.run(
        [sys.executable, "-c", probe, str(version), TEXT], cwd="/", capture_output=True, text=True, timeout=120
    )
    assert served.returncode == 0, served.stderr[-2000:]
    beam_line, greedy_line = served.stdout.strip().splitlines()[-2:]
    for line in (beam_line, greedy_line):
        assert "qwertyco" in line.split() and "4321" in line.split(), served.stdout


@pytest.mark.slow
def test_copying_summarizer_trains_under_mirrored_strategy_on_two_logical_cpus(tmp_path):
    values = {
        "modelType": "seq2seq-attention",
        "copyMechanism": "true",
        "trainData": str(TRAIN),
        "evalData": str(EVAL),
        "hiddenSize": "16",
        "embeddingDim": "16",
        "evalSamples": "16",
        "trainSteps": "20",
        "batchSize": "32",
        "modelDir": str(tmp_path),
    }
    result = run_trainer(values, env={"TEXTJOBS_CPU_REPLICAS": "2"}, tiny=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replica(s) on 1 worker(s)" in result.stdout
    [row] = read_metrics(tmp_path)["history"]
    assert row["step"] == 20 and np.isfinite(row["loss"]) and row["val_rougeL"] >= 0.0
