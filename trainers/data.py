"""Input pipelines: per-epoch, deterministic, resumable mid-epoch.

Epoch e shuffles with seed (seed + e), so a restarted run can rebuild epoch e and skip the
batches it already trained on: resume is exact, not approximate. Each worker reads its own shard
(`distribute_datasets_from_function`), repeated, so no worker runs dry before the others and
every worker takes exactly the same number of steps (an uneven last step would deadlock
MultiWorkerMirroredStrategy's collectives).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from trainers.lines import Examples


def multi_hot(examples: Examples, label_names: list[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(label_names)}
    targets = np.zeros((len(examples), len(label_names)), dtype=np.float32)
    for row, labels in enumerate(examples.labels):
        targets[row, [index[label] for label in labels]] = 1.0
    return targets


def steps_per_epoch(num_examples: int, global_batch: int) -> int:
    return max(1, num_examples // global_batch)


def train_dataset_fn(texts, targets, vectorizer, global_batch: int, seed: int, epoch: int, skip_steps: int):
    """A dataset function for `strategy.distribute_datasets_from_function`."""

    def make(context: tf.distribute.InputContext) -> tf.data.Dataset:
        per_replica = context.get_per_replica_batch_size(global_batch)
        local_replicas = context.num_replicas_in_sync // context.num_input_pipelines
        dataset = tf.data.Dataset.from_tensor_slices((texts, targets))
        dataset = dataset.shard(context.num_input_pipelines, context.input_pipeline_id)
        dataset = dataset.shuffle(len(texts), seed=seed + epoch, reshuffle_each_iteration=False)
        dataset = dataset.repeat().batch(per_replica, drop_remainder=True)
        dataset = dataset.map(lambda t, y: (vectorizer(t), y), num_parallel_calls=tf.data.AUTOTUNE)
        # Each step takes one batch per local replica; skip the steps already trained.
        dataset = dataset.skip(skip_steps * local_replicas)
        return dataset.prefetch(tf.data.AUTOTUNE)

    return make


def eval_dataset(texts, vectorizer, batch_size: int = 256) -> tf.data.Dataset:
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(batch_size)
    return dataset.map(vectorizer, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
