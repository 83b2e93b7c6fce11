"""Configuration mechanics: typed keys, their parsers and checks, the parsed Config, and which
environment variables count as configuration.

A run's configuration is the runtime's keys (`runtime/keys.py`: data, run directory, batch,
schedule, checkpoints) plus the keys of the task that `modelType` selects; `runtime/keyset.py`
composes the two and parses the layered sources with them. Values come, highest priority first,
from command-line flags, from environment variables named exactly like the experiment
ConfigMap's keys (`envFrom` puts them there), and from the defaults. Every value arrives as a
string and is parsed and checked with what this module defines, so a typo'd key, an unknown
model type or a negative learning rate stops the run before any work, naming the key, the value
and its source.

No TensorFlow import here, and none of the keys: tasks and keys.py build on this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from trainers.runtime.errors import ConfigError

__all__ = ["Config", "ConfigError", "Key", "config_like_env", "without_config_env"]

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


def config_like_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment variables that are (or look like, and so must be) configuration keys."""
    return {k: v for k, v in environ.items() if CONFIG_LIKE_ENV.match(k)}


def without_config_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment minus anything `config_like_env` would read: what a child process gets
    when its configuration must come only from its flags or its ConfigMap."""
    return {k: v for k, v in environ.items() if not CONFIG_LIKE_ENV.match(k)}
