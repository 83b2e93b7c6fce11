"""`initFrom`: start a run from another run's weights (fine-tuning), for every task.

`initFrom` names an export (its root or one version) or a run directory (its newest export is
used), local or in a bucket. Before TensorFlow starts, the source must be an export of the same
task and model type that lists its configuration and assets (`textjobs-run.json`); the new run
then adopts the source's assets (vocabularies, label map: token ids and output units must mean
what they meant), and the task checks the new data against them (an unknown label is an error
naming it). After the model is built, the source's weights are read into it, each weight's shape
checked (a different embeddingDim or hiddenSize is an error naming the weight and both shapes).

Only a fresh start is initialised: once the run has a checkpoint of its own, resume restores that
checkpoint and `initFrom` is not read again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from trainers.runtime import storage
from trainers.runtime.errors import ConfigError, RunError
from trainers.runtime.versions import NoVersionError, resolve_version


@dataclass
class InitSource:
    uri: str
    version_dir: Path  # local copy of the version
    config: dict
    assets: dict
    info: dict


def _local_version(uri: str, cache: Path) -> Path:
    try:
        return resolve_version(uri, cache)
    except NoVersionError:
        pass
    run_exports = storage.join(uri, "export")
    try:
        return resolve_version(run_exports, cache)
    except NoVersionError:
        raise ConfigError(
            f"initFrom={uri!r}: neither an export (root or version) nor a run directory with a complete export"
        ) from None


def resolve(cfg, scratch: Path) -> InitSource | None:
    """Step 1 (no TensorFlow): find the source, check its task and model type."""
    from trainers.runtime.rebuild import read_run_file

    uri = cfg.init_from
    if not uri:
        return None
    if not storage.is_remote(uri) and not Path(uri).exists():
        raise ConfigError(f"initFrom={uri!r}: no such file or directory")
    version_dir = _local_version(uri, scratch / "init-from")
    info = json.loads((version_dir / "textjobs.json").read_text()) if (version_dir / "textjobs.json").exists() else {}
    if info.get("task") != cfg.task_name:
        raise ConfigError(
            f"initFrom={uri!r}: an export of task {info.get('task')!r}, not of this run's task {cfg.task_name!r}"
        )
    if info.get("artifact", "saved_model") != "saved_model":
        raise ConfigError(
            f"initFrom={uri!r}: a {info.get('artifact')} artifact; fine-tuning starts from a SavedModel export"
        )
    try:
        found = read_run_file(version_dir)
    except RunError as exc:
        raise ConfigError(f"initFrom={uri!r}: {exc}") from None
    source_type = found["config"].get("modelType", info.get("model_type"))
    if source_type != cfg.model_type:
        raise ConfigError(f"initFrom={uri!r}: an export of modelType {source_type!r}, this run is {cfg.model_type!r}")
    return InitSource(uri, version_dir, found["config"], found["assets"], info)


def _describe(value) -> str:
    return f"{len(value)} entries" if isinstance(value, list | dict) else repr(value)


def assets_difference(ours: dict, theirs: dict) -> str | None:
    """What differs between two assets dicts, in words (None when they are equal)."""
    for key in sorted(set(ours) | set(theirs)):
        a, b = ours.get(key), theirs.get(key)
        if a == b:
            continue
        if isinstance(a, list) and isinstance(b, list):
            first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            shown = (a[first] if first < len(a) else "(end)", b[first] if first < len(b) else "(end)")
            return f"{key}: {len(a)} vs {len(b)} entries, first difference at position {first} ({shown[0]!r} vs {shown[1]!r})"
        return f"{key}: {_describe(a)} vs {_describe(b)}"
    return None


def check_saved_assets(source: InitSource, saved: dict) -> None:
    """A run directory that already fixed its assets must have fixed the source's."""
    difference = assets_difference(saved, source.assets)
    if difference:
        raise ConfigError(
            f"initFrom={source.uri!r}: this run directory's assets differ from the export's ({difference}); "
            "a fine-tuned model must keep the vocabulary and labels it was trained with: use a new runName"
        )


def load_weights(source: InitSource, model) -> str:
    """Read the source's weights into `model` (built inside the strategy's scope); returns a
    phrase for the start-up line."""
    from trainers.runtime.rebuild import restore_weights

    try:
        restore_weights(model, source.version_dir)
    except RunError as exc:
        raise ConfigError(f"initFrom={source.uri!r}: the weights do not fit this run's model: {exc}") from None
    run, step = source.info.get("run_name", "?"), source.info.get("step", "?")
    return f"initialised from {source.uri} (run {run}, step {step})"
