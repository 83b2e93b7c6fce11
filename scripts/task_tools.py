"""`make benchmark TASK=<task>` and `make sample-data TASK=<task>`: run a task's own tool.

Each task keeps its developer tools beside its code, in `trainers/tasks/<task>/tools/`:
`benchmark.py` (speed, memory, quality on real data; prints tables) and `sample_data.py`
(rewrites the task's bundled sample, deterministically). Each has `main(argv) -> exit code`.
Without TASK, `benchmark` runs the classifiers' benchmark (what `make benchmark` always did) and
`sample-data` rewrites every task's sample.

    python -m scripts.task_tools benchmark [TASK] [ARGS...]
    python -m scripts.task_tools sample-data [TASK] [ARGS...]
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

from trainers.tasks import registry

TOOLS = {"benchmark": "benchmark", "sample-data": "sample_data"}
DEFAULT_BENCHMARK_TASK = "classify"


def tool_module(task_name: str, tool: str) -> str | None:
    """The module of a task's tool, or None when the task has no such tool."""
    package = registry().modules.get(task_name)
    if package is None:
        return None
    name = f"{package}.tools.{TOOLS[tool]}"
    try:
        return name if importlib.util.find_spec(name) else None
    except ModuleNotFoundError:  # the task's package has no tools/ at all
        return None


def tasks_with(tool: str) -> list[str]:
    return [task.name for task in registry().tasks if tool_module(task.name, tool)]


def run_tool(task_name: str, tool: str, argv: list[str]) -> int:
    module = tool_module(task_name, tool)
    if module is None:
        known = ", ".join(tasks_with(tool)) or "none"
        print(f"make {tool}: task {task_name!r} has no {tool} tool (tasks that have one: {known})", file=sys.stderr)
        return 2
    return importlib.import_module(module).main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in TOOLS:
        print(__doc__, file=sys.stderr)
        return 2
    tool, rest = argv[0], argv[1:]
    task = rest.pop(0) if rest and not rest[0].startswith("-") else ""
    if task:
        return run_tool(task, tool, rest)
    if tool == "benchmark":
        return run_tool(DEFAULT_BENCHMARK_TASK, tool, rest)
    return max((run_tool(name, tool, rest) for name in tasks_with(tool)), default=0)


if __name__ == "__main__":
    sys.exit(main())
