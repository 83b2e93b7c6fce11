"""The commands of `python -m trainers <command>`: the runtime's own (train, predict, evaluate,
optimize, check-config) and any a task registers, e.g. an interactive `chat` or a game's `play`.

A task registers commands by returning them from `Task.commands()`: {name: Command(help,
main)}, where `main(argv, registry) -> exit code`. Command names are one namespace: a task may
not take a runtime command's name or another task's. `python -m trainers --help` lists this
table. Nothing here imports TensorFlow: a command imports what it needs when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trainers.runtime.registry import TaskRegistry


@dataclass(frozen=True)
class Command:
    help: str  # one line; a second line may follow after a newline
    main: Callable[[list[str], TaskRegistry], int]
    owner: str = "runtime"


def _train(process_start: float | None):
    def main(argv: list[str], registry: TaskRegistry) -> int:
        from trainers.runtime import cli_flags, trainer

        flag_values = cli_flags.parse(argv, registry)
        if flag_values is None:
            return 0
        return trainer.main(flag_values, registry, process_start=process_start)

    return main


def _predict(argv: list[str], registry: TaskRegistry) -> int:
    from trainers.runtime import predict

    return predict.main(argv, registry)


def _evaluate(argv: list[str], registry: TaskRegistry) -> int:
    from trainers.runtime import evaluate

    return evaluate.main(argv, registry)


def _optimize(argv: list[str], registry: TaskRegistry) -> int:
    from trainers.runtime import optimize

    return optimize.main(argv, registry)


def _check_config(argv: list[str], registry: TaskRegistry) -> int:
    from trainers.runtime import check_config

    return check_config.main(argv, registry)


def runtime_commands(process_start: float | None = None) -> dict[str, Command]:
    """`process_start` (time.monotonic() before TensorFlow was imported) lets `train` report the
    seconds from process start to the first step."""
    return {
        "train": Command(
            "train one model; configuration from --flags, environment, defaults\n"
            "(python -m trainers train --help lists every key and exit code)",
            _train(process_start),
        ),
        "predict": Command("run an exported SavedModel on texts", _predict),
        "evaluate": Command("score an exported SavedModel on a labelled file", _evaluate),
        "optimize": Command(
            "quantize an export to TFLite (dynamic, float16, int8) and report size, latency, quality",
            _optimize,
        ),
        "check-config": Command("check experiment ConfigMaps without starting TensorFlow", _check_config),
    }


def task_commands(task) -> dict[str, Command]:
    found = dict(task.commands())
    return {name: Command(command.help, command.main, owner=task.name) for name, command in found.items()}


def table(registry: TaskRegistry, process_start: float | None = None) -> dict[str, Command]:
    """Every command: the runtime's, then each task's in registry order."""
    commands = runtime_commands(process_start)
    for task in registry.tasks:
        for name, command in task_commands(task).items():
            if name in commands:
                taken = commands[name].owner
                raise ValueError(f"task {task.name} registers command {name!r}, which {taken} already has")
            commands[name] = command
    return commands


def usage(commands: dict[str, Command]) -> str:
    width = max(len(name) for name in commands) + 1
    lines = ["usage: python -m trainers <command> [options]", "", "commands:"]
    for name, command in commands.items():
        first, *more = command.help.splitlines()
        owner = "" if command.owner == "runtime" else f" (task {command.owner})"
        lines.append(f"  {name:<{width}} {first}{owner}")
        lines += [f"  {'':<{width}} {line}" for line in more]
    return "\n".join(lines) + "\n"
