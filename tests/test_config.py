import subprocess
import sys

import pytest

from tests.helpers import ROOT, trainer_env
from trainers.runtime import config, keyset
from trainers.runtime.config import ConfigError
from trainers.runtime.keys import KEYS as RUNTIME_KEYS
from trainers.tasks import registry


def load(flags, environ):
    return keyset.load(flags, environ, registry())


def check_configmap_data(data, source):
    return keyset.check_configmap_data(data, source, registry())


def test_defaults_give_a_complete_local_run():
    cfg = load({}, {})
    assert cfg.model_type == "capsule-b"
    assert cfg.model_dir == "runs/local"
    assert cfg.export_dir == "runs/local/export"
    assert cfg.train_data.endswith("topics.train.tsv") and cfg.eval_data.endswith("topics.eval.tsv")
    assert cfg.ngram_sizes == (3, 4, 5)


def test_flags_beat_environment_which_beats_defaults():
    cfg = load({"learningRate": "0.5"}, {"learningRate": "0.1", "batchSize": "64", "PATH": "/bin"})
    assert cfg.learning_rate == 0.5
    assert cfg.batch_size == 64
    assert cfg.sources["learningRate"] == "command line"
    assert cfg.sources["batchSize"] == "environment"


def test_bucket_sets_gcs_defaults():
    cfg = load({}, {"bucket": "gs://my-bucket", "runName": "exp-1"})
    assert cfg.model_dir == "gs://my-bucket/runs/exp-1"
    assert cfg.export_dir == "gs://my-bucket/runs/exp-1/export"


def test_multi_label_defaults_to_the_multi_label_sample():
    assert "multilabel" in load({}, {"multiLabel": "true"}).train_data


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"modelType": "lstm"}, "modelType='lstm' unknown model type"),
        ({"learningRate": "-0.1"}, "learningRate='-0.1' must be in (0, 10]"),
        ({"learningRate": "0"}, "learningRate='0' must be in (0, 10]"),
        ({"batchSize": "0"}, "batchSize='0' must be between 1 and 65536"),
        ({"batchSize": "100000000"}, "batchSize='100000000' must be between 1 and 65536"),
        ({"seed": "-1"}, "seed='-1' must be between 0 and 2147483647"),
        ({"seed": "4294967296"}, "seed='4294967296' must be between 0 and 2147483647"),
        ({"vocabSize": "2"}, "vocabSize='2' must be between 3 and 10000000"),
        ({"maxLength": "1000000"}, "maxLength='1000000' must be between 1 and 10000"),
        ({"embeddingDim": "0"}, "embeddingDim='0' must be between 1 and 4096"),
        (
            {"vocabSize": "9000000", "embeddingDim": "4096"},
            "vocabSize=9000000 x embeddingDim=4096 is an embedding table",
        ),
        ({"routingIterations": "1000"}, "routingIterations='1000' must be between 1 and 20"),
        ({"peerTimeoutSeconds": "0"}, "peerTimeoutSeconds='0' must be between 1 and 86400"),
        ({"batchSize": "32.5"}, "batchSize='32.5' is not an integer"),
        ({"learningRate": "1e-3x"}, "learningRate='1e-3x' is not a number"),
        ({"learningRate": "nan"}, "learningRate='nan' is not a finite number"),
        ({"multiLabel": "maybe"}, "multiLabel='maybe' is not a boolean"),
        ({"dropout": "1.5"}, "dropout='1.5' must be in [0, 1)"),
        ({"runName": "Bad_Name"}, "runName='Bad_Name' must be lower-case DNS-1035"),
        ({"bucket": "gs://UPPER"}, "bucket='gs://UPPER' is not a valid bucket name"),
        ({"ngramSizes": "3,x"}, "ngramSizes='3,x' must be comma-separated integers"),
        ({"maxLength": "6"}, "maxLength=6 is too short for capsule-b"),
        ({"marginNegative": "0.95"}, "marginNegative='0.95' must be below marginPositive"),
    ],
)
def test_bad_values_name_key_value_and_source(values, expected):
    with pytest.raises(ConfigError) as info:
        check_configmap_data(values, "overlays/x ConfigMap")
    assert expected in str(info.value)
    assert str(info.value).startswith("overlays/x ConfigMap")


def test_typo_key_is_rejected_with_a_suggestion():
    with pytest.raises(ConfigError, match=r"unknown configuration key 'learningrate'; did you mean 'learningRate'"):
        check_configmap_data({"learningrate": "0.1"}, "cm")


def test_config_like_environment_variable_typo_fails_the_run():
    with pytest.raises(ConfigError, match="environment: unknown configuration key 'numEpoch'"):
        load({}, {"numEpoch": "3", "HOME": "/root", "http_proxy": "x"})


def test_non_string_configmap_value_is_reported():
    with pytest.raises(ConfigError, match="batchSize=32 must be a string"):
        check_configmap_data({"batchSize": 32}, "cm")


def test_every_runtime_and_task_key_is_a_value_of_the_config():
    for task in registry().tasks:
        cfg = load({"modelType": task.model_types[0]}, {})
        assert {config.snake(k) for k in [*RUNTIME_KEYS, *task.keys]} == set(cfg.as_dict())
        assert cfg.task_name == task.name


def test_check_config_cli_runs_without_tensorflow(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {modelType: kimcnn}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: ConfigMap\nmetadata: {name: b}\ndata: {learningRate: '-1'}\n")
    probe = (
        "import sys; from trainers.__main__ import run; code = run(sys.argv[1:]);"
        "assert 'tensorflow' not in sys.modules, 'check-config imported tensorflow'; sys.exit(code)"
    )
    ok = subprocess.run(
        [sys.executable, "-c", probe, "check-config", str(good)], cwd=ROOT, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert "ok:" in ok.stdout and "kimcnn" in ok.stdout
    failed = subprocess.run(
        [sys.executable, "-c", probe, "check-config", str(bad)], cwd=ROOT, capture_output=True, text=True
    )
    assert failed.returncode == 2
    assert "ConfigMap b: learningRate='-1' must be in (0, 10]" in failed.stderr


def test_xla_auto_follows_the_model_type_and_can_be_forced():
    assert load({}, {"modelType": "capsule-a"}).xla is True
    assert load({}, {"modelType": "kimcnn"}).xla is False
    assert load({"xla": "false"}, {"modelType": "capsule-b"}).xla is False
    with pytest.raises(ConfigError, match="xla='sometimes' is not a boolean"):
        load({"xla": "sometimes"}, {})


def test_capsule_stride_enters_the_length_check():
    assert load({}, {"modelType": "capsule-a", "maxLength": "6", "capsuleStride": "1"}).capsule_stride == 1
    with pytest.raises(ConfigError, match="maxLength=6 is too short for capsule-a with 3-gram convolutions; use >= 7"):
        load({}, {"modelType": "capsule-a", "maxLength": "6"})


def test_a_runs_keys_are_the_runtimes_and_its_tasks_and_a_task_may_not_redefine_one():
    from types import SimpleNamespace

    known = keyset.for_task(registry().by_name("summarize"))
    assert list(known.keys)[: len(RUNTIME_KEYS)] == list(RUNTIME_KEYS)
    assert known.owners["batchSize"] == "runtime" and known.owners["beamWidth"] == "summarize"
    assert "maxLength" not in known.keys  # classify's
    bad = SimpleNamespace(name="bad", keys={"batchSize": RUNTIME_KEYS["batchSize"]})
    with pytest.raises(ValueError, match=r"task bad redefines runtime keys \['batchSize'\]"):
        keyset.for_task(bad)


# --- the trainer refuses what the policy refuses (issue 16): near-miss keys, file-reading flags ---


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--NumEpochs=2"], {}, "flag '--NumEpochs': key 'NumEpochs' is not 'numEpochs'"),
        (["--batch_size=8"], {}, "key 'batch_size' is not 'batchSize'"),
        ([], {"NUM_EPOCHS": "2"}, "environment: key 'NUM_EPOCHS' is not 'numEpochs'"),
        ([], {"learning\u200brate": "0.1"}, "is not 'learningRate'"),
        ([], {"learningRate ": "0.1"}, "is not 'learningRate'"),
        (["--undefok=numEpochs"], {}, "--undefok is refused"),
    ],
    ids=["flag-case", "flag-snake", "env-upper-snake", "env-zero-width", "env-trailing-space", "undefok"],
)
def test_a_key_in_all_but_form_stops_the_trainer_naming_the_key_meant(args, env, message):
    result = subprocess.run(
        [sys.executable, "-m", "trainers", "train", *args],
        cwd=ROOT,
        env=trainer_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_flagfile_is_refused_without_reading_the_file(tmp_path):
    secret = tmp_path / "key.json"
    secret.write_text('{"private_key": "-----BEGIN PRIVATE KEY-----MIIE"}\n')
    result = subprocess.run(
        [sys.executable, "-m", "trainers", "train", f"--flagfile={secret}"],
        cwd=ROOT,
        env=trainer_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "--flagfile is refused" in result.stderr
    assert "PRIVATE KEY" not in result.stdout + result.stderr
