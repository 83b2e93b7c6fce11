"""The embeddings task end to end: word2vec trains on the bundled synthetic corpus and visibly
learns it, resumes exactly after a SIGKILL, exports vectors that the SavedModel's signatures, the
word2vec text file, `python -m trainers play` and the classifier all agree on."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import ROOT, run_trainer, trainer_env
from trainers.shared import wordvectors

pytestmark = pytest.mark.slow

BASE = {
    "numEpochs": "4",
    "embeddingDim": "24",
    "checkpointEvery": "100000",
    "logEvery": "1000",
    "gameGuesses": "3",
}


def train(model_dir, **values):
    result = run_trainer({**BASE, "modelDir": str(model_dir), **values}, tiny=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def history(model_dir) -> list[dict]:
    return json.loads((model_dir / "metrics.json").read_text())["history"]


def version(model_dir):
    (found,) = [p for p in (model_dir / "export").iterdir() if p.name.isdigit()]
    return found


@pytest.fixture(scope="module")
def skipgram(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("skipgram")
    train(model_dir, modelType="skipgram", minN="3", maxN="5", buckets="5000", numEpochs="5")
    return model_dir


@pytest.fixture(scope="module")
def cbow(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("cbow")
    train(model_dir, modelType="cbow", numEpochs="8")
    return model_dir


def test_cbow_learns_the_synthetic_topics(cbow):
    rows = history(cbow)
    last = rows[-1]
    # An untrained space ranks words at random: rho near 0, the game word almost never named.
    assert last["val_rho_similarity"] > 0.5, rows
    assert last["val_reference_accuracy"] >= 0.75, rows
    assert last["val_game_total"] > 0, rows
    assert last["val_rho_similarity"] > rows[0]["val_rho_similarity"]


def test_skipgram_with_subwords_learns_and_its_export_agrees_with_vectors_txt(skipgram):
    import tensorflow as tf

    assert history(skipgram)[-1]["val_rho_similarity"] > 0.3
    exported = version(skipgram)
    info = json.loads((exported / "embeddings.json").read_text())
    assert info["model_type"] == "skipgram" and info["subwords"] == {"minN": 3, "maxN": 5, "buckets": 5000}
    words, vectors = wordvectors.read_vectors(exported / "vectors.txt")
    loaded = tf.saved_model.load(str(exported))
    served = loaded.signatures["serving_default"](words=tf.constant(words[:5] + ["bankers", "zzzq"]))
    np.testing.assert_array_equal(served["vectors"].numpy()[:5], vectors[:5])
    assert served["known"].numpy().tolist() == [True] * 5 + [False, False]
    assert np.abs(served["vectors"].numpy()[5]).sum() > 0  # an unseen word gets its n-grams' vector

    nearest = loaded.signatures["nearest"](words=tf.constant(["bank"]), k=tf.constant(5))
    neighbours = [w.decode() for w in nearest["neighbours"].numpy()[0]]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit @ unit[words.index("bank")]
    scores[words.index("bank")] = -np.inf
    assert neighbours == [words[i] for i in np.argsort(-scores)[:5]]
    to_vectors = loaded.signatures["nearest_to_vectors"](vectors=tf.constant(vectors[:1]), k=tf.constant(3))
    assert to_vectors["neighbours"].numpy()[0][0].decode() == words[0]  # itself, when it is a point


def test_a_killed_run_resumes_to_the_same_vectors(tmp_path):
    values = {"modelType": "skipgram", "numEpochs": "2", "checkpointEvery": "25"}
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    train(straight, **values)
    first = run_trainer(
        {**BASE, **values, "modelDir": str(killed)}, env={"TEXTJOBS_FAULT": "step.done:140"}, tiny=False
    )
    assert first.returncode == -9, first.stdout[-2000:]
    train(killed, **values)
    a = (version(straight) / "vectors.txt").read_text()
    b = (version(killed) / "vectors.txt").read_text()
    assert a == b


def test_play_prints_self_play_cross_play_and_reference_tables(skipgram, cbow):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainers",
            "play",
            "--explainer",
            str(skipgram / "export"),
            "--guesser",
            str(cbow / "export"),
        ],
        cwd=ROOT,
        env=trainer_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    table = [line for line in lines if line.startswith("| ")]
    assert table[0].split("|")[1].strip() == "play"
    assert table[1].startswith("| self-play") and "skipgram:" in table[1] and "cbow:" in table[1]
    assert sum("cross-play" in line for line in table) == 1 and sum("same model" in line for line in table) == 2
    assert any(line.startswith("reference: accuracy@20 from the first 3") for line in lines)


def test_the_classifier_initialises_from_the_exported_vectors(cbow, tmp_path):
    """embeddingsFile takes the export's vectors.txt: frozen, the classifier's embedding rows are
    those vectors exactly."""
    import tensorflow as tf

    vectors_file = version(cbow) / "vectors.txt"
    words, vectors = wordvectors.read_vectors(vectors_file)
    model_dir = tmp_path / "classify"
    result = run_trainer(
        {
            "modelType": "cnn",
            "modelDir": str(model_dir),
            "numEpochs": "1",
            "embeddingDim": str(vectors.shape[1]),
            "embeddingsFile": str(vectors_file),
            "embeddingsTrainable": "false",
        }
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    found = [line for line in result.stdout.splitlines() if "vocabulary words found in" in line]
    assert found and not found[0].split("embeddings: ")[1].startswith("0/"), found
    vocabulary = json.loads((model_dir / "vocab.json").read_text())["vocabulary"]
    reader = tf.train.load_checkpoint(str(model_dir / "checkpoints"))
    shape = [len(vocabulary), vectors.shape[1]]
    tables = [
        reader.get_tensor(name)
        for name, found in tf.train.list_variables(str(model_dir / "checkpoints"))
        if found == shape
    ]
    assert tables, "no embedding table in the classifier's export"
    shared = [w for w in vocabulary[2:] if w in words]
    assert len(shared) >= 10
    for word in shared:
        np.testing.assert_array_equal(tables[0][vocabulary.index(word)], vectors[words.index(word)])
