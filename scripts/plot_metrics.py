"""Plot a run's metrics.json to a PNG: loss on the left, every score on the right (accuracy,
token accuracy, ROUGE...), train and validation, per epoch.

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
    figure, (loss_axes, score_axes) = plt.subplots(1, 2, figsize=(10, 4))
    scores = [k for k in history[-1] if k not in ("epoch", "step") and not k.endswith("loss")]
    for axes, title, names in ((loss_axes, "loss", ["loss", "val_loss"]), (score_axes, "scores", scores)):
        for name in names:
            if name in history[-1]:
                style = "s--" if name.startswith("val_") else "o-"
                axes.plot(epochs, [row.get(name, float("nan")) for row in history], style, label=name)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(title)
        axes.grid(alpha=0.3)
        if names:
            axes.legend(fontsize="small")
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
