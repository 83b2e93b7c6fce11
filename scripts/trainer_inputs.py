"""What reaches the trainer from a pod spec: its environment and its command line, as Kubernetes
builds them, and the flags absl reads from that command line.

One derivation for two users: `make run` (scripts/localrun.py) starts the trainer with exactly
this, and the policy (scripts/policy/trainer_config.py) judges exactly this with the trainer's own
parser. Every way a value reaches the trainer is followed:

- the environment: `envFrom` ConfigMaps (in order, with their `prefix`), then `env` entries in
  order: literal values with `$(VAR)` references expanded as the kubelet does, `configMapKeyRef`
  values read from the rendered ConfigMap, `fieldRef` values the pod will have (its job name,
  replica type and index); a Secret's values are known only at run time;
- the command line: the image's entrypoint (`python -m trainers train`) or the container's
  `command`, followed by its `args`, with `$(VAR)` expanded; flags in every form absl accepts
  (`--key=value`, `--key value`, `-key=value`, `-key value`), wherever they are (in `command` too).

Anything that cannot be derived (a Secret's keys through `envFrom`, a command that is not the
trainer) is reported as a problem rather than guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The image's ENTRYPOINT (images/trainer/Dockerfile): what runs when a container sets no command.
ENTRYPOINT = ("python", "-m", "trainers", "train")
PYTHONS = re.compile(r"^(.*/)?python(3(\.\d+)?)?$")
JOB_NAME_LABEL = "training.kubeflow.org/job-name"
# Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion): $$ escapes a dollar.
REFERENCE = re.compile(r"\$\$|\$\(([^)]*)\)")


@dataclass(frozen=True)
class Value:
    name: str
    text: str | None  # None: known only at run time (a Secret, a resource field)
    source: str  # where it is set, as a field path a reviewer can find


@dataclass(frozen=True)
class Pod:
    """What the operator gives a replica's pod: the values `fieldRef` env entries read."""

    job_name: str
    replica_type: str
    index: int = 0
    namespace: str = "textjobs"

    def field(self, path: str) -> str | None:
        name = f"{self.job_name}-{self.replica_type.lower()}-{self.index}"
        labels = {
            JOB_NAME_LABEL: self.job_name,
            "training.kubeflow.org/replica-type": self.replica_type.lower(),
            "training.kubeflow.org/replica-index": str(self.index),
            "training.kubeflow.org/operator-name": "tfjob-controller",
        }
        known = {"metadata.name": name, "metadata.namespace": self.namespace}
        known.update({f"metadata.labels['{k}']": v for k, v in labels.items()})
        return known.get(path)


@dataclass
class Inputs:
    env: dict[str, Value] = field(default_factory=dict)
    argv: list[Value] = field(default_factory=list)  # the trainer's arguments, after `train`
    problems: list[tuple[str, str]] = field(default_factory=list)  # (field, what cannot be derived)

    def environment(self) -> dict[str, str]:
        """The variables whose values are known before the pod runs."""
        return {name: v.text for name, v in self.env.items() if v.text is not None}


def expand(text: str, env: dict[str, Value]) -> str:
    """`$(VAR)` replaced by VAR's value when VAR is defined before (and known); `$$` is `$`."""

    def replace(match: re.Match) -> str:
        if match[0] == "$$":
            return "$"
        value = env.get(match[1])
        return value.text if value is not None and value.text is not None else match[0]

    return REFERENCE.sub(replace, text)


def _configmap_env(container: dict, field_path: str, configmaps: dict[str, dict], inputs: Inputs) -> None:
    for index, source in enumerate(container.get("envFrom") or []):
        prefix = str(source.get("prefix") or "")
        where = f"{field_path}.envFrom[{index}]"
        if source.get("secretRef"):
            name = source["secretRef"].get("name")
            inputs.problems.append(
                (
                    f"{where}.secretRef",
                    f"Secret {name!r}: every key of a Secret becomes a variable nobody reviewed (a trainer key among "
                    "them would change the run unseen); take each value with env[].valueFrom.secretKeyRef",
                )
            )
        ref = source.get("configMapRef")
        if not ref:
            continue
        name = ref.get("name")
        if name not in configmaps:
            if not ref.get("optional"):
                inputs.problems.append(
                    (f"{where}.configMapRef", f"ConfigMap {name!r} is not rendered by this experiment")
                )
            continue
        for key, text in (configmaps[name].get("data") or {}).items():
            shown = f" with prefix {prefix!r}" if prefix else ""
            inputs.env[prefix + key] = Value(prefix + key, str(text), f"ConfigMap {name} data[{key}] (envFrom{shown})")


def _env_entry(item: dict, where: str, configmaps: dict[str, dict], pod: Pod | None, inputs: Inputs) -> Value:
    name = str(item.get("name", ""))
    if "valueFrom" not in item:
        return Value(name, expand(str(item.get("value", "")), inputs.env), where)
    source = item.get("valueFrom") or {}
    if "fieldRef" in source:
        path = (source.get("fieldRef") or {}).get("fieldPath", "")
        return Value(name, pod.field(path) if pod else None, f"{where}.valueFrom.fieldRef")
    if "configMapKeyRef" in source:
        ref = source.get("configMapKeyRef") or {}
        data = (configmaps.get(ref.get("name")) or {}).get("data") or {}
        text = data.get(ref.get("key"))
        if text is None and not ref.get("optional"):
            inputs.problems.append(
                (
                    f"{where}.valueFrom.configMapKeyRef",
                    f"key {ref.get('key')!r} of ConfigMap {ref.get('name')!r} is not rendered by this experiment",
                )
            )
        return Value(name, None if text is None else str(text), f"{where}.valueFrom.configMapKeyRef")
    return Value(name, None, f"{where}.valueFrom")  # a Secret's value or a resource field: run time only


def environment(container: dict, field_path: str, configmaps: dict[str, dict], pod: Pod | None = None) -> Inputs:
    """The container's environment as the kubelet builds it (envFrom first, then env in order)."""
    inputs = Inputs()
    _configmap_env(container, field_path, configmaps, inputs)
    for item in container.get("env") or []:
        value = _env_entry(item, f"{field_path}.env[{item.get('name')}]", configmaps, pod, inputs)
        inputs.env[value.name] = value
    return inputs


def trainer_arguments(command: list[str | None]) -> list[str | None] | None:
    """The arguments after `python -m trainers train` at the start of `command`, or None if it does
    not run the trainer that way (the only form the image and the policy know)."""
    head = command[:4]
    if len(head) == 4 and PYTHONS.match(head[0] or "") and head[1:] == ["-m", "trainers", "train"]:
        return command[4:]
    return None


def derive(container: dict, field_path: str, configmaps: dict[str, dict], pod: Pod | None = None) -> Inputs:
    """Environment and trainer arguments of one container."""
    inputs = environment(container, field_path, configmaps, pod)
    command = container.get("command")
    if command is None:
        command_values = [Value("", part, "the image's entrypoint") for part in ENTRYPOINT]
    else:
        command_values = [
            Value("", expand(str(p), inputs.env), f"{field_path}.command[{i}]") for i, p in enumerate(command)
        ]
    args = [
        Value("", expand(str(a), inputs.env), f"{field_path}.args[{i}]")
        for i, a in enumerate(container.get("args") or [])
    ]
    tail = trainer_arguments([v.text for v in command_values])
    if tail is None:
        inputs.problems.append(
            (
                f"{field_path}.command",
                f"{[v.text for v in command_values]} does not run `python -m trainers train`: what it passes to the "
                "trainer cannot be checked; remove `command` (the image runs the trainer) and give flags in `args`",
            )
        )
        return inputs
    inputs.argv = command_values[len(command_values) - len(tail) :] + args
    return inputs


def command_line(container: dict, env: dict[str, Value]) -> list[str]:
    """The process's full command line: command (or the image's entrypoint) and args, expanded."""
    command = container.get("command") or list(ENTRYPOINT)
    return [expand(str(part), env) for part in [*command, *(container.get("args") or [])]]


@dataclass(frozen=True)
class Flag:
    name: str
    text: str | None  # None: a flag given without its value
    source: str
    spelling: str  # as written, e.g. "-numEpochs value"


def flags(argv: list[Value]) -> tuple[list[Flag], list[Value]]:
    """(flags, positional arguments) as absl reads `argv`: one or two dashes, `=value` or the next
    argument as the value (every trainer flag takes a value); `--` ends the flags."""
    found: list[Flag] = []
    positional: list[Value] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        text = arg.text or ""
        index += 1
        if text == "--":
            positional += argv[index:]
            break
        if not text.startswith("-") or text.strip("-") == "":
            positional.append(arg)
            continue
        body = text[2:] if text.startswith("--") else text[1:]
        if "=" in body:
            name, value = body.split("=", 1)
            found.append(Flag(name, value, arg.source, text))
        elif index < len(argv):
            found.append(Flag(body, argv[index].text, arg.source, f"{text} {argv[index].text}"))
            index += 1
        else:
            found.append(Flag(body, None, arg.source, text))
    return found, positional
