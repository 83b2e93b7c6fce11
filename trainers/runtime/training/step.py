"""The custom distributed training step.

Keras 3 `model.fit` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585), so the
runtime owns the step: `strategy.run` on each replica, the task's per-example loss divided by the
*global* batch size so that the all-reduced gradient is the gradient of the global mean, plus the
model's own losses (regularizers), scaled by 1/replicas for the same reason. The task adds its
running metrics as (sum, count) pairs, which are summed over every replica of every worker
together with the loss and the SIGTERM stop votes, in one all-reduce per step.

Gradient clipping by global norm (`gradientClipNorm`) must see the gradient of the whole global
batch, but Keras clips before it all-reduces, i.e. each replica's partial sum. So with clipping on,
the step all-reduces the gradients itself, clips them, and hands each replica 1/N of the clipped
sum, which the optimizer's own all-reduce adds back up (exact for N a power of two; one extra
all-reduce per step, paid only when clipping is on).
"""

from __future__ import annotations

import tensorflow as tf


class StepRunner:
    """Compiles one training step. Each call returns a float vector, summed over all replicas:
    [loss, stop votes, metric_1 sum, metric_1 count, metric_2 sum, ...] in `metric_names` order."""

    def __init__(
        self,
        strategy,
        model,
        optimizer,
        task_run,
        global_batch: int,
        stop_flag: tf.Variable,
        xla: bool = False,
        loss_scaling: bool = False,
        clip_norm: float = 0.0,
    ):
        self.strategy = strategy
        self.model = model
        self.optimizer = optimizer
        self.task_run = task_run
        self.metric_names = tuple(task_run.train_metric_names)
        self.global_batch = global_batch
        self.stop_flag = stop_flag
        self.loss_scaling = loss_scaling
        self.clip_norm = clip_norm
        # XLA compiles the forward and backward pass; the optimizer update stays outside because
        # it all-reduces gradients across replicas.
        self._gradients = tf.function(self._compute_gradients, jit_compile=xla)
        self.step = tf.function(self._step)

    def _metric_vector(self, targets, outputs) -> tf.Tensor:
        found = self.task_run.step_metrics(targets, outputs)
        if set(found) != set(self.metric_names):
            raise ValueError(f"step_metrics returned {sorted(found)}, train_metric_names says {self.metric_names}")
        pairs = [tf.cast(part, tf.float32) for name in self.metric_names for part in found[name]]
        return tf.stack(pairs) if pairs else tf.zeros([0])

    def _compute_gradients(self, features, targets):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            outputs = self.model(features, training=True)
            per_example = self.task_run.per_example_loss(targets, outputs)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch)
            if self.model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n([tf.cast(x, loss.dtype) for x in self.model.losses]))
            scaled = self.optimizer.scale_loss(loss) if self.loss_scaling else loss
        return loss, tape.gradient(scaled, variables), self._metric_vector(targets, outputs)

    def _clipped(self, gradients):
        context = tf.distribute.get_replica_context()
        present = [i for i, g in enumerate(gradients) if g is not None]  # None: a variable the loss skips
        # Sparse gradients (embeddings) become dense: the sum over replicas and the division need it.
        total = context.all_reduce(tf.distribute.ReduceOp.SUM, [tf.convert_to_tensor(gradients[i]) for i in present])
        # Loss-scaled gradients are `scale` times too large; clip them at `scale` times the norm.
        limit = self.clip_norm * (self.optimizer.dynamic_scale if self.loss_scaling else 1.0)
        clipped, _ = tf.clip_by_global_norm(total, limit)
        replicas = float(context.num_replicas_in_sync)
        result = list(gradients)
        for i, g in zip(present, clipped, strict=True):
            result[i] = g / tf.cast(replicas, g.dtype)
        return result

    def _replica_step(self, features, targets):
        loss, gradients, metric_vector = self._gradients(features, targets)
        if self.clip_norm > 0:
            gradients = self._clipped(gradients)
        self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables, strict=True))
        head = tf.stack([tf.cast(loss, tf.float32), tf.cast(self.stop_flag, tf.float32)])
        return tf.concat([head, metric_vector], axis=0)

    def _step(self, iterator):
        features, targets = next(iterator)
        per_replica = self.strategy.run(self._replica_step, args=(features, targets))
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
