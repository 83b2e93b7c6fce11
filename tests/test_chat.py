"""The chat task end to end on the bundled synthetic dialogue: it learns the sample far above the
most-frequent-reply baseline; its export answers raw text in a process that has only TensorFlow,
with seeded sampling reproducible; `chat` answers each line and exits cleanly at end of input;
a SIGKILL with the run directory and data in S3 loses nothing; Chief + Worker train it."""

import json
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.buckets import started
from tests.helpers import ROOT, katib_metrics, read_metrics, run_trainer, trainer_env, trainers_cli
from tests.test_distributed import export_weights, run_pair
from trainers.runtime import storage
from trainers.tasks.chat.task import SAMPLE_DIR

TRAIN, EVAL = SAMPLE_DIR / "dialogue.train.tsv", SAMPLE_DIR / "dialogue.eval.tsv"
SMALL = {
    "modelType": "transformer",
    "layers": "1",
    "heads": "2",
    "modelDim": "32",
    "ffDim": "64",
    "batchSize": "64",
    "evalSamples": "64",
    "beamWidth": "2",
    "xla": "false",
}
LEARN = {  # overlays/chatbot's model: its fact lookups (a city's country) need modelDim 128
    **SMALL,
    "layers": "2",
    "heads": "4",
    "modelDim": "128",
    "ffDim": "256",
    "numEpochs": "4",
    "learningRate": "0.002",
    "learningRateSchedule": "warmup-rsqrt",
    "warmupSteps": "100",
    "gradientClipNorm": "1.0",
}


@pytest.mark.slow
def test_chat_learns_the_sample_and_serves_raw_text(tmp_path):
    result = run_trainer({**LEARN, "modelDir": str(tmp_path)}, tiny=False, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    epochs = katib_metrics(result.stdout)
    assert [row["epoch"] for row in epochs] == [1, 2, 3, 4]
    names = {"val_loss", "val_perplexity", "val_token_accuracy", "val_bleu", "val_distinct1", "val_distinct2"}
    assert names <= set(epochs[-1])
    assert epochs[-1]["val_perplexity"] < epochs[0]["val_perplexity"]
    assert " tokens/s " in result.stdout and read_metrics(tmp_path)["timing"]["tokens_per_second"] > 0

    scored = trainers_cli("evaluate", "--json", "--model", str(tmp_path / "export"), "--data", str(EVAL))
    assert scored.returncode == 0, scored.stderr[-2000:]
    scores = json.loads(scored.stdout)
    assert scores["perplexity"] < 2.0 and scores["token_accuracy"] > 0.85, scores
    assert scores["beam_bleu"] > scores["most_frequent_bleu"] + 40, scores
    assert scores["greedy_bleu"] > scores["most_frequent_bleu"] + 40, scores
    assert scores["beam_distinct2"] > scores["most_frequent_distinct2"], scores

    # A fresh process with TensorFlow alone (no trainers package) loads it and answers, and the
    # sample signature gives the same reply for the same seed.
    version = sorted((tmp_path / "export").iterdir())[-1]
    probe = (
        "import sys, tensorflow as tf; m = tf.saved_model.load(sys.argv[1]); t = tf.constant([sys.argv[2]]);"
        "print(m.signatures['serving_default'](text=t)['reply'].numpy()[0].decode());"
        "s = lambda seed: m.signatures['sample'](text=t, seed=tf.constant(seed, tf.int64),"
        " temperature=tf.constant(0.7))['reply'].numpy()[0].decode();"
        "assert s(5) == s(5); assert 'trainers' not in sys.modules; print(s(5))"
    )
    served = subprocess.run(
        [sys.executable, "-c", probe, str(version), "where is rome ?"],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert served.returncode == 0, served.stderr[-2000:]
    assert served.stdout.splitlines()[0] == "rome is in italy .", served.stdout

    predicted = trainers_cli("predict", "--model", str(tmp_path / "export"), "hello , i am nora")
    assert predicted.returncode == 0 and "nice to meet you nora" in predicted.stdout, predicted.stdout

    talk = subprocess.run(
        [sys.executable, "-m", "trainers", "chat", "--model", str(tmp_path / "export")],
        input="what does a cow say ?\n\nbye otto\n",  # a blank line gets no reply; EOF ends
        cwd=ROOT,
        env=trainer_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert talk.returncode == 0, talk.stderr[-2000:]
    assert talk.stdout.splitlines() == ["a cow says moo .", "goodbye otto , talk to you soon ."], talk.stdout

    # Ctrl-C (SIGINT) at the prompt ends the session cleanly, as end of input does.
    session = subprocess.Popen(
        [sys.executable, "-m", "trainers", "chat", "--model", str(tmp_path / "export")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=trainer_env(),
        text=True,
    )
    try:
        session.stdin.write("how are you ?\n")
        session.stdin.flush()
        assert session.stdout.readline() == "i am fine , thanks for asking .\n"
        session.send_signal(signal.SIGINT)
        assert session.wait(60) == 0
        assert "Traceback" not in session.stderr.read()
    finally:
        session.kill()


def test_chat_command_is_listed_and_refuses_a_missing_export(tmp_path):
    listed = trainers_cli("--help")
    assert "chat" in listed.stdout and "(task chat)" in listed.stdout
    missing = trainers_cli("chat", "--model", str(tmp_path / "nothing"))
    assert missing.returncode != 0 and "Traceback" not in missing.stderr, missing.stderr


def test_bundled_chat_sample_is_what_the_generator_writes(tmp_path):
    from trainers.tasks.chat.tools import sample_data

    sample_data.main(["--out", str(tmp_path)])
    names = sorted(p.name for p in SAMPLE_DIR.glob("*.tsv"))
    assert names == ["dialogue.eval.tsv", "dialogue.train.tsv"]
    for name in names:
        assert (tmp_path / name).read_bytes() == (SAMPLE_DIR / name).read_bytes(), name


def test_bad_pairs_name_file_and_line(tmp_path):
    data = tmp_path / "d.train.tsv"
    data.write_text("hello\thi\nno tab here\n")
    result = run_trainer({**SMALL, "trainData": str(data), "modelDir": str(tmp_path / "run")}, tiny=False)
    assert result.returncode == 2, result.stderr[-1500:]
    assert f"{data}:2" in result.stderr and "<context><TAB><response>" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_chat_resumes_exactly_after_sigkill_with_data_and_run_in_s3(tmp_path):
    values = {**SMALL, "numEpochs": "2", "checkpointEvery": "20", "dropout": "0.3", "labelSmoothing": "0.1"}
    reference = run_trainer({**values, "modelDir": str(tmp_path / "reference")}, tiny=False)
    assert reference.returncode == 0, reference.stderr[-2000:]
    with started("s3", tmp_path / "store") as store:
        root = store.bucket("chat")
        storage.upload_file(TRAIN, storage.join(root, "data", "dialogue.train.tsv"))
        storage.upload_file(EVAL, storage.join(root, "data", "dialogue.eval.tsv"))
        run = {
            **values,
            "trainData": storage.join(root, "data", "dialogue.train.tsv"),
            "modelDir": storage.join(root, "runs", "chat"),
            "scratchDir": str(tmp_path / "scratch"),
        }
        killed = run_trainer(run, env={**store.env(), "TEXTJOBS_FAULT": "step.done:55"}, tiny=False)
        assert killed.returncode == -9, killed.stderr[-2000:]
        resumed = run_trainer({**run, "scratchDir": str(tmp_path / "new-pod")}, env=store.env(), tiny=False)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert "resumed from" in resumed.stdout and "at step 46 " in resumed.stdout, resumed.stdout[-2000:]
        copy = storage.download_tree(storage.join(root, "runs", "chat"), tmp_path / "copy")
    ours, theirs = read_metrics(copy)["history"], read_metrics(tmp_path / "reference")["history"]
    assert [r["epoch"] for r in ours] == [1, 2]
    for mine, expected in zip(ours, theirs, strict=True):
        assert mine == pytest.approx(expected, rel=1e-6)

    def final(model_dir):
        reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(model_dir / "checkpoints")))
        return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map() if n.startswith("model_weights/")}

    a, b = final(copy), final(tmp_path / "reference")
    assert a.keys() == b.keys() and a
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.slow
def test_chat_trains_as_chief_and_worker(tmp_path):
    values = {**SMALL, "trainSteps": "30", "batchSize": "32", "modelDir": str(tmp_path / "run")}
    chief, worker, log = run_pair(values, tmp_path)
    assert (chief, worker) == (0, 0), log
    assert "2 replica(s) on 2 worker(s)" in log
    chief_export = sorted((tmp_path / "run" / "export").iterdir())[-1]
    worker_export = next((tmp_path / "scratch-worker").rglob("worker-export/*"))
    a, b = export_weights(chief_export), export_weights(worker_export)
    assert a.keys() == b.keys() and a
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
