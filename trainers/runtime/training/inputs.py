"""Training input: what the runtime asks of a task's data, and the default adapter for arrays.

The runtime needs two things to train from any data: how many steps make a data epoch, and a
function that, for one input pipeline (`tf.distribute.InputContext`), a data epoch and a number of
steps already trained in it, returns a `tf.data.Dataset` of per-replica batches starting exactly
there. Epoch-seeded order plus skipping makes resume exact, not approximate. Each worker reads its
own shard, repeated, so no worker runs dry before the others and every worker takes exactly the
same number of steps (an uneven last step would deadlock MultiWorkerMirroredStrategy's
collectives).

`ArrayInput` is that contract for a task that hands over in-memory arrays, one row per example (the
classifiers, the summarizer); a task with a corpus that does not fit in memory, or examples
generated on the fly (word2vec pairs, sharded dialogue files), returns its own `TrainInput`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# (input context, data epoch, steps of that epoch already trained) -> dataset of per-replica batches
DatasetFn = Callable[[Any, int, int], Any]


@dataclass(frozen=True)
class TrainInput:
    steps_per_epoch: int
    dataset_fn: DatasetFn
    # For the start-up line and examples/s; None when a task cannot count its examples up front.
    examples_per_epoch: int | None = None

    def distributed_iterator(self, strategy, epoch: int, skip_steps: int):
        make = self.dataset_fn
        return iter(strategy.distribute_datasets_from_function(lambda context: make(context, epoch, skip_steps)))


def steps_per_epoch(num_examples: int, global_batch: int) -> int:
    return max(1, num_examples // global_batch)


def array_input(arrays, batch_fn, num_examples: int, global_batch: int, seed: int) -> TrainInput:
    """Arrays (features, targets), one row per example; `batch_fn` applied to each batch in
    tf.data (a tokenizer, say). Data epoch e shuffles with seed (seed + e)."""

    def make(context, epoch: int, skip_steps: int):
        import tensorflow as tf

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

    return TrainInput(steps_per_epoch(num_examples, global_batch), make, num_examples)
