"""Plot a run's metrics.json to a PNG: loss on the left, every score on the right (accuracy,
token accuracy, ROUGE...), train and validation, per epoch.

python -m scripts.plot_metrics runs/capsule-b            # writes runs/capsule-b/metrics.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trainers.runtime.reporting.plot import plot as plot_metrics


def plot(run_dir: Path) -> Path:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return plot_metrics(metrics, run_dir / "metrics.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    print(plot(args.run_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
