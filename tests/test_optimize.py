"""`python -m trainers optimize`: every quantized artifact loads and answers from the task's raw
input through `predict` and `evaluate`; the report is written and printed; the converter's traps
(a .tflite without weights, int8 on a while loop) are refused naming the model and the reason."""

import json

import pytest

from tests.helpers import predict, run_trainer, trainers_cli
from trainers.runtime.versions import complete_versions

CLASSIFY = {"modelType": "kimcnn", "numEpochs": "1", "embeddingDim": "16", "numFilters": "8", "maxLength": "24"}
SUMMARIZE = {
    "modelType": "seq2seq-attention",
    "trainSteps": "20",
    "hiddenSize": "16",
    "embeddingDim": "16",
    "evalSamples": "8",
    "maxSourceLength": "20",
    "maxTargetLength": "8",
}


def _export(tmp_path_factory, name, values, tiny=True):
    model_dir = tmp_path_factory.mktemp(name) / "run"
    result = run_trainer({**values, "modelDir": str(model_dir)}, tiny=tiny)
    assert result.returncode == 0, result.stderr[-2000:]
    return model_dir / "export" / complete_versions(model_dir / "export")[-1]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return _export(tmp_path_factory, "classifier", CLASSIFY)


def _eval_file(tmp_path, source, count):
    lines = [line for line in source.read_text().splitlines() if line and not line.startswith("#")][:count]
    path = tmp_path / "small.eval.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_classifier_quantized_artifacts_predict_evaluate_and_report(classifier, tmp_path):
    from tests.crash import SAMPLES

    data = _eval_file(tmp_path, SAMPLES / "topics.eval.tsv", 60)
    out = tmp_path / "optimized"
    args = ["--model", str(classifier), "--out", str(out), "--quantize", "dynamic,float16,int8"]
    result = trainers_cli("optimize", *args, "--data", str(data), "--latency-runs", "5")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| int8 |" in result.stdout and "| saved_model |" in result.stdout  # printed at the end
    report = json.loads((out / "report.json").read_text())
    rows = {row["artifact"]: row for row in report["artifacts"]}
    assert list(rows) == ["saved_model", "float", "dynamic", "float16", "int8"]
    assert (out / "report.md").exists() and (out / "report.png").stat().st_size > 0
    assert rows["float"]["quality_change"] == pytest.approx(0.0, abs=1e-9)  # float TFLite answers as the SavedModel
    for mode in ("float", "dynamic", "float16", "int8"):
        info = json.loads((out / mode / "textjobs.json").read_text())
        assert (info["artifact"], info["quantization"], info["task"]) == ("tflite", mode, "classify")
        assert rows[mode]["bytes"] > 0 and rows[mode]["latency_p50_ms"] > 0 and rows[mode]["throughput_batch32"] > 0
        assert abs(rows[mode]["quality_change"]) < 0.1
        answer = predict(out / mode, ["the striker scored a late goal"])
        assert answer[0]["labels"] and len(answer[0]["scores"]) == 5
        scored = trainers_cli("evaluate", "--json", "--model", str(out / mode), "--data", str(data))
        assert scored.returncode == 0, scored.stderr[-2000:]
        assert json.loads(scored.stdout)["accuracy"] == pytest.approx(rows[mode]["quality"])
    assert rows["int8"]["gzip_bytes"] < rows["float"]["gzip_bytes"]
    # The float .tflite and the SavedModel give the same scores for the same raw text.
    assert predict(out / "float", ["rain and snow"])[0]["scores"] == pytest.approx(
        predict(classifier, ["rain and snow"])[0]["scores"], abs=1e-5
    )


@pytest.mark.slow
def test_summarizer_tflite_decodes_raw_text_like_the_saved_model(tmp_path_factory, tmp_path):
    from trainers.tasks.summarize.task import SAMPLE_DIR

    export = _export(tmp_path_factory, "summarizer", SUMMARIZE, tiny=False)
    data = _eval_file(tmp_path, SAMPLE_DIR / "headlines.eval.tsv", 6)
    out = tmp_path / "optimized"
    args = ["--model", str(export), "--out", str(out), "--quantize", "dynamic,int8", "--data", str(data)]
    result = trainers_cli("optimize", *args, "--latency-runs", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["artifact"]: row for row in json.loads((out / "report.json").read_text())["artifacts"]}
    assert list(rows) == ["saved_model", "float", "dynamic", "int8"]
    texts = [line.split("\t")[0] for line in data.read_text().splitlines()[:3]]
    reference = [r["summary"] for r in predict(export, texts)]
    # The float .tflite runs the same encoder, steps and beam search: the same summaries.
    assert [r["summary"] for r in predict(out / "float", texts)] == reference
    for mode in ("dynamic", "int8"):
        assert len(predict(out / mode, texts)) == 3


def test_a_tflite_without_weights_is_detected(classifier):
    """The trap itself: converting the export's SavedModel directly leaves the weights behind."""
    import tensorflow as tf

    from trainers.runtime.lite.convert import ConversionError, check_weights

    content = tf.lite.TFLiteConverter.from_saved_model(str(classifier), signature_keys=["model"]).convert()
    with pytest.raises(ConversionError, match="kimcnn: the float .tflite holds no weights: it reads variables"):
        check_weights("kimcnn", content, 4000, "float")


def test_too_few_weight_bytes_are_detected():
    import keras
    import tensorflow as tf

    from trainers.runtime.lite.convert import ConversionError, check_weights, convert

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    spec = tf.TensorSpec([None, 4], tf.float32, name="x")
    content = convert("tiny", model, {"model": tf.function(lambda x: {"y": model(x)}, input_signature=[spec])}, "float")
    check_weights("tiny", content, model.count_params(), "float")
    with pytest.raises(ConversionError, match="less than its 1,000,000 weights take"):
        check_weights("tiny", content, 1_000_000, "float")


def test_int8_is_refused_for_a_while_loop():
    from trainers.runtime.lite.convert import ConversionError, check_int8

    with pytest.raises(ConversionError, match="gru: int8 refused: the model runs a while loop"):
        check_int8("gru", {"WHILE", "FULLY_CONNECTED"})


@pytest.mark.slow
def test_int8_without_data_and_a_used_out_directory_are_refused(classifier, tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "mine.txt").write_text("a user's file")
    result = trainers_cli("optimize", "--model", str(classifier), "--out", str(used))
    assert result.returncode != 0 and "is not an empty directory" in result.stderr
    assert (used / "mine.txt").read_text() == "a user's file"
    result = trainers_cli("optimize", "--model", str(classifier), "--out", str(tmp_path / "new"), "--quantize", "int8")
    assert result.returncode != 0
    assert "int8 calibrates on representative data: give --data" in result.stderr


@pytest.mark.slow
def test_optimize_quantize_runs_after_the_export_once(tmp_path):
    from tests.crash import SAMPLES

    data = _eval_file(tmp_path, SAMPLES / "topics.eval.tsv", 40)
    values = {**CLASSIFY, "evalData": str(data), "optimizeQuantize": "dynamic", "modelDir": str(tmp_path / "run")}
    result = run_trainer(values)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "run" / "optimized" / "report.json").read_text())
    assert [r["artifact"] for r in report["artifacts"]] == ["saved_model", "float", "dynamic"]
    assert "dynamic_gzip_bytes=" in result.stdout and "dynamic_quality=" in result.stdout  # for Katib
    again = run_trainer(values)  # a restart of the finished run: the report is there, nothing redone
    assert again.returncode == 0 and "optimized the export" not in again.stdout
    assert json.loads((tmp_path / "run" / "optimized" / "report.json").read_text()) == report


def test_the_summarizers_unrolled_encoder_is_the_same_function():
    """What optimize converts: each GRU's loop written out, padded steps keeping the state. (Keras'
    own `unroll=True` with a mask gave other values at real positions: a float .tflite lost 10
    points of ROUGE-L before this.)"""
    import numpy as np
    import tensorflow as tf

    from trainers.tasks.summarize.model import Seq2SeqAttention
    from trainers.tasks.summarize.run import unrolled_encode

    model = Seq2SeqAttention(50, 40, 8, 8, encoder_layers=2, dropout=0.0)
    ids = np.random.default_rng(0).integers(2, 50, (3, 12))
    ids[0, 7:], ids[1, 2:] = 0, 0  # right padding, as the vocabulary pads
    ids = tf.constant(ids, tf.int64)
    model((ids, tf.zeros([3, 5], tf.int64)))
    for expected, found in zip(model.encode(ids), unrolled_encode(model, ids), strict=True):
        np.testing.assert_allclose(np.asarray(expected, np.float32), np.asarray(found, np.float32), atol=1e-6)
