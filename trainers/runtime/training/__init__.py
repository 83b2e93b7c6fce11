"""The training step and what surrounds it: the step/epoch schedule, the optimizer and its
learning-rate schedule, the input pipeline, and actions run after optimizer steps.

Everything here is task-agnostic; a task shapes it through the hooks of `runtime/task.py`
(`train_input`, `optimizer`, `actions`).
"""
