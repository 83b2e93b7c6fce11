"""The exported classifier: raw strings in, class scores and labels out; and the `predict` and
`evaluate` commands that call it exactly as a server would.

Tokenization runs inside the graph (the training Vectorizer), so a client sends text.
`labels.json` beside `saved_model.pb` holds the label map and the decision threshold.
"""

from __future__ import annotations

import json
from pathlib import Path

import tensorflow as tf

from trainers.tasks.classify import lines, metrics

LABELS_FILE = "labels.json"
EVAL_BATCH = 512


class ServingModule(tf.Module):
    def __init__(self, model, vectorizer, labels: list[str], multi_label: bool, threshold: float):
        super().__init__(name="textjobs_serving")
        self.model = model
        self.vectorizer = vectorizer
        self.label_names = tf.constant(labels)
        self.multi_label = multi_label
        self.threshold = threshold

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        scores = tf.cast(self.model(self.vectorizer(text), training=False), tf.float32)
        classes = tf.tile(self.label_names[tf.newaxis], [tf.shape(scores)[0], 1])
        if self.multi_label:
            chosen = tf.ragged.boolean_mask(classes, scores >= self.threshold)
            labels = tf.strings.reduce_join(chosen, axis=-1, separator=",")
        else:
            labels = tf.gather(self.label_names, tf.argmax(scores, axis=-1))
        return {"scores": scores, "classes": classes, "labels": labels}


class LiteScorer:
    """A .tflite classifier (runtime/lite/): tokenized here, outside the TFLite graph, with the
    run's vocabulary from textjobs-run.json; the model signature turns ids into scores."""

    def __init__(self, version_dir: Path):
        from trainers.runtime.lite.runner import open_version
        from trainers.runtime.rebuild import key_value, read_run_file
        from trainers.tasks.classify.keys import KEYS
        from trainers.tasks.classify.text import Vectorizer

        found = read_run_file(version_dir)
        self.vectorizer = Vectorizer(found["assets"]["vocabulary"], key_value(found["config"], KEYS, "maxLength"))
        # The training Vectorizer's ops, compiled once: eager ops would cost more than the model.
        self.tokenize = tf.function(self.vectorizer, input_signature=[tf.TensorSpec([None], tf.string)])
        self.model = open_version(version_dir)

    def __call__(self, texts: list[str]):
        ids = self.tokenize(tf.constant(texts)).numpy()
        return next(iter(self.model("model", token_ids=ids).values()))


def _lite_outputs(version_dir: Path, texts: list[str]) -> dict:
    """The serving signature's outputs, computed around a .tflite model."""
    import numpy as np

    exported = json.loads((version_dir / LABELS_FILE).read_text())
    scores = LiteScorer(version_dir)(texts)
    names = np.array(exported["labels"], dtype=object)
    classes = np.tile(names.astype(bytes), (len(texts), 1))
    if exported["multi_label"]:
        labels = [",".join(names[row >= exported["threshold"]]).encode() for row in scores]
    else:
        labels = [names[i].encode() for i in np.argmax(scores, axis=-1)]
    return {"scores": scores, "classes": classes, "labels": np.array(labels, dtype=object)}


def _outputs(version_dir: Path, info: dict, texts: list[str]) -> dict:
    if info.get("artifact") == "tflite":
        return _lite_outputs(version_dir, texts)
    serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    return {k: v.numpy() for k, v in serve(text=tf.constant(texts)).items()}


def predictor(version_dir: Path, info: dict):
    """Raw texts -> scores, for either artifact kind (what `optimize` times)."""
    if info.get("artifact") == "tflite":
        return LiteScorer(version_dir)
    serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    return lambda texts: serve(text=tf.constant(texts))["scores"].numpy()


def predict(version_dir: Path, texts: list[str], info: dict | None = None) -> list[dict]:
    out = _outputs(version_dir, info or {}, texts)
    results = []
    for i, text in enumerate(texts):
        classes = [c.decode() for c in out["classes"][i]]
        scores = out["scores"][i].tolist()
        ranked = sorted(zip(classes, scores, strict=True), key=lambda cs: -cs[1])
        labels = out["labels"][i].decode()
        results.append({"text": text, "labels": labels.split(",") if labels else [], "scores": dict(ranked)})
    return results


def format_predictions(results: list[dict]) -> str:
    rows = []
    for result in results:
        top = ", ".join(f"{label} {score:.3f}" for label, score in list(result["scores"].items())[:3])
        rows.append(f"{','.join(result['labels']) or '(none)'}\t{result['text']}\n    scores: {top}")
    return "\n".join(rows)


def score(version_dir: Path, data_file: Path, info: dict | None = None) -> dict[str, float]:
    """The trainer's epoch metrics for an export (SavedModel or .tflite) on a labelled file."""
    import numpy as np

    exported = json.loads((version_dir / LABELS_FILE).read_text())
    labels, multi_label = exported["labels"], exported["multi_label"]
    examples = lines.read_examples(data_file, multi_label, skip_bad_lines=False)
    lines.check_known_labels(examples, labels)
    scorer = predictor(version_dir, info or {})
    scores = np.concatenate([scorer(examples.texts[i : i + EVAL_BATCH]) for i in range(0, len(examples), EVAL_BATCH)])
    targets = metrics.multi_hot(examples, labels)
    return {"examples": len(examples), **metrics.evaluate(targets, scores, multi_label, exported["threshold"])}
