"""What one experiment may use: platform/budget.yaml, owned by the platform team.

Per pod (GPUs, CPU and memory limits, ephemeral storage with every emptyDir's size), per job (all
pods together, deadline, restarts), per Katib search (trials), on the trainer's parsed
configuration (run length, the crash-loop budget, peer timeout) and on the memory the model's own
keys imply, estimated by the budget's formulas and compared with the trainer's memory limit: sizes
that each pass their own bound can together need more than the pod has. Every violation names
the limit as `platform/budget.yaml: <key> = <value>`.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from scripts.manifests import Rendered
from scripts.policy import platform, quantity
from scripts.policy.trainer_config import first_per_problem, judged, views
from scripts.policy.violation import Violation, describe
from scripts.policy.walk import jobs, pods
from trainers.runtime.config import snake

RESOURCES = {"gpus": "nvidia.com/gpu", "cpu": "cpu", "memory": "memory"}


def _quantity(value: object) -> Decimal | None:
    try:
        return quantity.parse(value)
    except ValueError:
        return None


def _shown(value: Decimal, key: str = "") -> str:
    if key in ("memory", "ephemeralStorage"):
        return f"{value / 2**30:.1f}Gi"
    return f"{value.normalize():f}"


def _over(limit: platform.Limit | None, value: Decimal) -> bool:
    return limit is not None and value > limit.value


def _pod_usage(spec: dict) -> tuple[dict[str, Decimal], list[tuple[str, str]]]:
    """Limits summed over the pod's containers (init containers run before, one at a time: the
    largest counts), ephemeral storage with every emptyDir; and problems found on the way."""
    usage = {key: Decimal(0) for key in (*RESOURCES, "ephemeralStorage")}
    problems = []
    init_peak = {key: Decimal(0) for key in usage}
    for kind in ("containers", "initContainers"):
        for index, container in enumerate(spec.get(kind) or []):
            limits = (container.get("resources") or {}).get("limits") or {}
            where = f"{kind}[{container.get('name', index)}].resources.limits"
            for key, resource in [*RESOURCES.items(), ("ephemeralStorage", "ephemeral-storage")]:
                if resource not in limits:
                    continue
                value = _quantity(limits[resource])
                if value is None:
                    problems.append((f"{where}[{resource}]", f"{limits[resource]!r} is not a quantity"))
                elif kind == "containers":
                    usage[key] += value
                else:
                    init_peak[key] = max(init_peak[key], value)
    for volume in spec.get("volumes") or []:
        if "emptyDir" not in volume:
            continue
        empty_dir = volume.get("emptyDir") or {}
        where = f"volumes[{volume.get('name')}].emptyDir"
        if empty_dir.get("medium") == "Memory":
            problems.append(
                (f"{where}.medium", "a memory-backed emptyDir takes node memory outside the container limits; use disk")
            )
        size = _quantity(empty_dir.get("sizeLimit")) if "sizeLimit" in empty_dir else None
        if size is None:
            problems.append(
                (f"{where}.sizeLimit", "unset or unreadable: every emptyDir needs a sizeLimit within the budget")
            )
        else:
            usage["ephemeralStorage"] += size
    return {k: max(v, init_peak[k]) for k, v in usage.items()}, problems


def rule_pod_and_job(r: Rendered, root: Path) -> Iterator[Violation]:
    budget = platform.budget(root)
    for view, name in views(r):
        for job in jobs(view):
            obj = name or describe(job.doc)
            totals = {key: Decimal(0) for key in RESOURCES}
            replicas = 0
            for pod in pods(view):
                if pod.job.doc is not job.doc:
                    continue
                count = pod.replica.get("replicas", 1)
                count = count if isinstance(count, int) and count >= 0 else 0
                replicas += count
                usage, problems = _pod_usage(pod.spec)
                for where, problem in problems:
                    yield Violation(r.name, obj, f"{pod.field}.{where}", problem)
                for key, value in usage.items():
                    limit = budget.limit(f"pod.{key}")
                    if _over(limit, value):
                        yield Violation(
                            r.name,
                            obj,
                            f"{pod.field}.containers",
                            f"{_shown(value, key)} {key} in one {pod.replica_type} pod is over the budget ({limit}); lower it",
                        )
                for key in totals:
                    totals[key] += usage[key] * count
            yield from _job_limits(r, obj, job, replicas, totals, budget)


def _job_limits(r, obj, job, replicas, totals, budget) -> Iterator[Violation]:
    field = f"{job.prefix}.tfReplicaSpecs"
    if _over(budget.limit("job.replicas"), Decimal(replicas)):
        yield Violation(
            r.name, obj, field, f"{replicas} pods in one job is over the budget ({budget.limit('job.replicas')})"
        )
    for key, value in totals.items():
        limit = budget.limit(f"job.{key}")
        if _over(limit, value):
            yield Violation(
                r.name, obj, field, f"{_shown(value, key)} {key} over all pods is over the budget ({limit})"
            )
    run_policy = job.spec.get("runPolicy") or {}
    for key in ("activeDeadlineSeconds", "backoffLimit"):
        value, limit = run_policy.get(key), budget.limit(f"job.{key}")
        if isinstance(value, int) and not isinstance(value, bool) and _over(limit, Decimal(value)):
            yield Violation(r.name, obj, f"{job.prefix}.runPolicy.{key}", f"{value} is over the budget ({limit})")


def rule_search(r: Rendered, root: Path) -> Iterator[Violation]:
    budget = platform.budget(root)
    for experiment in r.of_kind("Experiment"):
        spec = experiment.get("spec") or {}
        for key in ("parallelTrialCount", "maxTrialCount", "maxFailedTrialCount"):
            limit = budget.limit(f"search.{key}")
            if limit is None:
                continue
            value = spec.get(key)
            if not isinstance(value, int) or isinstance(value, bool):
                yield Violation(r.name, describe(experiment), f"spec.{key}", f"{value!r}: set it, at most {limit}")
            elif _over(limit, Decimal(value)):
                yield Violation(r.name, describe(experiment), f"spec.{key}", f"{value} is over the budget ({limit})")


# --- the trainer's configuration ------------------------------------------------------------------

_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
}
_FUNCTIONS = {"max": max, "min": min}


def evaluate(expression: str, names: dict[str, object]) -> Decimal:
    """Arithmetic over configuration keys (+ - * / // parentheses, max, min); ValueError otherwise."""

    def walk(node: ast.AST) -> Decimal:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return Decimal(str(node.value))
        if isinstance(node, ast.Name):
            value = names.get(node.id)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{node.id!r} is not a numeric configuration key")
            return Decimal(str(value))
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
            return _FUNCTIONS[node.func.id](walk(a) for a in node.args)
        raise ValueError(f"{ast.dump(node)[:60]} is not allowed in a budget formula")

    try:
        return walk(ast.parse(expression.strip(), mode="eval"))
    except SyntaxError as exc:
        raise ValueError(f"not a formula: {exc.msg}") from None


def _by_key(config) -> dict[str, object]:
    """The configuration's values by their ConfigMap names (camelCase), as formulas name them."""
    texts = set(config.texts)
    values = config.as_dict()
    return {key: values[snake(key)] for key in texts if snake(key) in values}


def rule_config(r: Rendered, root: Path) -> Iterator[Violation]:
    yield from first_per_problem(_config(r, root))


def _config(r: Rendered, root: Path) -> Iterator[Violation]:
    budget = platform.budget(root)
    for j in judged(r, root):
        if j.config is None:
            continue
        obj = j.name or describe(j.container.pod.job.doc)
        values = _by_key(j.config)
        for key, (low, high) in budget.config.items():
            value = values.get(key)
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            source = j.config.sources.get(key, "default")
            for limit, broken in ((low, low is not None and value < low.value), (high, _over(high, Decimal(value)))):
                if broken:
                    yield Violation(
                        r.name,
                        obj,
                        f"{j.container.field}.env",
                        f"{source}: {key}={value} is outside the budget ({limit})",
                    )
        yield from _memory(r, obj, j, values, budget)


def _memory(r: Rendered, obj: str, j, values: dict, budget: platform.Budget) -> Iterator[Violation]:
    limit = _quantity(((j.container.spec.get("resources") or {}).get("limits") or {}).get("memory"))
    if limit is None:
        return
    for estimate in budget.estimates:
        if j.config.model_type not in estimate.model_types:
            continue
        try:
            needed = evaluate(estimate.expression, values)
        except (ValueError, ArithmeticError) as exc:
            yield Violation(r.name, obj, "platform/budget.yaml", f"memory estimate {estimate.name!r}: {exc}")
            continue
        allowed = limit * budget.memory_share
        if needed > allowed:
            gib = Decimal(2) ** 30
            yield Violation(
                r.name,
                obj,
                f"{j.container.field}.env",
                f"{estimate.name} need about {needed / gib:.1f} GiB with these keys, over {budget.memory_share} of the "
                f"memory limit ({allowed / gib:.1f} GiB; platform/budget.yaml: memory.estimates): lower vocabulary, "
                "dimensions or batch, or raise the memory limit within the budget",
            )


ROOT_RULES = [rule_pod_and_job, rule_search, rule_config]
