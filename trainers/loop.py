"""The custom distributed training loop.

Keras 3 `model.fit` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585), so the
runtime owns the step: `strategy.run` on each replica, the loss of each replica divided by the
*global* batch size so that the all-reduced gradient is the gradient of the global mean.
"""

from __future__ import annotations

import tensorflow as tf


class StepRunner:
    """Compiles one training step; each call returns [mean loss, correct predictions, stop votes]
    summed over all replicas of all workers."""

    def __init__(
        self,
        strategy,
        model,
        optimizer,
        loss_fn,
        global_batch: int,
        multi_label: bool,
        threshold: float,
        stop_flag: tf.Variable,
        xla: bool = False,
        loss_scaling: bool = False,
    ):
        self.strategy = strategy
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.global_batch = global_batch
        self.multi_label = multi_label
        self.threshold = threshold
        self.stop_flag = stop_flag
        self.loss_scaling = loss_scaling
        # XLA compiles the forward and backward pass; the optimizer update stays outside because
        # it all-reduces gradients across replicas.
        self._gradients = tf.function(self._compute_gradients, jit_compile=xla)
        self.step = tf.function(self._step)

    def _correct(self, targets, scores):
        if self.multi_label:
            predicted = tf.cast(scores >= self.threshold, targets.dtype)
            return tf.reduce_sum(tf.cast(tf.reduce_all(predicted == targets, axis=-1), tf.float32))
        same = tf.equal(tf.argmax(scores, -1), tf.argmax(targets, -1))
        return tf.reduce_sum(tf.cast(same, tf.float32))

    def _compute_gradients(self, token_ids, targets):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            scores = self.model(token_ids, training=True)
            loss = tf.nn.compute_average_loss(self.loss_fn(targets, scores), global_batch_size=self.global_batch)
            scaled = self.optimizer.scale_loss(loss) if self.loss_scaling else loss
        return loss, tape.gradient(scaled, variables), self._correct(targets, scores)

    def _replica_step(self, token_ids, targets):
        loss, gradients, correct = self._gradients(token_ids, targets)
        self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables, strict=True))
        return tf.stack([loss, correct, tf.cast(self.stop_flag, tf.float32)])

    def _step(self, iterator):
        token_ids, targets = next(iterator)
        per_replica = self.strategy.run(self._replica_step, args=(token_ids, targets))
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)


class Predictor:
    """Scores for a local (not distributed) dataset of token ids, in order; traced once."""

    def __init__(self, model):
        self._predict = tf.function(lambda ids: model(ids, training=False), reduce_retracing=True)

    def __call__(self, dataset) -> tf.Tensor:
        return tf.concat([self._predict(ids) for ids in dataset], axis=0)
