"""Run one StepRunner step with SGD(1.0) under MirroredStrategy on N logical CPUs and print the
weight change as JSON. With SGD at rate 1 the change is minus the gradient the optimizer applied,
so its global norm is what clipping allowed. Run as a subprocess: logical devices must be set
before TensorFlow initialises.

    python -m tests.steps.clip_probe REPLICAS CLIP_NORM
"""

from __future__ import annotations

import json
import sys


def main(replicas: int, clip: float) -> None:
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)])
    import keras

    from trainers.runtime.training.step import StepRunner

    strategy = tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype("float32") * 10.0  # large inputs: a gradient well above the clip
    y = rng.normal(size=(8, 1)).astype("float32")

    class Run:
        train_metric_names = ()

        def per_example_loss(self, targets, outputs):
            return tf.reduce_sum((targets - outputs) ** 2, axis=-1)

        def step_metrics(self, targets, outputs):
            return {}

    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, kernel_regularizer=None)])
        optimizer = keras.optimizers.SGD(1.0)
        optimizer.build(model.trainable_variables)
        stop = tf.Variable(0, dtype=tf.int32, trainable=False)
    before = [v.numpy().copy() for v in model.trainable_variables]
    dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((x, y)).batch(8))
    runner = StepRunner(strategy, model, optimizer, Run(), 8, stop, clip_norm=clip)
    loss = float(runner.step(iter(dataset)).numpy()[0])
    delta = [b - v.numpy() for b, v in zip(before, model.trainable_variables, strict=True)]
    print(json.dumps({"loss": loss, "delta": [d.ravel().tolist() for d in delta]}))


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
