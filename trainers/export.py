"""Export a servable SavedModel: raw strings in, class scores and labels out.

Tokenization runs inside the graph (the training Vectorizer), so a client sends text. The model
goes to `<exportDir>/<version>/` (a Unix timestamp, newest wins) as TF Serving and KServe expect,
with `labels.json` beside `saved_model.pb`. An export is never visible half-written: locally it is
written to a hidden temporary directory and renamed into place; in a bucket `saved_model.pb`, the
file a server needs to load a version, is uploaded last.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import tensorflow as tf

from trainers import storage

LABELS_FILE = "labels.json"


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


def _new_version_dir(root: Path) -> Path:
    version = int(time.time())
    while (root / str(version)).exists():
        version += 1
    return root / str(version)


def export(
    model,
    vectorizer,
    labels: list[str],
    multi_label: bool,
    threshold: float,
    local_root: Path,
    remote_root: str | None,
    metadata: dict,
) -> str:
    """Write a new version; returns its final location (local path or gs:// URI)."""
    local_root.mkdir(parents=True, exist_ok=True)
    final = _new_version_dir(local_root)
    staging = local_root / f".tmp-{final.name}"
    shutil.rmtree(staging, ignore_errors=True)
    module = ServingModule(model, vectorizer, labels, multi_label, threshold)
    tf.saved_model.save(module, str(staging), signatures={"serving_default": module.serve})
    (staging / LABELS_FILE).write_text(
        json.dumps({"labels": labels, "multi_label": multi_label, "threshold": threshold, **metadata}, indent=2)
    )
    staging.rename(final)
    if remote_root is None:
        return str(final)
    remote = storage.join(remote_root, final.name)
    storage.upload_tree(final, remote, last=("saved_model.pb",))
    return remote
