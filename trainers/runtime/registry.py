"""The task registry: `modelType` -> the task that trains it.

The runtime never imports a task. `trainers/tasks/__init__.py` lists the built-in task modules;
`TEXTJOBS_TASK_MODULES` (comma-separated module names) adds more without touching either, which
is how the tests add a task of their own. A task module exposes `TASK`, an instance of
`trainers.runtime.task.Task`, and must import without TensorFlow (`make validate` loads every
task to check ConfigMaps). Which keys a task's run has is keyset.py's business.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable

PLUGIN_ENV = "TEXTJOBS_TASK_MODULES"


class TaskRegistry:
    def __init__(self, module_names: Iterable[str], default_model_type: str):
        extra = [m.strip() for m in os.environ.get(PLUGIN_ENV, "").split(",") if m.strip()]
        self.tasks = []
        self.modules: dict[str, str] = {}  # task name -> the module that registered it (its tools live there)
        for name in [*module_names, *extra]:
            task = importlib.import_module(name).TASK
            clash = set(task.model_types) & set(self.model_types())
            if clash:
                raise ValueError(f"task {task.name} ({name}) claims model types already taken: {sorted(clash)}")
            self.tasks.append(task)
            self.modules[task.name] = name
        self.default_model_type = default_model_type

    def model_types(self) -> list[str]:
        return [m for task in self.tasks for m in task.model_types]

    def for_model_type(self, model_type: str):
        model_type = model_type or self.default_model_type
        return next((t for t in self.tasks if model_type in t.model_types), None)

    def by_name(self, name: str):
        return next((t for t in self.tasks if t.name == name), None)
