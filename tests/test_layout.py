"""The trainer's layering, read from every import in trainers/ (lazy ones inside functions too):
the runtime imports neither a task nor the shared code; the shared code imports no task; no
task imports another task; and no modules import each other in a loop."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

PACKAGE = ROOT / "trainers"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the trainers modules it imports. `from package import submodule` counts as an
    import of the submodule alone, as the package's __init__ only hands names on."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                submodules = [f"{node.module}.{alias.name}" for alias in node.names]
                targets = [s if s in modules else node.module for s in submodules]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def owner(module: str) -> str:
    """runtime, shared, tasks.<task>, or the module itself for the rest."""
    parts = module.split(".")
    if parts[1:2] == ["tasks"] and len(parts) > 2:
        return f"tasks.{parts[2]}"
    return parts[1] if len(parts) > 1 else module


def test_layers_import_only_downwards():
    problems = []
    for module, imports in import_graph().items():
        mine = owner(module)
        for target in imports:
            theirs = owner(target)
            if mine == "runtime" and (theirs == "shared" or theirs.startswith("tasks")):
                problems.append(f"{module} (runtime) imports {target}")
            if mine == "shared" and theirs.startswith("tasks"):
                problems.append(f"{module} (shared) imports {target}")
            if mine.startswith("tasks.") and theirs.startswith("tasks.") and mine != theirs:
                problems.append(f"{module} ({mine}) imports {target} ({theirs})")
    assert not problems, "\n".join(problems)


def test_no_modules_import_each_other_in_a_loop():
    graph = import_graph()
    cycles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)
