"""Every model really learns the bundled sample data, and its export serves raw text."""

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT, katib_metrics, predict, read_metrics, run_trainer

# Five balanced topics: chance is 0.2.
LEARNS = {"cnn": 0.8, "kimcnn": 0.8, "capsule-a": 0.6, "capsule-b": 0.6}
EPOCHS = {"cnn": "3", "kimcnn": "3", "capsule-a": "4", "capsule-b": "4"}


@pytest.mark.slow
@pytest.mark.parametrize("model_type", sorted(LEARNS))
def test_model_learns_sample_data_far_above_chance(model_type, tmp_path):
    result = run_trainer({"modelType": model_type, "numEpochs": EPOCHS[model_type], "modelDir": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-3000:]
    epochs = katib_metrics(result.stdout)
    assert [row["epoch"] for row in epochs] == list(range(1, int(EPOCHS[model_type]) + 1))
    assert epochs[-1]["val_accuracy"] >= LEARNS[model_type], epochs
    assert epochs[-1]["loss"] < epochs[0]["loss"]
    metrics = read_metrics(tmp_path)
    assert metrics["final"]["val_accuracy"] == pytest.approx(epochs[-1]["val_accuracy"], abs=1e-5)
    assert metrics["timing"]["examples_per_second"] > 0
    assert (tmp_path / "logs").glob("events.out.tfevents.*")


@pytest.mark.slow
def test_multi_label_capsule_reports_zhao_metrics_and_exports(tmp_path):
    result = run_trainer(
        {
            "modelType": "capsule-a",
            "multiLabel": "true",
            "numEpochs": "5",
            "modelDir": str(tmp_path),
            "learningRate": "0.01",
        }
    )
    assert result.returncode == 0, result.stderr[-3000:]
    last = katib_metrics(result.stdout)[-1]
    for name in ("val_exact_match", "val_precision", "val_recall", "val_f1"):
        assert name in last
    assert last["val_f1"] > 0.5, last
    labels = predict(tmp_path / "export", ["striker goal match team league bank loan interest stock market"])[0][
        "labels"
    ]
    assert set(labels) <= {"sports", "finance", "food", "tech", "weather"}


@pytest.mark.slow
def test_export_is_versioned_servable_and_labelled(tmp_path):
    result = run_trainer({"modelType": "kimcnn", "numEpochs": "3", "modelDir": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-3000:]
    versions = [p for p in (tmp_path / "export").iterdir()]
    assert len(versions) == 1 and versions[0].name.isdigit(), versions
    version = versions[0]
    assert (version / "saved_model.pb").exists() and (version / "variables").is_dir()
    labels = json.loads((version / "labels.json").read_text())
    assert labels["labels"] == ["finance", "food", "sports", "tech", "weather"]
    assert read_metrics(tmp_path)["export"] == str(version)
    texts = ["the striker scored a late goal for the team", "heavy rain and thunder in the forecast"]
    rows = predict(tmp_path / "export", texts)
    assert [row["labels"] for row in rows] == [["sports"], ["weather"]]
    assert sum(rows[0]["scores"].values()) == pytest.approx(1.0, abs=1e-4)


def test_bad_configuration_stops_before_training(tmp_path):
    result = run_trainer({"modelType": "bogus-net", "modelDir": str(tmp_path)})
    assert result.returncode == 2
    assert "modelType='bogus-net' unknown model type" in result.stderr
    assert not (tmp_path / "checkpoints").exists()


def test_unknown_flag_is_rejected(tmp_path):
    result = run_trainer({"learningrate": "0.1", "modelDir": str(tmp_path)})
    assert result.returncode == 2
    assert "learningrate" in result.stderr


def test_malformed_data_line_fails_naming_file_and_line(tmp_path):
    data = tmp_path / "bad.tsv"
    data.write_text("pos\tgood\nneg bad without tab\n")
    result = run_trainer({"trainData": str(data), "evalData": str(data), "modelDir": str(tmp_path / "run")})
    assert result.returncode == 2
    assert f"{data}:2: expected '<label><TAB><text>'" in result.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_train_help_lists_every_key():
    from trainers.runtime.keys import KEYS
    from trainers.tasks import registry

    result = subprocess.run(
        [sys.executable, "-m", "trainers", "train", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0
    for key in [*KEYS, *(k for task in registry().tasks for k in task.keys)]:
        assert f"--{key}" in result.stdout


@pytest.mark.slow
def test_mixed_precision_and_xla_paths_train(tmp_path):
    """float16 compute with loss scaling (meant for GPUs; CPU runs it too, slowly) and XLA on a CNN."""
    result = run_trainer(
        {"modelType": "kimcnn", "trainSteps": "30", "mixedPrecision": "true", "xla": "true", "modelDir": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    last = katib_metrics(result.stdout)[-1]
    assert last["loss"] == last["loss"] and last["val_accuracy"] > 0.3  # finite, and learning
    assert predict(tmp_path / "export", ["the striker scored a late goal for the team"])[0]["labels"]
