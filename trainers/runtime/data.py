"""Training input pipeline: per-epoch, deterministic, resumable mid-epoch.

The task hands over its training examples as arrays (features, targets), one row per example,
and a function applied to each batch (a tokenizer, say). Epoch e shuffles with seed (seed + e),
so a restarted run can rebuild epoch e and skip the batches it already trained on: resume is
exact, not approximate. Each worker reads its own shard (`distribute_datasets_from_function`),
repeated, so no worker runs dry before the others and every worker takes exactly the same number
of steps (an uneven last step would deadlock MultiWorkerMirroredStrategy's collectives).
"""

from __future__ import annotations

import tensorflow as tf


def steps_per_epoch(num_examples: int, global_batch: int) -> int:
    return max(1, num_examples // global_batch)


def train_dataset_fn(arrays, batch_fn, num_examples: int, global_batch: int, seed: int, epoch: int, skip_steps: int):
    """A dataset function for `strategy.distribute_datasets_from_function`."""

    def make(context: tf.distribute.InputContext) -> tf.data.Dataset:
        per_replica = context.get_per_replica_batch_size(global_batch)
        local_replicas = context.num_replicas_in_sync // context.num_input_pipelines
        dataset = tf.data.Dataset.from_tensor_slices(arrays)
        dataset = dataset.shard(context.num_input_pipelines, context.input_pipeline_id)
        dataset = dataset.shuffle(num_examples, seed=seed + epoch, reshuffle_each_iteration=False)
        dataset = dataset.repeat().batch(per_replica, drop_remainder=True)
        if batch_fn is not None:
            dataset = dataset.map(batch_fn, num_parallel_calls=tf.data.AUTOTUNE)
        # Each step takes one batch per local replica; skip the steps already trained.
        dataset = dataset.skip(skip_steps * local_replicas)
        return dataset.prefetch(tf.data.AUTOTUNE)

    return make
