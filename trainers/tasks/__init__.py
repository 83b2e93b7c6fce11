"""The built-in tasks, one package each; `registry()` maps every `modelType` to its task.

Adding a workload: write `trainers/tasks/<task>/__init__.py` with a `TASK` (see
`trainers/runtime/task.py`) and add its module here. Nothing in `trainers/runtime/` changes.
"""

from __future__ import annotations

import functools

from trainers.runtime.registry import TaskRegistry

BUILT_IN = (
    "trainers.tasks.classify",
    "trainers.tasks.summarize",
    "trainers.tasks.chat",
    "trainers.tasks.embeddings",
)
DEFAULT_MODEL_TYPE = "capsule-b"


@functools.lru_cache(maxsize=1)
def registry() -> TaskRegistry:
    return TaskRegistry(BUILT_IN, DEFAULT_MODEL_TYPE)
