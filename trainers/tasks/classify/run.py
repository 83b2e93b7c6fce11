"""One classification run, TensorFlow side: model, batches, loss, metrics, evaluation, export."""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

from trainers.runtime.task import TaskRun
from trainers.tasks.classify import losses, metrics
from trainers.tasks.classify.embeddings import load_embedding_matrix
from trainers.tasks.classify.models import LOSS_KIND, build_model
from trainers.tasks.classify.serving import LABELS_FILE, ServingModule
from trainers.tasks.classify.text import Vectorizer


class ClassifyRun(TaskRun):
    train_metric_names = ("accuracy",)

    def __init__(self, cfg, assets: dict, train, evaluation, ctx):
        self.cfg = cfg
        self.vocabulary, self.labels = assets["vocabulary"], assets["labels"]
        self.vectorizer = Vectorizer(self.vocabulary, cfg.max_length)
        self.train = train
        self.evaluation = evaluation
        self.loss = losses.per_example_loss(cfg, LOSS_KIND[cfg.model_type])
        self.embedding_weights = None
        if cfg.embeddings_file:
            self.embedding_weights, found = load_embedding_matrix(
                ctx.fetch(cfg.embeddings_file), self.vocabulary, cfg.embedding_dim, cfg.seed
            )
            ctx.say(f"embeddings: {found}/{len(self.vocabulary) - 2} vocabulary words found in {cfg.embeddings_file}")
        if evaluation is not None:
            self.eval_targets = metrics.multi_hot(evaluation, self.labels)
            batches = tf.data.Dataset.from_tensor_slices(evaluation.texts).batch(256)
            self.eval_batches = batches.map(self.vectorizer, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)

    def describe(self) -> str:
        return f"{len(self.labels)} labels"

    def build_model(self):
        return build_model(self.cfg, len(self.vocabulary), len(self.labels), self.embedding_weights)

    def train_arrays(self):
        return np.array(self.train.texts, dtype=object), metrics.multi_hot(self.train, self.labels)

    def batch_fn(self, texts, targets):
        return self.vectorizer(texts), targets

    def per_example_loss(self, targets, outputs):
        return self.loss(targets, outputs)

    def step_metrics(self, targets, scores):
        if self.cfg.multi_label:
            predicted = tf.cast(scores >= self.cfg.threshold, targets.dtype)
            hits = tf.reduce_all(predicted == targets, axis=-1)
        else:
            hits = tf.equal(tf.argmax(scores, -1), tf.argmax(targets, -1))
        return {"accuracy": (tf.reduce_sum(tf.cast(hits, tf.float32)), tf.cast(tf.shape(targets)[0], tf.float32))}

    def evaluate(self, model) -> dict[str, float]:
        if not hasattr(self, "_predict"):
            self._predict = tf.function(lambda ids: model(ids, training=False), reduce_retracing=True)
        scores = tf.concat([self._predict(ids) for ids in self.eval_batches], axis=0).numpy()
        found = metrics.evaluate(self.eval_targets, scores, self.cfg.multi_label, self.cfg.threshold)
        val_loss = float(np.mean(self.loss(self.eval_targets, scores)))
        return {"val_loss": val_loss, **{f"val_{k}": v for k, v in found.items()}}

    def serving_module(self, model):
        return ServingModule(model, self.vectorizer, self.labels, self.cfg.multi_label, self.cfg.threshold)

    def lite_calibration(self, model, data, count: int):
        for start in range(0, min(count, len(data)), 1):
            yield "model", {"token_ids": self.vectorizer(tf.constant(data.texts[start : start + 1])).numpy()}

    def export_files(self, info: dict) -> dict[str, str]:
        labels = {"labels": self.labels, "multi_label": self.cfg.multi_label, "threshold": self.cfg.threshold, **info}
        return {LABELS_FILE: json.dumps(labels, indent=2)}
