"""Configuration mechanics: typed keys, layered sources, errors that name key, value and source.

A run's configuration is the runtime's keys (`runtime/keys.py`: data, run directory, batch,
schedule, checkpoints) plus the keys of the task that `modelType` selects. Values come, highest
priority first, from command-line flags, from environment variables named exactly like the
experiment ConfigMap's keys (`envFrom` puts them there), and from the defaults. Every value
arrives as a string and is parsed and checked here, so a typo'd key, an unknown model type or a
negative learning rate stops the run before any work, naming the key, the value and its source.

No TensorFlow import here: `make validate` checks every overlay's ConfigMap with this module.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trainers.runtime.errors import ConfigError

if TYPE_CHECKING:
    from trainers.runtime.registry import TaskRegistry

__all__ = ["Config", "ConfigError", "Key", "load", "parse_values", "check_configmap_data"]

# An environment variable that looks like a ConfigMap key (camelCase, no underscores) is treated
# as one, so a typo'd key in an overlay fails the run instead of being silently ignored.
CONFIG_LIKE_ENV = re.compile(r"^[a-z][a-zA-Z0-9]*$")


# --- parsers: text -> value, ValueError saying what is wrong -------------------------------


def parse_int(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text.strip()):
        raise ValueError("is not an integer")
    return int(text)


def parse_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("is not a number") from None
    if not math.isfinite(value):
        raise ValueError("is not a finite number")
    return value


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("is not a boolean (use true or false)")


def parse_auto_bool(text: str) -> bool | None:
    """true, false, or auto (None): let the task decide."""
    return None if text.strip().lower() == "auto" else parse_bool(text)


def parse_str(text: str) -> str:
    return text.strip()


# --- checks on parsed values: None when fine, else what is wrong ----------------------------


def between(low: float, high: float) -> Callable[[float], str | None]:
    """Inclusive bounds. Size keys are bounded by what can run, so a value that passes here does
    not crash later inside TensorFlow."""

    def check(value):
        return None if low <= value <= high else f"must be between {low} and {high}"

    return check


def positive(value) -> str | None:
    return None if value > 0 else "must be > 0"


def fraction(value) -> str | None:
    return None if 0.0 <= value < 1.0 else "must be in [0, 1)"


def open_unit(value) -> str | None:
    return None if 0.0 < value < 1.0 else "must be in (0, 1)"


def one_of(choices: tuple[str, ...]) -> Callable[[str], str | None]:
    def check(value):
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def no_check(_value) -> str | None:
    return None


@dataclass(frozen=True)
class Key:
    """One configuration key: its parser, its default (as the string a ConfigMap would hold),
    a help line, and a check on the parsed value."""

    parse: Callable[[str], object]
    default: str
    help: str
    check: Callable[[object], str | None] = no_check


def snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


class Config:
    """The parsed, checked configuration of one run.

    Values are attributes in snake_case (`cfg.learning_rate` for `learningRate`); `sources` says
    where each key's value came from, for error messages raised after parsing.
    """

    def __init__(
        self, values: Mapping[str, object], sources: Mapping[str, str], task_name: str, texts: Mapping[str, str]
    ):
        self._values = dict(values)
        self.sources = dict(sources)
        self.texts = dict(texts)  # each key's value as given, for error messages
        self.task_name = task_name

    def __getattr__(self, name: str):
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(f"configuration has no key {name!r}") from None

    def replace(self, **changes) -> Config:
        unknown = set(changes) - set(self._values)
        if unknown:
            raise AttributeError(f"configuration has no keys {sorted(unknown)}")
        return Config({**self._values, **changes}, self.sources, self.task_name, self.texts)

    def as_dict(self) -> dict[str, object]:
        return dict(self._values)

    def error(self, key: str, problem: str) -> ConfigError:
        """A ConfigError about `key` that names its value and source."""
        return ConfigError(f"{self.sources.get(key, 'default')}: {key}={self.texts.get(key, '')!r} {problem}")

    def __repr__(self) -> str:
        return f"Config(task={self.task_name}, {self._values})"


def _merge(layers: list[tuple[str, Mapping[str, str]]]) -> dict[str, tuple[str, str]]:
    merged: dict[str, tuple[str, str]] = {}
    for source, values in layers:
        for key, text in values.items():
            merged[key] = (str(text), source)
    return merged


def _unknown_key_error(key: str, source: str, task, registry: TaskRegistry) -> ConfigError:
    owner = registry.task_owning_key(key)
    if owner is not None:
        return ConfigError(
            f"{source}: key {key!r} belongs to task {owner.name} ({', '.join(owner.model_types)}), "
            f"not to modelType's task {task.name}"
        )
    close = difflib.get_close_matches(key, registry.all_keys(task), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"{source}: unknown configuration key {key!r}{hint}")


def parse_values(layers: list[tuple[str, Mapping[str, str]]], registry: TaskRegistry) -> Config:
    """Merge `(source name, {key: text})` layers, lowest priority first, and parse them.

    The task comes from `modelType`; every given key must belong to the runtime or that task.
    """
    from trainers.runtime import keys as runtime_keys

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
    specs = {**runtime_keys.KEYS, **task.keys}
    for key, (_, source) in merged.items():
        if key not in specs:
            raise _unknown_key_error(key, source, task, registry)

    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    texts: dict[str, str] = {}
    for key, spec in specs.items():
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


def config_like_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment variables that are (or look like, and so must be) configuration keys."""
    return {k: v for k, v in environ.items() if CONFIG_LIKE_ENV.match(k)}


def without_config_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment minus anything `config_like_env` would read: what a child process gets
    when its configuration must come only from its flags or its ConfigMap."""
    return {k: v for k, v in environ.items() if not CONFIG_LIKE_ENV.match(k)}


def load(flag_values: Mapping[str, str], environ: Mapping[str, str], registry: TaskRegistry) -> Config:
    """The run's configuration from flags (highest priority), environment and defaults."""
    return parse_values([("environment", config_like_env(environ)), ("command line", dict(flag_values))], registry)


def check_configmap_data(data: Mapping[str, object], source: str, registry: TaskRegistry) -> Config:
    """Check a ConfigMap's `data` as the trainer would see it; raises ConfigError."""
    non_strings = [k for k, v in data.items() if not isinstance(v, str)]
    if non_strings:
        key = non_strings[0]
        raise ConfigError(f"{source}: {key}={data[key]!r} must be a string in a ConfigMap (quote it in YAML)")
    return parse_values([(source, data)], registry)  # type: ignore[list-item]
