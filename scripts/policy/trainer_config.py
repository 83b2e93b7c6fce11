"""The trainer's configuration, exactly as each replica's trainer will see it, judged by the
trainer's own parser.

What reaches the trainer is derived once, by scripts/trainer_inputs.py (shared with `make run`):
the environment Kubernetes builds (envFrom ConfigMaps with their prefixes, env values with `$(VAR)`
expanded, configMapKeyRef values, the pod's own fields) and the command line (the image's
entrypoint or `command`, then `args`) in every form absl accepts. Then:

- every name that reaches the trainer is matched exactly: a near miss of a known key (case,
  separators, whitespace, invisible or look-alike characters; trainers/runtime/keymatch.py) is an
  error naming the intended key, since both Kubernetes and the trainer would ignore it;
- names the API server refuses fail here, not after the merge;
- absl's own flags are refused (`--flagfile` reads any file, a mounted key included, and prints
  it in the error; `--undefok` hides typos), and so are positional arguments;
- variables platform/allowlist.yaml refuses (`TEXTJOBS_*` test hooks, emulator and proxy
  settings) cannot be set;
- the flags go through the trainer's absl parser (trainers/runtime/cli_flags.py) and everything
  through its configuration parser, so a value the trainer refuses fails here.

A Katib experiment is judged as the trials it will create at the corners of its search space
(every listed value, both ends of a range, in combination). The global batch must split evenly
over the replicas that train in sync (pods x GPUs per pod), as the trainer requires at start.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scripts import trainer_inputs
from scripts.manifests import Rendered
from scripts.policy import platform
from scripts.policy.violation import Violation, describe
from scripts.policy.walk import Container, containers
from scripts.trials import trial_assignments, trial_tfjob
from trainers.runtime import cli_flags, keymatch, keyset
from trainers.runtime.config import CONFIG_LIKE_ENV, Config, ConfigError
from trainers.tasks import registry

SYNC_REPLICA_TYPES = ("Chief", "Master", "Worker")
TRIAL_WITH = " (the trial with "  # how a Katib trial's values are shown after its experiment
# Katib names a trial (and its TFJob, and so the run) `<experiment>-<8 random characters>`.
TRIAL_SUFFIX = "-t" + "x" * 7
# absl's own flags: they read files or change how the others are parsed, and none is a trainer key.
ABSL_FLAGS = {
    **cli_flags.REFUSED_FLAGS,
    "help": "prints help and exits without training",
    "helpfull": "prints help and exits without training",
    "helpshort": "prints help and exits without training",
    "helpxml": "prints help and exits without training",
    "h": "prints help and exits without training",
}
# Names the API server accepts for ConfigMap keys (and, through envFrom, variables).
CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


@functools.cache
def known_keys() -> keymatch.KeyMatcher:
    """Every key the trainer knows: the runtime's and every task's."""
    return keymatch.KeyMatcher(set(keyset.every_key(registry())))


def views(r: Rendered) -> Iterator[tuple[Rendered, str]]:
    """(render, what to call its jobs) to judge: the render's own TFJobs, and each Katib experiment
    as the trial TFJobs at the corners of its search (scripts/trials.py)."""
    yield Rendered(r.name, documents=[d for d in r.documents if d.get("kind") != "Experiment"]), ""
    configmaps = r.of_kind("ConfigMap")
    for experiment in r.of_kind("Experiment"):
        for values in trial_assignments(experiment):
            name = f"{(experiment.get('metadata') or {}).get('name')}{TRIAL_SUFFIX}"
            trial = Rendered(r.name, documents=[*configmaps, trial_tfjob(experiment, name=name, values=values)])
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            yield trial, f"{describe(experiment)}{TRIAL_WITH}{shown})"


def first_per_problem(violations: Iterator[Violation]) -> Iterator[Violation]:
    """One report per experiment, field and message: a bad value shows in many corners of a search,
    and the first trial that has it says enough."""
    seen = set()
    for v in violations:
        key = (v.obj.split(TRIAL_WITH)[0], v.field, v.message)
        if key not in seen:
            seen.add(key)
            yield v


@dataclass
class Judged:
    """One trainer container of one view: what reaches it, and what its parser makes of it."""

    view: Rendered
    name: str  # how to call the job in a report
    container: Container
    inputs: trainer_inputs.Inputs
    config: Config | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)  # (field, message)


def trainer_containers(r: Rendered) -> Iterator[Container]:
    yield from (c for c in containers(r, ("containers",)) if c.spec.get("name") == "tensorflow")


def _names_problems(inputs: trainer_inputs.Inputs, refused: tuple[tuple[str, str], ...]) -> Iterator[tuple[str, str]]:
    matcher = known_keys()
    for name, value in inputs.env.items():
        where = value.source
        for pattern, why in refused:
            if fnmatch.fnmatchcase(name, pattern):
                yield where, f"{name!r} may not be set in an experiment ({why}; platform/allowlist.yaml: environment)"
        miss = matcher.near_miss(name)
        if miss:
            yield where, miss.message
        elif not ENV_NAME.match(name):
            yield (
                where,
                f"{ascii(name)} is not a valid environment variable name (letters, digits, '_', '-', '.'; not starting "
                "with a digit): the API server or the kubelet refuses or drops it",
            )


def _flag_problems(inputs: trainer_inputs.Inputs) -> list[tuple[str, str]]:
    problems = []
    found, positional = trainer_inputs.flags(inputs.argv)
    matcher = known_keys()
    for flag in found:
        if flag.name in ABSL_FLAGS:
            problems.append(
                (flag.source, f"{flag.spelling!r}: absl's --{flag.name} {ABSL_FLAGS[flag.name]}; remove it")
            )
            continue
        miss = matcher.near_miss(flag.name)
        if miss:
            problems.append((flag.source, f"flag {flag.spelling!r}: {miss.message}"))
        elif flag.text is None:
            problems.append((flag.source, f"flag {flag.spelling!r} has no value; write --{flag.name}=VALUE"))
    for arg in positional:
        problems.append(
            (
                arg.source,
                f"positional argument {arg.text!r}: the trainer takes only --key=value flags (it would refuse to start)",
            )
        )
    return problems


def _absl(argv: list[str]) -> tuple[dict[str, str] | None, str]:
    """The trainer's own flag parser on `argv`: (flags, '') or (None, its error)."""
    captured_out, captured_err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(captured_out), contextlib.redirect_stderr(captured_err):
            values = cli_flags.parse(argv, registry())
    except SystemExit:
        return None, captured_err.getvalue().strip().removeprefix("error: ") or "refused by the trainer's flag parser"
    if values is None:
        return None, "asks for help: the trainer would print it and exit without training"
    return values, ""


def _layers(inputs: trainer_inputs.Inputs) -> list[tuple[str, dict[str, str]]]:
    """The environment's configuration keys, one layer per source (the merge already happened, as
    in the kubelet; a value known only at run time takes the key's default)."""
    defaults = keyset.every_key(registry())
    layers: dict[str, dict[str, str]] = {}
    for name, value in inputs.env.items():
        if CONFIG_LIKE_ENV.match(name):
            text = value.text if value.text is not None else (defaults[name].default if name in defaults else "")
            layers.setdefault(value.source, {})[name] = text
    return list(layers.items())


def judge(view: Rendered, name: str, c: Container, root: Path) -> Judged:
    configmaps = {d.get("metadata", {}).get("name"): d for d in view.of_kind("ConfigMap")}
    job_name = str((c.pod.job.doc.get("metadata") or {}).get("name", ""))
    pod = trainer_inputs.Pod(job_name, c.pod.replica_type)
    inputs = trainer_inputs.derive(c.spec, c.field, configmaps, pod)
    judged = Judged(view, name, c, inputs, problems=list(inputs.problems))
    judged.problems += _names_problems(inputs, platform.allowlist(root).environment)
    flag_problems = _flag_problems(inputs)
    judged.problems += flag_problems
    if flag_problems or any(where.endswith(".command") for where, _ in inputs.problems):
        return judged
    flags, error = _absl([a.text or "" for a in inputs.argv])
    if flags is None:
        judged.problems.append((f"{c.field}.args", error))
        return judged
    try:
        judged.config = keyset.parse_values([*_layers(inputs), (f"{c.field}.args", flags)], registry())
    except ConfigError as exc:
        judged.problems.append((f"{c.field}.env", str(exc)))
    return judged


_MEMO: dict[int, tuple[Rendered, Path, list[Judged]]] = {}


def judged(r: Rendered, root: Path) -> list[Judged]:
    """Every trainer container of every view of `r`, judged once however many rules ask."""
    memo = _MEMO.get(id(r))
    if memo is not None and memo[0] is r and memo[1] == root:
        return memo[2]
    found = [judge(view, name, c, root) for view, name in views(r) for c in trainer_containers(view)]
    if len(_MEMO) > 16:
        _MEMO.clear()
    _MEMO[id(r)] = (r, root, found)
    return found


def rule_trainer_config(r: Rendered, root: Path) -> Iterator[Violation]:
    yield from first_per_problem(
        Violation(r.name, j.name or describe(j.container.pod.job.doc), where, message)
        for j in judged(r, root)
        for where, message in j.problems
    )


def rule_configmap_keys(r: Rendered) -> Iterator[Violation]:
    """Keys the API server refuses in a ConfigMap fail here, not after the merge."""
    for doc in r.of_kind("ConfigMap"):
        for section in ("data", "binaryData"):
            for key in doc.get(section) or {}:
                key = str(key)
                if not CONFIGMAP_KEY.match(key) or len(key) > 253:
                    miss = known_keys().near_miss(key)
                    hint = f"; {miss.message}" if miss else ""
                    yield Violation(
                        r.name,
                        describe(doc),
                        f"{section}[{ascii(key)[1:-1]}]",
                        "the API server refuses this key (letters, digits, '-', '_', '.' only, at most 253)" + hint,
                    )


def _gpus(c: Container) -> int:
    limits = (c.spec.get("resources") or {}).get("limits") or {}
    try:
        return max(int(limits.get("nvidia.com/gpu", 0) or 0), 0)
    except (TypeError, ValueError):
        return 0  # the budget rule reports a quantity it cannot read


def _replicas(replica: dict) -> int:
    value = replica.get("replicas", 1)
    return value if isinstance(value, int) and value > 0 else 0


def rule_batch_splits_over_replicas(r: Rendered, root: Path) -> Iterator[Violation]:
    yield from first_per_problem(_batch_splits(r, root))


def _batch_splits(r: Rendered, root: Path) -> Iterator[Violation]:
    by_job: dict[tuple[int, int], list[Judged]] = {}
    for j in judged(r, root):
        if j.container.pod.replica_type in SYNC_REPLICA_TYPES:
            by_job.setdefault((id(j.view), id(j.container.pod.job.doc)), []).append(j)
    for group in by_job.values():
        replicas = sum(_replicas(j.container.pod.replica) * max(_gpus(j.container), 1) for j in group)
        config = group[0].config
        if config is None or replicas == 0:
            continue  # rule_trainer_config, or the replica rule, reports it
        if config.batch_size % replicas:
            job = group[0].container.pod.job
            yield Violation(
                r.name,
                group[0].name or describe(job.doc),
                f"{job.prefix}.tfReplicaSpecs",
                f"batchSize={config.batch_size} does not split over {replicas} replicas (pods x GPUs); the trainer "
                f"would refuse to start: use a multiple of {replicas}",
            )


RULES = [rule_configmap_keys]
ROOT_RULES = [rule_trainer_config, rule_batch_splits_over_replicas]
