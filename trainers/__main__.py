"""Command line: `python -m trainers {train,predict,evaluate,check-config} ...`."""

from __future__ import annotations

import time

PROCESS_START = time.monotonic()  # before TensorFlow is imported: start-up time is measured

import os  # noqa: E402
import sys  # noqa: E402

# TensorFlow's C++ start-up chatter (CPU features, oneDNN) hides the run's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

USAGE = """usage: python -m trainers <command> [options]

commands:
  train         train one model; configuration from --flags, environment, defaults
                (python -m trainers train --help lists every key)
  predict       classify texts with an exported SavedModel
  evaluate      score an exported SavedModel on a labelled file
  check-config  check experiment ConfigMaps without starting TensorFlow
"""


def _train(argv: list[str]) -> int:
    from trainers import cli_flags, train

    flag_values = cli_flags.parse(argv)
    if flag_values is None:
        return 0
    return train.main(flag_values, process_start=PROCESS_START)


def _predict(argv: list[str]) -> int:
    from trainers import predict

    return predict.main(argv)


def _evaluate(argv: list[str]) -> int:
    from trainers import evaluate

    return evaluate.main(argv)


def _check_config(argv: list[str]) -> int:
    from trainers import check_config

    return check_config.main(argv)


COMMANDS = {"train": _train, "predict": _predict, "evaluate": _evaluate, "check-config": _check_config}


def run(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    command = COMMANDS.get(argv[0])
    if command is None:
        print(f"unknown command {argv[0]!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    return command(argv[1:])


if __name__ == "__main__":
    sys.exit(run())
