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


def predict(version_dir: Path, texts: list[str]) -> list[dict]:
    serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    out = serve(text=tf.constant(texts))
    results = []
    for i, text in enumerate(texts):
        classes = [c.decode() for c in out["classes"][i].numpy()]
        scores = out["scores"][i].numpy().tolist()
        ranked = sorted(zip(classes, scores, strict=True), key=lambda cs: -cs[1])
        labels = out["labels"][i].numpy().decode()
        results.append({"text": text, "labels": labels.split(",") if labels else [], "scores": dict(ranked)})
    return results


def format_predictions(results: list[dict]) -> str:
    rows = []
    for result in results:
        top = ", ".join(f"{label} {score:.3f}" for label, score in list(result["scores"].items())[:3])
        rows.append(f"{','.join(result['labels']) or '(none)'}\t{result['text']}\n    scores: {top}")
    return "\n".join(rows)


def score(version_dir: Path, data_file: Path) -> dict[str, float]:
    """The trainer's epoch metrics for an export on a labelled file."""
    import numpy as np

    exported = json.loads((version_dir / LABELS_FILE).read_text())
    labels, multi_label = exported["labels"], exported["multi_label"]
    examples = lines.read_examples(data_file, multi_label, skip_bad_lines=False)
    lines.check_known_labels(examples, labels)
    serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    scores = np.concatenate(
        [
            serve(text=tf.constant(examples.texts[i : i + EVAL_BATCH]))["scores"].numpy()
            for i in range(0, len(examples), EVAL_BATCH)
        ]
    )
    targets = metrics.multi_hot(examples, labels)
    return {"examples": len(examples), **metrics.evaluate(targets, scores, multi_label, exported["threshold"])}
