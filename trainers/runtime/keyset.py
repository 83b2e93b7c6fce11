"""Which keys a run has, and reading them: the runtime's keys (keys.py) plus the keys of the
task that `modelType` selects, each with its owner, parsed from layered sources.

Everything that needs "the keys" asks here: the trainer (`load`), `check-config` and the
policy (`parse_values`, `check_configmap_data`, `for_task`), and `train --help` and its flags
(`groups`, `every_key`). A task may not redefine a runtime key: one name, one meaning.

No TensorFlow import here: `make validate` checks every overlay's ConfigMap with this module.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from trainers.runtime import keymatch
from trainers.runtime import keys as runtime_keys
from trainers.runtime.config import Config, ConfigError, Key, config_like_env, snake
from trainers.runtime.registry import TaskRegistry

RUNTIME = "runtime"


@dataclass(frozen=True)
class KeySet:
    """The keys of one task's runs: the runtime's first, then the task's, and who owns each."""

    keys: dict[str, Key]
    owners: dict[str, str]  # key -> RUNTIME or the task's name


@dataclass(frozen=True)
class KeyGroup:
    """Keys under one owner, for `--help`: the runtime's, or one task's with its model types."""

    owner: str
    model_types: tuple[str, ...]
    keys: dict[str, Key]


def for_task(task) -> KeySet:
    clash = sorted(set(runtime_keys.KEYS) & set(task.keys))
    if clash:
        raise ValueError(f"task {task.name} redefines runtime keys {clash}; choose other names")
    owners = {key: RUNTIME for key in runtime_keys.KEYS} | {key: task.name for key in task.keys}
    return KeySet({**runtime_keys.KEYS, **task.keys}, owners)


def groups(registry: TaskRegistry) -> list[KeyGroup]:
    """The runtime's keys, then each task's, in registry order."""
    return [
        KeyGroup(RUNTIME, (), dict(runtime_keys.KEYS)),
        *(KeyGroup(task.name, tuple(task.model_types), dict(task.keys)) for task in registry.tasks),
    ]


def every_key(registry: TaskRegistry) -> dict[str, Key]:
    """Every key any run may set (a flag each); where two tasks share a name, the later task's
    Key stands for both here, and each task's run parses with its own."""
    merged: dict[str, Key] = {}
    for group in groups(registry):
        merged.update(group.keys)
    return merged


def owning_task(key: str, registry: TaskRegistry):
    """The first task whose keys include `key`, or None."""
    return next((task for task in registry.tasks if key in task.keys), None)


def _merge(layers: list[tuple[str, Mapping[str, str]]]) -> dict[str, tuple[str, str]]:
    merged: dict[str, tuple[str, str]] = {}
    for source, values in layers:
        for key, text in values.items():
            merged[key] = (str(text), source)
    return merged


def _unknown_key_error(key: str, source: str, task, known: KeySet, registry: TaskRegistry) -> ConfigError:
    owner = owning_task(key, registry)
    if owner is not None:
        return ConfigError(
            f"{source}: key {key!r} belongs to task {owner.name} ({', '.join(owner.model_types)}), "
            f"not to modelType's task {task.name}"
        )
    missed = keymatch.near_miss(key, every_key(registry))
    if missed is not None:
        return ConfigError(
            f"{source}: unknown configuration key {key!r}; did you mean {missed.intended!r}? It differs only in "
            f"{', '.join(missed.differences)}, and keys are matched exactly"
        )
    close = difflib.get_close_matches(key, list(known.keys), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"{source}: unknown configuration key {key!r}{hint}")


def parse_values(layers: list[tuple[str, Mapping[str, str]]], registry: TaskRegistry) -> Config:
    """Merge `(source name, {key: text})` layers, lowest priority first, and parse them.

    The task comes from `modelType`; every given key must belong to the runtime or that task.
    """
    merged = _merge(layers)
    model_type, model_source = merged.get("modelType", ("", "default"))
    model_type = model_type.strip() or registry.default_model_type
    merged["modelType"] = (model_type, model_source)
    task = registry.for_model_type(model_type)
    if task is None:
        raise ConfigError(
            f"{model_source}: modelType={model_type!r} unknown model type; "
            f"choose one of {', '.join(registry.model_types())}"
        )
    known = for_task(task)
    for key, (_, source) in merged.items():
        if key not in known.keys:
            raise _unknown_key_error(key, source, task, known, registry)

    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    texts: dict[str, str] = {}
    for key, spec in known.keys.items():
        text, source = merged.get(key, (spec.default, "default"))
        try:
            value = spec.parse(text)
        except ValueError as exc:
            raise ConfigError(f"{source}: {key}={text!r} {exc}") from None
        problem = spec.check(value)
        if problem:
            raise ConfigError(f"{source}: {key}={text!r} {problem}")
        values[snake(key)] = value
        sources[key] = source
        texts[key] = text
    cfg = Config(values, sources, task.name, texts)
    cfg = runtime_keys.resolve(cfg, task)
    cfg = task.resolve_config(cfg)
    return cfg


def refuse_near_miss_env(environ: Mapping[str, str], registry: TaskRegistry) -> None:
    """An environment variable that is a key in all but form (`NUM_EPOCHS`, `NumEpochs`, a key with
    a zero-width space) is not read as configuration: say so instead of silently ignoring it."""
    matcher = keymatch.KeyMatcher(every_key(registry))
    for name in sorted(environ):
        if config_like_env({name: ""}):
            continue  # read as a key, and judged by parse_values
        missed = matcher.near_miss(name)
        if missed is not None:
            raise ConfigError(f"environment: {missed.message}")


def load(flag_values: Mapping[str, str], environ: Mapping[str, str], registry: TaskRegistry) -> Config:
    """The run's configuration from flags (highest priority), environment and defaults."""
    refuse_near_miss_env(environ, registry)
    return parse_values([("environment", config_like_env(environ)), ("command line", dict(flag_values))], registry)


def check_configmap_data(data: Mapping[str, object], source: str, registry: TaskRegistry) -> Config:
    """Check a ConfigMap's `data` as the trainer would see it; raises ConfigError."""
    non_strings = [k for k, v in data.items() if not isinstance(v, str)]
    if non_strings:
        key = non_strings[0]
        raise ConfigError(f"{source}: {key}={data[key]!r} must be a string in a ConfigMap (quote it in YAML)")
    return parse_values([(source, data)], registry)  # type: ignore[list-item]
