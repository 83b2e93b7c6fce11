"""The task interface: what a workload gives the runtime, and nothing more.

A task is one kind of training job (text classification, summarization, ...). The runtime owns
configuration mechanics, distribution, the run directory, checkpoints and resume, the step loop,
progress and metrics, best-epoch selection and atomic export; the task owns what differs:

    Task (registry level, importable without TensorFlow)
      name, model_types, keys            its `modelType` values and its own config keys
      resolve_config(cfg)                cross-key checks and derived defaults (ConfigError)
      sample_data(cfg)                   the bundled training file when trainData is empty
      read_data(cfg, path)               parse the training file -> ParsedData (DataError naming file and line)
      read_eval_data(cfg, path)          parse the evaluation file (default: read_data; its own format if need be)
      check_inputs(cfg, ctx)             other input files, checked before TensorFlow starts
      build_assets(cfg, train)           vocabularies etc. from the training split (JSON)
      check_assets(cfg, assets, ...)     every check on assets and data, before anything persists
      create(cfg, assets, train, evaluation, ctx) -> TaskRun
      predict / evaluate_export          the `python -m trainers predict|evaluate` commands, for every
                                         artifact kind (a SavedModel, a .tflite from `optimize`)
      predictor(version_dir, info)       raw texts -> answers, for `optimize`'s latency figures
      quality_metric                     the evaluate_export result `optimize` reports (and its change)
      commands()                         the task's own commands ({name: Command}), e.g. chat, play

    TaskRun (one run, TensorFlow side)
      build_model()                      a Keras model; called inside strategy.scope()
      train_input(global_batch, seed)    a TrainInput: steps per data epoch and a dataset function
                                         (context, epoch, steps to skip); default: train_arrays()
                                         + batch_fn through training/inputs.array_input
        train_arrays()                   (features, targets) arrays, one row per example
        batch_fn(features, targets)      applied to each batch in tf.data (tokenize, ...)
      per_example_loss(targets, outputs) [batch] losses; the runtime averages globally (model.losses
                                         are added by the runtime)
      train_metric_names, step_metrics   running metrics as (sum, count) per step
      throughput                         optional (unit, metric) for a unit/s progress figure
      optimizer(total_steps)             optional: the task's own optimizer (default: from the keys)
      actions()                          Actions run after each step / period (training/actions.py)
      evaluate(model)                    validation metrics, named val_* (chief only)
      serving_module(model)              a tf.Module whose `serve` tf.function is exported
      model_signature(model)             token ids in, model outputs out: exported as `model` beside
                                         serving_default (default: from a functional model's inputs)
      export_files(info)                 extra files beside saved_model.pb
      lite_signatures(model)             what `optimize` converts to TFLite (default: the model signature)
      lite_calibration(data, count)      int8 calibration inputs from the --data file's examples

`tests/regression_task.py` is a complete task in under 100 lines; the README walks through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from trainers.runtime.config import Config, ConfigError, Key

MODEL_SIGNATURE = "model"  # the model-only signature's name in every SavedModel


@runtime_checkable
class ParsedData(Protocol):
    """What `read_data` returns: any container of examples that knows its file and how many
    malformed lines it skipped (skipBadLines); the runtime reports both."""

    path: str
    skipped: int

    def __len__(self) -> int: ...


@dataclass
class Context:
    """What the runtime lends a task while it sets up: file access and the progress printer."""

    fetch: Callable[[str], Path]  # a local path for a local or gs:// URI
    say: Callable[[str], None]


class TaskRun:
    """One run's model, data and metrics. Subclasses fill in every method."""

    train_metric_names: tuple[str, ...] = ()
    # (unit, metric): progress also reports `unit`/s, counting the units of a step as the count
    # of that running metric, e.g. ("tokens", "token_accuracy"). None: examples/s only.
    throughput: tuple[str, str] | None = None

    def build_model(self):
        raise NotImplementedError

    def train_input(self, global_batch: int, seed: int):
        """Steps per data epoch and the dataset function (training/inputs.py). The default feeds
        `train_arrays()` through `batch_fn`, shuffled per epoch; override for data that does not
        fit in memory or is generated."""
        import tensorflow as tf

        from trainers.runtime.training.inputs import array_input

        arrays = self.train_arrays()
        examples = int(tf.nest.flatten(arrays)[0].shape[0])
        return array_input(arrays, self.batch_fn, examples, global_batch, seed)

    def train_arrays(self) -> tuple[Any, Any]:
        raise NotImplementedError

    def batch_fn(self, features, targets):
        return features, targets

    def optimizer(self, total_steps: int):
        """A Keras optimizer of the task's own, or None for the one the keys describe."""
        return None

    def actions(self) -> list:
        """Actions (training/actions.py) to run after each optimizer step and period."""
        return []

    def model_signature(self, model):
        """A tf.function with an input signature: the model alone, token ids (or whatever it
        takes) in, its raw outputs out, for quantization and serving without the text pipeline.
        The default covers functional models; subclassed models override it (or return None)."""
        import tensorflow as tf

        inputs = getattr(model, "inputs", None)
        if not inputs:
            return None
        specs = [tf.TensorSpec(i.shape, i.dtype, name=i.name.split(":")[0]) for i in inputs]
        names = list(getattr(model, "output_names", None) or [])

        @tf.function(input_signature=specs)
        def model_only(*tensors):
            outputs = model(list(tensors) if len(tensors) > 1 else tensors[0], training=False)
            if isinstance(outputs, dict):
                return outputs
            outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
            keys = names if len(names) == len(outputs) else [f"output_{i}" for i in range(len(outputs))]
            return dict(zip(keys, outputs, strict=True))

        return model_only

    def per_example_loss(self, targets, outputs):
        raise NotImplementedError

    def step_metrics(self, targets, outputs) -> dict[str, tuple[Any, Any]]:
        return {}

    def evaluate(self, model) -> dict[str, float]:
        return {}

    def serving_module(self, model):
        raise NotImplementedError

    def export_files(self, info: dict) -> dict[str, str]:
        """Files beside saved_model.pb; `info` is what textjobs.json says (step, epoch, ...)."""
        return {}

    def lite_signatures(self, model) -> dict:
        """{name: tf.function with an input signature} that `optimize` converts to one .tflite:
        the model without its text pipeline (tokenization stays outside the TFLite graph, whose
        interpreter has no Flex delegate for string ops). Recurrent layers must be traced unrolled
        (runtime/lite/convert.py). Default: the model signature."""
        function = self.model_signature(model)
        return {MODEL_SIGNATURE: function} if function is not None else {}

    def lite_calibration(self, model, data, count: int):
        """Representative inputs for int8: an iterable of (signature name, {input: array}) built
        from up to `count` examples of `data` (read_eval_data of --data)."""
        raise NotImplementedError("this task has no int8 calibration data")

    def describe(self) -> str:
        """One phrase for the start-up line, e.g. '5 labels'."""
        return ""


class Task:
    """A workload. Subclasses set the class attributes and override what they need."""

    name: str = ""
    model_types: tuple[str, ...] = ()
    keys: Mapping[str, Key] = {}
    # The file in the run directory that fixes the task's assets (vocabulary, label map) at the
    # first start, so every resume and every worker agrees on them.
    assets_file: str = "assets.json"
    # exportBest's score and direction.
    best_metric: str = "val_loss"
    higher_is_better: bool = False

    def resolve_config(self, cfg: Config) -> Config:
        return cfg

    def sample_data(self, cfg: Config) -> str:
        raise ConfigError(f"{cfg.sources['trainData']}: trainData is empty and task {self.name} bundles no sample data")

    def xla_default(self, cfg: Config) -> bool:
        return False

    def read_data(self, cfg: Config, path: Path) -> ParsedData:
        raise NotImplementedError

    def read_eval_data(self, cfg: Config, path: Path) -> ParsedData:
        return self.read_data(cfg, path)

    def check_inputs(self, cfg: Config, ctx: Context) -> None:
        """Check input files other than trainData/evalData (raise DataError)."""

    def build_assets(self, cfg: Config, train) -> dict:
        return {}

    def check_assets(self, cfg: Config, assets: dict, train, evaluation) -> None:
        """Raise DataError when the data or assets cannot train (unknown labels, tiny vocabulary)."""

    def create(self, cfg: Config, assets: dict, train, evaluation, ctx: Context) -> TaskRun:
        raise NotImplementedError

    def commands(self) -> Mapping[str, Any]:
        """Commands of the task's own, {name: trainers.runtime.commands.Command}, listed by
        `python -m trainers --help` beside the runtime's."""
        return {}

    # The evaluate_export result that `optimize` reports for each artifact, and its direction.
    quality_metric: str = ""

    def predict(self, version_dir: Path, info: dict, texts: list[str], as_json: bool) -> str:
        raise NotImplementedError(f"task {self.name} has no predict command")

    def predictor(self, version_dir: Path, info: dict) -> Callable[[list[str]], Any]:
        """Raw texts in, the task's answers out, for one artifact (a SavedModel or a .tflite):
        what `optimize` times at batch 1 and 32."""
        raise NotImplementedError(f"task {self.name} has no predictor")

    def evaluate_export(self, version_dir: Path, info: dict, data_path: Path) -> dict[str, float]:
        raise NotImplementedError(f"task {self.name} has no evaluate command")
