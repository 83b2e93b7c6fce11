"""The platform team's data: platform/allowlist.yaml (what an experiment may change) and
platform/budget.yaml (how much it may use). Loaded once per repository root and checked for
shape, so a typo in the data fails with the file and key rather than weakening a rule."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

from scripts.policy import fieldpath, quantity

ALLOWLIST = "platform/allowlist.yaml"
BUDGET = "platform/budget.yaml"


class PlatformDataError(ValueError):
    pass


@dataclass(frozen=True)
class FieldRule:
    kind: str
    paths: tuple[fieldpath.Path, ...]
    values: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Workload:
    name: str  # experiments, searches
    directory: str
    reference: str
    project: str | None
    prefix: str
    suffix: str
    kustomization_keys: frozenset[str]
    components: str
    kinds: frozenset[tuple[str, str]]
    fields: tuple[FieldRule, ...]


@dataclass(frozen=True)
class Allowlist:
    workloads: tuple[Workload, ...]
    reserved_names: frozenset[str]
    environment: tuple[tuple[str, str], ...]  # (pattern, why)
    output_schemes: tuple[str, ...]
    output_run: str

    def workload_of(self, kustomization: str) -> Workload | None:
        parent = str(Path(kustomization).parent)
        return next((w for w in self.workloads if w.directory == parent), None)


def _require(data: dict, key: str, where: str, kind: type | tuple = object):
    if not isinstance(data, dict) or key not in data:
        raise PlatformDataError(f"{where}: missing key {key!r}")
    if not isinstance(data[key], kind):
        at = f"{where}: {key}" if where in (ALLOWLIST, BUDGET) else f"{where}.{key}"
        raise PlatformDataError(f"{at}: expected {getattr(kind, '__name__', kind)}, got {data[key]!r}")
    return data[key]


def _load(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PlatformDataError(f"{path.name}: {exc}") from None
    if not isinstance(data, dict):
        raise PlatformDataError(f"{path.name}: expected a mapping")
    return data


def _field_rule(entry: dict, where: str) -> FieldRule:
    under = fieldpath.parse(str(entry.get("under", "")))
    paths = _require(entry, "paths", where, list)
    return FieldRule(
        kind=str(_require(entry, "kind", where, str)),
        paths=tuple((*under, *fieldpath.parse(str(p))) for p in paths),
        values=tuple(str(v) for v in entry.get("values") or ()),
        why=str(entry.get("why", "")),
    )


def _workload(name: str, data: dict) -> Workload:
    where = f"{ALLOWLIST}: workloads.{name}"
    names = data.get("names") or {}
    kustomization = _require(data, "kustomization", where, dict)
    kinds = frozenset(
        (str(k.get("group", "")), str(_require(k, "kind", f"{where}.kinds", str)))
        for k in _require(data, "kinds", where, list)
    )
    return Workload(
        name=name,
        directory=str(_require(data, "directory", where, str)),
        reference=str(_require(data, "reference", where, str)),
        project=data.get("project"),
        prefix=str(names.get("prefix", "")),
        suffix=str(names.get("suffix", "")),
        kustomization_keys=frozenset(_require(kustomization, "keys", f"{where}.kustomization", list)),
        components=str(kustomization.get("components", "components")),
        kinds=kinds,
        fields=tuple(
            _field_rule(e, f"{where}.fields[{i}]") for i, e in enumerate(_require(data, "fields", where, list))
        ),
    )


def _stamp(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def allowlist(root: Path) -> Allowlist:
    return _allowlist(root, _stamp(root / ALLOWLIST))


@functools.cache
def _allowlist(root: Path, _stamp: int) -> Allowlist:
    data = _load(root / ALLOWLIST)
    workloads = _require(data, "workloads", ALLOWLIST, dict)
    outputs = _require(data, "outputs", ALLOWLIST, dict)
    return Allowlist(
        workloads=tuple(_workload(name, spec) for name, spec in workloads.items()),
        reserved_names=frozenset(str(n) for n in data.get("reservedNames") or ()),
        environment=tuple(
            (str(_require(e, "pattern", f"{ALLOWLIST}: environment", str)), str(e.get("why", "")))
            for e in data.get("environment") or ()
        ),
        output_schemes=tuple(str(s) for s in _require(outputs, "schemes", f"{ALLOWLIST}: outputs", list)),
        output_run=str(_require(outputs, "run", f"{ALLOWLIST}: outputs", str)),
    )


@dataclass(frozen=True)
class Limit:
    key: str  # where it is in budget.yaml, e.g. "pod.gpus"
    value: Decimal
    text: str  # as written there

    def __str__(self) -> str:
        return f"{BUDGET}: {self.key} = {self.text}"


@dataclass(frozen=True)
class Estimate:
    name: str
    model_types: tuple[str, ...]
    expression: str


@dataclass(frozen=True)
class Budget:
    limits: dict[str, Limit]  # "job.gpus" -> Limit
    config: dict[str, tuple[Limit | None, Limit | None]]  # key -> (min, max)
    memory_share: Decimal
    estimates: tuple[Estimate, ...]
    registries: tuple[str, ...]

    def limit(self, key: str) -> Limit | None:
        return self.limits.get(key)


def _number(value: object, where: str) -> Decimal:
    try:
        return quantity.parse(value)
    except ValueError as exc:
        raise PlatformDataError(f"{where}: {exc}") from None


def budget(root: Path) -> Budget:
    return _budget(root, _stamp(root / BUDGET))


@functools.cache
def _budget(root: Path, _stamp: int) -> Budget:
    data = _load(root / BUDGET)
    limits = {}
    for section in ("job", "pod", "search"):
        for key, value in (_require(data, section, BUDGET, dict) or {}).items():
            name = f"{section}.{key}"
            limits[name] = Limit(name, _number(value, f"{BUDGET}: {name}"), str(value))
    config = {}
    for key, bounds in (data.get("config") or {}).items():
        where = f"config.{key}"
        if not isinstance(bounds, dict) or not set(bounds) <= {"min", "max"}:
            raise PlatformDataError(f"{BUDGET}: {where}: expected {{min: N, max: N}}")
        config[key] = tuple(
            Limit(f"{where}.{end}", _number(bounds[end], f"{BUDGET}: {where}.{end}"), str(bounds[end]))
            if end in bounds
            else None
            for end in ("min", "max")
        )
    memory = data.get("memory") or {}
    estimates = tuple(
        Estimate(
            str(_require(e, "name", f"{BUDGET}: memory.estimates", str)),
            tuple(_require(e, "modelTypes", f"{BUDGET}: memory.estimates", list)),
            str(_require(e, "bytes", f"{BUDGET}: memory.estimates", str)),
        )
        for e in memory.get("estimates") or ()
    )
    registries = _require(_require(data, "images", BUDGET, dict), "registries", f"{BUDGET}: images", list)
    return Budget(
        limits,
        config,
        _number(memory.get("share", 1), f"{BUDGET}: memory.share"),
        estimates,
        tuple(str(r) for r in registries),
    )
