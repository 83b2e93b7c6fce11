"""absl flags for `train`: one per configuration key (the runtime's and every task's), with the
ConfigMap's own names.

Flags are declared as strings without defaults so the configuration parser sees only what was
given on the command line and applies the same checks and messages to every source.
"""

from __future__ import annotations

import sys

from absl import flags

from trainers.runtime import keymatch, keyset

HELP_HEADER = """usage: python -m trainers train [--key=value ...]

Every key can also come from an environment variable of the same name (the experiment
ConfigMap, through envFrom). Flags win over the environment, which wins over defaults.
modelType selects the task; only the runtime's keys and that task's keys may be set.
TF_CONFIG selects MultiWorkerMirroredStrategy; TEXTJOBS_CPU_REPLICAS=N splits the CPU into N
replicas for MirroredStrategy without GPUs.

Exit codes: 0 done; 2 bad configuration or data; 3 storage that waiting will not fix (missing
bucket, permission); 4 a crash loop (maxStartsWithoutProgress starts in a row from the same
checkpoint); 143 stopped by SIGTERM after a checkpoint; 200 a transient failure (bucket outage,
missing peer) outlived its retry budget. 128 and above is retryable under the TFJob's ExitCode
restart policy."""


def _rows(keys: dict) -> list[str]:
    return [f"  --{key:<20} {spec.help} (default {spec.default!r})" for key, spec in keys.items()]


def help_text(registry) -> str:
    runtime, *tasks = keyset.groups(registry)
    runtime_rows = _rows(runtime.keys)
    runtime_rows[0] = (
        f"  --{'modelType':<20} {', '.join(registry.model_types())} (default {registry.default_model_type!r})"
    )
    sections = [HELP_HEADER, "", "runtime keys (default):", *runtime_rows]
    for task in tasks:
        sections += ["", f"task {task.owner} (modelType {', '.join(task.model_types)}):", *_rows(task.keys)]
    return "\n".join(sections)


# absl's built-in flags that read files or change how the rest is parsed: `--flagfile=<key file>`
# would print a mounted service-account key in the parse error, `--undefok` turns typos into
# silently ignored flags. The policy refuses them in manifests too (scripts/policy/trainer_config.py).
REFUSED_FLAGS = {
    "flagfile": "reads flags from a file the pod can see (a mounted key would be printed in the error)",
    "undefok": "turns unknown flags, typos included, into silently ignored ones",
    "only_check_args": "exits after parsing, without training",
}


def _flag_name(arg: str) -> str | None:
    if not arg.startswith("-") or arg in ("-", "--"):
        return None
    return arg.lstrip("-").split("=", 1)[0]


def _refuse(argv: list[str], keys) -> None:
    """Exit 2 on a refused absl flag, or on a flag that is a key in all but form (`--NumEpochs`)."""
    matcher = keymatch.KeyMatcher(keys)
    for arg in argv:
        name = _flag_name(arg)
        if name is None or name in keys:
            continue
        if name in REFUSED_FLAGS:
            print(f"error: command line: --{name} is refused: it {REFUSED_FLAGS[name]}", file=sys.stderr)
            raise SystemExit(2)
        missed = matcher.near_miss(name)
        if missed is not None:
            print(f"error: command line: flag {arg.split('=', 1)[0]!r}: {missed.message}", file=sys.stderr)
            raise SystemExit(2)


def parse(argv: list[str], registry) -> dict[str, str] | None:
    """Flags given on the command line; None after printing help. Exits 2 on a bad flag."""
    if any(a in ("-h", "--help", "-help", "--helpfull") for a in argv):
        print(help_text(registry))
        return None
    keys = keyset.every_key(registry)
    _refuse(argv, keys)
    values = flags.FlagValues()
    for key, spec in keys.items():
        flags.DEFINE_string(key, None, spec.help, flag_values=values)
    try:
        leftover = values(["train", *argv])
    except flags.Error as exc:
        print(f"error: command line: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if len(leftover) > 1:
        print(f"error: command line: unexpected arguments {leftover[1:]}", file=sys.stderr)
        raise SystemExit(2)
    return {key: values[key].value for key in keys if values[key].present}
