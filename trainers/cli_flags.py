"""absl flags for `train`, one per configuration key, with the ConfigMap's own names.

Flags are declared as strings without defaults so the configuration parser sees only what was
given on the command line and applies the same checks and messages to every source.
"""

from __future__ import annotations

import sys

from absl import flags

from trainers.config import KEYS

HELP_HEADER = """usage: python -m trainers train [--key=value ...]

Every key can also come from an environment variable of the same name (the experiment
ConfigMap, through envFrom). Flags win over the environment, which wins over defaults.
TF_CONFIG selects MultiWorkerMirroredStrategy; TEXTJOBS_CPU_REPLICAS=N splits the CPU into N
replicas for MirroredStrategy without GPUs.

keys (default):"""


def flag_values() -> flags.FlagValues:
    values = flags.FlagValues()
    for key, spec in KEYS.items():
        flags.DEFINE_string(key, None, f"{spec.help} (default {spec.default!r})", flag_values=values)
    return values


def help_text() -> str:
    rows = [f"  --{key:<20} {spec.help} (default {spec.default!r})" for key, spec in KEYS.items()]
    return "\n".join([HELP_HEADER, *rows])


def parse(argv: list[str]) -> dict[str, str] | None:
    """Flags given on the command line; None after printing help. Exits 2 on a bad flag."""
    if any(a in ("-h", "--help", "-help", "--helpfull") for a in argv):
        print(help_text())
        return None
    values = flag_values()
    try:
        leftover = values(["train", *argv])
    except flags.Error as exc:
        print(f"error: command line: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if len(leftover) > 1:
        print(f"error: command line: unexpected arguments {leftover[1:]}", file=sys.stderr)
        raise SystemExit(2)
    return {key: values[key].value for key in KEYS if values[key].present}
