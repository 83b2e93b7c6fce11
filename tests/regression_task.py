"""A second task, added without touching trainers/runtime/: linear regression on numbers.

Lines are `y<TAB>x1,x2,...`. The assets are the features' means and spreads, fixed at the first
start like a vocabulary. Load it with TEXTJOBS_TASK_MODULES=tests.regression_task and train with
`--modelType=linear-regression`; the README's example task is this file, shortened.

It uses three of the runtime's extension points: its own dataset function (examples gathered by
index in a stateless per-epoch order, instead of the default arrays adapter), an action (a step
counter whose state lives in the checkpoints, so after a kill it still equals the step), and a
command of its own, `python -m trainers regress-stats FILE`.
"""

from __future__ import annotations

import json

import numpy as np

from trainers.runtime.commands import Command
from trainers.runtime.config import Key, between, parse_int
from trainers.runtime.errors import DataError
from trainers.runtime.task import Task, TaskRun
from trainers.runtime.textfile import content_lines
from trainers.runtime.training.actions import Action
from trainers.runtime.training.inputs import TrainInput


class Numbers(list):
    """(features, target) rows; `path` and `skipped` as the task interface's ParsedData asks."""

    def __init__(self, rows, path):
        super().__init__(rows)
        self.path = path
        self.skipped = 0


class StepCounter(Action):
    """Counts optimizer steps in a checkpointed variable; reported as `steps_counted`."""

    name = "step_counter"

    def build(self, model, optimizer, strategy):
        import tensorflow as tf

        self.count = tf.Variable(0, dtype=tf.int64, trainable=False, name="steps_counted")

    def variables(self):
        return [self.count]

    def after_step(self, step):
        self.count.assign_add(1)

    def epoch_metrics(self):
        return {"steps_counted": float(self.count.numpy())}


class RegressionTask(Task):
    name = "regress"
    model_types = ("linear-regression",)
    keys = {"numFeatures": Key(parse_int, "3", "numbers per example", between(1, 1000))}
    assets_file = "normalizer.json"
    best_metric, higher_is_better = "val_loss", False

    def read_data(self, cfg, path):
        rows = []
        for number, line in content_lines(path):
            try:
                target, features = line.split("\t")
                x = [float(v) for v in features.split(",")]
                rows.append((x, float(target)))
            except ValueError:
                raise DataError(f"{path}:{number}: expected 'y<TAB>x1,x2,...' with numbers") from None
            if len(x) != cfg.num_features:
                raise DataError(f"{path}:{number}: {len(x)} numbers, numFeatures is {cfg.num_features}")
        return Numbers(rows, str(path))

    def build_assets(self, cfg, train):
        x = np.array([row[0] for row in train])
        return {"mean": x.mean(0).tolist(), "std": (x.std(0) + 1e-6).tolist()}

    def create(self, cfg, assets, train, evaluation, ctx):
        return RegressionRun(cfg, assets, train, evaluation)

    def commands(self):
        return {"regress-stats": Command("count and mean target of a y<TAB>x1,x2,... file", stats_main)}

    def predict(self, version_dir, info, texts, as_json):
        import tensorflow as tf

        serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
        x = tf.constant([[float(v) for v in t.split(",")] for t in texts])
        ys = serve(x=x)["y"].numpy()[:, 0].tolist()
        return json.dumps(ys) if as_json else "\n".join(f"{y:.4f}\t{t}" for y, t in zip(ys, texts, strict=True))


def stats_main(argv, registry) -> int:
    """`python -m trainers regress-stats FILE...`: a task's own command, found through the registry."""
    for path in argv:
        targets = [float(line.split("\t")[0]) for _, line in content_lines(path)]
        print(f"{path}: {len(targets)} examples, mean y {np.mean(targets):.3f}")
    return 0 if argv else 2


class RegressionRun(TaskRun):
    train_metric_names = ("mae",)

    def __init__(self, cfg, assets, train, evaluation):
        self.cfg, self.assets, self.train, self.evaluation = cfg, assets, train, evaluation

    def _arrays(self, rows):
        x = (np.array([r[0] for r in rows], np.float32) - self.assets["mean"]) / self.assets["std"]
        return x.astype(np.float32), np.array([[r[1]] for r in rows], np.float32)

    def build_model(self):
        import keras

        return keras.Sequential([keras.Input((self.cfg.num_features,)), keras.layers.Dense(1)])

    def train_input(self, global_batch, seed):
        import tensorflow as tf

        x, y = self._arrays(self.train)

        def make(context, epoch, skip_steps):
            per_replica = context.get_per_replica_batch_size(global_batch)
            local_replicas = context.num_replicas_in_sync // context.num_input_pipelines
            order = tf.random.experimental.stateless_shuffle(tf.range(len(x)), seed=[seed, epoch])
            dataset = tf.data.Dataset.from_tensor_slices(order).shard(
                context.num_input_pipelines, context.input_pipeline_id
            )
            dataset = dataset.map(lambda i: (tf.gather(x, i), tf.gather(y, i)))
            return dataset.repeat().batch(per_replica, drop_remainder=True).skip(skip_steps * local_replicas)

        return TrainInput(max(1, len(x) // global_batch), make, len(x))

    def actions(self):
        return [StepCounter()]

    def per_example_loss(self, targets, outputs):
        return ((targets - outputs) ** 2)[:, 0]

    def step_metrics(self, targets, outputs):
        import tensorflow as tf

        return {"mae": (tf.reduce_sum(tf.abs(targets - outputs)), tf.cast(tf.shape(targets)[0], tf.float32))}

    def evaluate(self, model):
        x, y = self._arrays(self.evaluation)
        error = model(x, training=False).numpy() - y
        return {"val_loss": float(np.mean(error**2)), "val_mae": float(np.mean(np.abs(error)))}

    def serving_module(self, model):
        import tensorflow as tf

        mean, std = tf.constant(self.assets["mean"]), tf.constant(self.assets["std"])

        class Serving(tf.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            @tf.function(input_signature=[tf.TensorSpec([None, self.cfg.num_features], tf.float32, name="x")])
            def serve(self, x):
                return {"y": self.model((x - mean) / std, training=False)}

        return Serving()


TASK = RegressionTask()
