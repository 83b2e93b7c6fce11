"""`initFrom`: a run starts from an export's weights and assets; an incompatible export is
refused before training with the difference named; the run's own checkpoints take over on resume."""

import json

import numpy as np
import pytest

from tests import crash
from tests.helpers import run_trainer
from trainers.runtime.errors import EXIT_PREEMPTED
from trainers.runtime.init_from import assets_difference

BASE = {**crash.RUN, "numEpochs": "1", "exportBest": "false", "dropout": "0"}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    work = tmp_path_factory.mktemp("init-from")
    data = crash.write_data(work / "data")
    result = run_trainer({**BASE, **data, "modelDir": str(work / "source")}, tiny=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return work, data


def _weights(model_dir):
    import tensorflow as tf

    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(model_dir / "checkpoints")))
    return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map() if n.startswith("model_weights/")}


def test_assets_difference_names_the_first_difference():
    assert assets_difference({"labels": ["a", "b"]}, {"labels": ["a", "b"]}) is None
    found = assets_difference({"vocabulary": ["<pad>", "x", "y"]}, {"vocabulary": ["<pad>", "x", "z", "w"]})
    assert found == "vocabulary: 3 vs 4 entries, first difference at position 2 ('y' vs 'z')"


@pytest.mark.slow
def test_fine_tuning_starts_from_the_exports_weights_and_assets(source, tmp_path):
    work, data = source
    # Learning rate ~0: one step leaves the weights where initFrom put them.
    values = {**BASE, **data, "trainSteps": "1", "learningRate": "1e-9", "modelDir": str(tmp_path / "tuned")}
    result = run_trainer({**values, "initFrom": str(work / "source" / "export")}, tiny=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"initialised from {work / 'source' / 'export'} (run local, step 12)" in result.stdout
    ours, theirs = _weights(tmp_path / "tuned"), _weights(work / "source")
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], atol=1e-6, err_msg=name)
    assets = [json.loads((d / "vocab.json").read_text()) for d in (tmp_path / "tuned", work / "source")]
    assert assets[0] == assets[1]
    # A run directory works as a source too (its newest export).
    again = run_trainer({**values, "modelDir": str(tmp_path / "again"), "initFrom": str(work / "source")}, tiny=False)
    assert again.returncode == 0 and "initialised from" in again.stdout


@pytest.mark.slow
def test_an_incompatible_export_is_refused_naming_the_difference(source, tmp_path):
    work, data = source
    export = str(work / "source" / "export")
    shapes = run_trainer(
        {**BASE, **data, "embeddingDim": "12", "modelDir": str(tmp_path / "a"), "initFrom": export}, tiny=False
    )
    assert shapes.returncode == 2
    assert "the weights do not fit this run's model" in shapes.stderr
    assert "weight 0 (embedding/embeddings) has shape (" in shapes.stderr  # the weight and both shapes
    assert ", 16) in the export, (" in shapes.stderr and ", 12) in the model" in shapes.stderr
    other_type = run_trainer(
        {**BASE, **data, "modelType": "kimcnn", "modelDir": str(tmp_path / "b"), "initFrom": export}, tiny=False
    )
    assert other_type.returncode == 2
    assert "an export of modelType 'cnn', this run is 'kimcnn'" in other_type.stderr
    assert not (tmp_path / "b").exists()  # refused before anything was written
    # Data with a label the export's model has no output for.
    bad = tmp_path / "bad.train.tsv"
    bad.write_text("astronomy\tthe telescope saw a comet\n" + (work / "data" / "crash.train.tsv").read_text())
    labels = run_trainer(
        {
            **BASE,
            "trainData": str(bad),
            "evalData": data["evalData"],
            "modelDir": str(tmp_path / "c"),
            "initFrom": export,
        },
        tiny=False,
    )
    assert labels.returncode == 2 and "astronomy" in labels.stderr
    missing = run_trainer(
        {**BASE, **data, "modelDir": str(tmp_path / "d"), "initFrom": str(tmp_path / "nowhere")}, tiny=False
    )
    assert missing.returncode == 2 and "no such file or directory" in missing.stderr


@pytest.mark.slow
def test_the_runs_own_checkpoint_takes_over_on_resume(source, tmp_path):
    work, data = source
    values = {
        **BASE,
        **data,
        "numEpochs": "2",
        "modelDir": str(tmp_path / "tuned"),
        "initFrom": str(work / "source" / "export"),
    }
    first = run_trainer(values, env={"TEXTJOBS_FAULT": "step.done:15:term"}, tiny=False)
    assert first.returncode == EXIT_PREEMPTED, first.stderr[-2000:]
    assert "initialised from" in first.stdout
    second = run_trainer(values, tiny=False)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resumed from" in second.stdout and "initialised from" not in second.stdout


def test_make_run_maps_a_bucket_init_from_to_the_local_run_of_that_job(tmp_path):
    from scripts.localrun import LocalRunError, local_init_from

    (tmp_path / "summarizer").mkdir()
    (tmp_path / "summarizer" / ".job").write_text("summarizer-train-r1\n")
    uri = "gs://textjobs-experiments/runs/summarizer-train-r1/export"
    assert local_init_from(uri, tmp_path) == str(tmp_path / "summarizer" / "export")
    with pytest.raises(LocalRunError, match="TFJob summarizer-train-r2, which has no local run directory"):
        local_init_from("gs://textjobs-experiments/runs/summarizer-train-r2/export", tmp_path)
    with pytest.raises(LocalRunError, match="outside runs/<job>/"):
        local_init_from("gs://textjobs-experiments/models/x", tmp_path)
