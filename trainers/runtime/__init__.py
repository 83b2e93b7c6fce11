"""The task-agnostic training runtime; it imports no task (see task.py for the interface)."""
