"""Actions: work the runtime runs after each optimizer step and at each report period's end, with
state that lives in the checkpoints so a resumed run continues exactly.

Magnitude pruning (masks re-applied after every step), weight averaging or a sample reply printed
every N steps are actions; so is anything a task wants to do between steps without owning the
loop. An action

    build(model, optimizer, strategy)  creates its variables; called inside strategy.scope()
    variables()                        what the checkpoint must hold for an exact resume
    after_step(step)                   after optimizer step `step` (1-based), before any checkpoint
                                       of it; on every worker (MultiWorkerMirroredStrategy needs
                                       them all to take part in cross-replica updates)
    epoch_metrics()                    values added to the period's row (and Katib line)
    at_epoch_end(row)                  after the row is recorded (chief only)

`after_step` runs in cross-replica context (outside `strategy.run`): assigning a mirrored
variable there updates every replica's copy identically.

Where actions come from: the task's `TaskRun.actions()`, and the runtime's factories in
`FACTORIES` (each `(cfg, total_steps) -> Action | None`), so a capability every task gets
(pruning, training/pruning.py) is one registered factory, not a change to the trainer (which
imports the runtime's own action modules once, so their factories are registered).
"""

from __future__ import annotations

from collections.abc import Callable


class Action:
    name: str = "action"

    def build(self, model, optimizer, strategy) -> None:
        pass

    def variables(self) -> list:
        return []

    def after_step(self, step: int) -> None:
        pass

    def epoch_metrics(self) -> dict[str, float]:
        return {}

    def at_epoch_end(self, row: dict) -> None:
        pass


# Runtime-wide actions, each enabled by configuration keys: (cfg, total_steps) -> Action | None.
FACTORIES: list[Callable[[object, int], Action | None]] = []


def for_run(cfg, task_actions: list[Action], total_steps: int) -> list[Action]:
    made = [factory(cfg, total_steps) for factory in FACTORIES]
    return [*task_actions, *(a for a in made if a is not None)]


def checkpoint_state(actions: list[Action]) -> dict:
    """{name: [variables]} for tf.train.Checkpoint; names must be unique so restores match."""
    names = [a.name for a in actions]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"actions share names {duplicated}; each needs its own for the checkpoint")
    return {a.name: list(a.variables()) for a in actions if a.variables()}
