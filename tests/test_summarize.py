"""The summarizer end to end, on the bundled synthetic sample: it learns far above the lead
baseline, its export answers raw text in a process that has only TensorFlow, a SIGKILL loses
nothing, and Chief + Worker train it on loopback."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import katib_metrics, read_metrics, run_trainer, trainers_cli
from tests.test_distributed import export_weights, run_pair
from trainers.tasks.summarize.task import SAMPLE_DIR

EVAL = SAMPLE_DIR / "headlines.eval.tsv"
TEXT = "the board will meet again next month . acme said its profits rose 12 pct in the third quarter ."
SMALL = {"modelType": "seq2seq-attention", "hiddenSize": "48", "embeddingDim": "32", "evalSamples": "64"}


@pytest.mark.slow
def test_summarizer_learns_the_sample_far_above_lead_and_serves_raw_text(tmp_path):
    values = {**SMALL, "numEpochs": "6", "learningRate": "0.004", "modelDir": str(tmp_path)}
    result = run_trainer(values, tiny=False)
    assert result.returncode == 0, result.stderr[-3000:]
    epochs = katib_metrics(result.stdout)
    assert [row["epoch"] for row in epochs] == [1, 2, 3, 4, 5, 6]
    assert {"val_rouge1", "val_rouge2", "val_rougeL", "val_token_accuracy", "val_loss"} <= set(epochs[-1])
    assert " tokens/s " in result.stdout and read_metrics(tmp_path)["timing"]["tokens_per_second"] > 0

    scored = trainers_cli("evaluate", "--json", "--model", str(tmp_path / "export"), "--data", str(EVAL))
    assert scored.returncode == 0, scored.stderr[-2000:]
    scores = json.loads(scored.stdout)
    best_lead = max(scores[f"lead{n}_rougeL"] for n in (8, 10, 12))
    assert scores["beam_rougeL"] > best_lead + 0.4, scores
    assert scores["beam_rouge2"] > 0.3 and scores["greedy_rougeL"] > best_lead + 0.4, scores

    # A fresh process with TensorFlow alone (no trainers package, no tensorflow-text) loads it.
    version = sorted((tmp_path / "export").iterdir())[-1]
    probe = (
        "import sys, tensorflow as tf; m = tf.saved_model.load(sys.argv[1]);"
        "out = m.signatures['serving_default'](text=tf.constant([sys.argv[2]]));"
        "assert 'trainers' not in sys.modules; print(out['summary'].numpy()[0].decode())"
    )
    served = subprocess.run(
        [sys.executable, "-c", probe, str(version), TEXT], cwd="/", capture_output=True, text=True, timeout=120
    )
    assert served.returncode == 0, served.stderr[-2000:]
    assert "acme" in served.stdout and "12" in served.stdout, served.stdout
    predicted = trainers_cli("predict", "--model", str(tmp_path / "export"), TEXT)
    assert predicted.returncode == 0 and "acme" in predicted.stdout


@pytest.mark.slow
def test_summarizer_resumes_exactly_after_sigkill(tmp_path):
    values = {**SMALL, "numEpochs": "2", "checkpointEvery": "20", "dropout": "0.3"}
    reference = run_trainer({**values, "modelDir": str(tmp_path / "reference")}, tiny=False)
    assert reference.returncode == 0, reference.stderr[-2000:]
    killed = run_trainer(
        {**values, "modelDir": str(tmp_path / "run")}, env={"TEXTJOBS_FAULT": "step.done:70"}, tiny=False
    )
    assert killed.returncode == -9
    resumed = run_trainer({**values, "modelDir": str(tmp_path / "run")}, tiny=False)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "at step 62 " in resumed.stdout  # checkpoints at 20, 40, 62 (epoch end); killed after 70
    ours, theirs = read_metrics(tmp_path / "run")["history"], read_metrics(tmp_path / "reference")["history"]
    assert [r["epoch"] for r in ours] == [1, 2]
    for mine, expected in zip(ours, theirs, strict=True):
        assert mine == pytest.approx(expected, rel=1e-6)

    def final(model_dir):
        reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(model_dir / "checkpoints")))
        return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map() if n.startswith("model_weights/")}

    a, b = final(tmp_path / "run"), final(tmp_path / "reference")
    assert a.keys() == b.keys() and a
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.slow
def test_summarizer_trains_as_chief_and_worker(tmp_path):
    values = {**SMALL, "trainSteps": "40", "batchSize": "32", "modelDir": str(tmp_path / "run")}
    chief, worker, log = run_pair(values, tmp_path)
    assert (chief, worker) == (0, 0), log
    assert "2 replica(s) on 2 worker(s)" in log
    chief_export = sorted((tmp_path / "run" / "export").iterdir())[-1]
    worker_export = next((tmp_path / "scratch-worker").rglob("worker-export/*"))
    a, b = export_weights(chief_export), export_weights(worker_export)
    assert a.keys() == b.keys() and a
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.slow
def test_summarizer_trains_under_mirrored_strategy_on_two_logical_cpus(tmp_path):
    values = {**SMALL, "trainSteps": "30", "batchSize": "32", "modelDir": str(tmp_path)}
    result = run_trainer(values, env={"TEXTJOBS_CPU_REPLICAS": "2"}, tiny=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replica(s) on 1 worker(s)" in result.stdout
    [row] = read_metrics(tmp_path)["history"]
    assert row["step"] == 30 and np.isfinite(row["loss"]) and row["val_rougeL"] >= 0.0
