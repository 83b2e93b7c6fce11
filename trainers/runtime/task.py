"""The task interface: what a workload gives the runtime, and nothing more.

A task is one kind of training job (text classification, summarization, ...). The runtime owns
configuration mechanics, distribution, the run directory, checkpoints and resume, the step loop,
progress and metrics, best-epoch selection and atomic export; the task owns what differs:

    Task (registry level, importable without TensorFlow)
      name, model_types, keys            its `modelType` values and its own config keys
      resolve_config(cfg)                cross-key checks and derived defaults (ConfigError)
      sample_data(cfg)                   the bundled training file when trainData is empty
      read_data(cfg, path)               parse one data file (DataError naming file and line)
      check_inputs(cfg, ctx)             other input files, checked before TensorFlow starts
      build_assets(cfg, train)           vocabularies etc. from the training split (JSON)
      check_assets(cfg, assets, ...)     every check on assets and data, before anything persists
      create(cfg, assets, train, evaluation, ctx) -> TaskRun
      predict / evaluate_export          the `python -m trainers predict|evaluate` commands

    TaskRun (one run, TensorFlow side)
      build_model()                      a Keras model; called inside strategy.scope()
      train_arrays()                     (features, targets) arrays, one row per example
      batch_fn(features, targets)        applied to each batch in tf.data (tokenize, ...)
      per_example_loss(targets, outputs) [batch] losses; the runtime averages globally
      train_metric_names, step_metrics   running metrics as (sum, count) per step
      throughput                         optional (unit, metric) for a unit/s progress figure
      evaluate(model)                    validation metrics, named val_* (chief only)
      serving_module(model)              a tf.Module whose `serve` tf.function is exported
      export_files(info)                 extra files beside saved_model.pb

`tests/regression_task.py` is a complete task in under 100 lines; the README walks through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainers.runtime.config import Config, ConfigError, Key


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

    def train_arrays(self) -> tuple[Any, Any]:
        raise NotImplementedError

    def batch_fn(self, features, targets):
        return features, targets

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

    def read_data(self, cfg: Config, path: Path):
        raise NotImplementedError

    def check_inputs(self, cfg: Config, ctx: Context) -> None:
        """Check input files other than trainData/evalData (raise DataError)."""

    def build_assets(self, cfg: Config, train) -> dict:
        return {}

    def check_assets(self, cfg: Config, assets: dict, train, evaluation) -> None:
        """Raise DataError when the data or assets cannot train (unknown labels, tiny vocabulary)."""

    def create(self, cfg: Config, assets: dict, train, evaluation, ctx: Context) -> TaskRun:
        raise NotImplementedError

    def predict(self, version_dir: Path, info: dict, texts: list[str], as_json: bool) -> str:
        raise NotImplementedError(f"task {self.name} has no predict command")

    def evaluate_export(self, version_dir: Path, info: dict, data_path: Path) -> dict[str, float]:
        raise NotImplementedError(f"task {self.name} has no evaluate command")
