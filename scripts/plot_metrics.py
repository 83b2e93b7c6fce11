"""Plot a run's metrics.json (loss and accuracy per epoch, train and validation) to a PNG.

python -m scripts.plot_metrics runs/capsule-b            # writes runs/capsule-b/metrics.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def plot(run_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = metrics["history"]
    if not history:
        raise ValueError(f"{run_dir}/metrics.json has no epochs yet")
    epochs = [row["epoch"] for row in history]
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4))
    for axes, name in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
        for prefix, style in (("", "o-"), ("val_", "s--")):
            if f"{prefix}{name}" in history[0]:
                axes.plot(epochs, [row[f"{prefix}{name}"] for row in history], style, label=f"{prefix}{name}")
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(name)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(f"{metrics.get('run_name', '')} ({metrics.get('model_type', '')})")
    figure.tight_layout()
    out = run_dir / "metrics.png"
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    print(plot(args.run_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
