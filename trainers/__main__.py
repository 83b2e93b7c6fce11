"""Command line: `python -m trainers {train,predict,evaluate,check-config} ...`."""

from __future__ import annotations

import time

PROCESS_START = time.monotonic()  # before TensorFlow is imported: start-up time is measured

import os  # noqa: E402
import sys  # noqa: E402

# TensorFlow's C++ start-up chatter (CPU features, oneDNN) hides the run's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from trainers.runtime.errors import ConfigError, report  # noqa: E402
from trainers.runtime.tempdir import ensure_temp_dir  # noqa: E402

USAGE = """usage: python -m trainers <command> [options]

commands:
  train         train one model; configuration from --flags, environment, defaults
                (python -m trainers train --help lists every key and exit code)
  predict       run an exported SavedModel on texts
  evaluate      score an exported SavedModel on a labelled file
  check-config  check experiment ConfigMaps without starting TensorFlow
"""


def _train(argv: list[str], registry) -> int:
    from trainers.runtime import cli_flags, trainer

    flag_values = cli_flags.parse(argv, registry)
    if flag_values is None:
        return 0
    return trainer.main(flag_values, registry, process_start=PROCESS_START)


def _predict(argv: list[str], registry) -> int:
    from trainers.runtime import predict

    return predict.main(argv, registry)


def _evaluate(argv: list[str], registry) -> int:
    from trainers.runtime import evaluate

    return evaluate.main(argv, registry)


def _check_config(argv: list[str], registry) -> int:
    from trainers.runtime import check_config

    return check_config.main(argv, registry)


COMMANDS = {"train": _train, "predict": _predict, "evaluate": _evaluate, "check-config": _check_config}


def run(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:  # before anything imports TensorFlow, which needs a temporary directory at import
        ensure_temp_dir()
    except ConfigError as exc:
        return report(exc)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    command = COMMANDS.get(argv[0])
    if command is None:
        print(f"unknown command {argv[0]!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    from trainers.tasks import registry

    return command(argv[1:], registry())


if __name__ == "__main__":
    sys.exit(run())
