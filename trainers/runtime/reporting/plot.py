"""A run's metrics as a PNG: loss on the left, every score on the right (accuracy, token accuracy,
ROUGE...), train and validation, per report period.

matplotlib is imported only when a plot is drawn, and is not in the trainer image: the tracking
sink draws the plot where matplotlib is installed (`make run`, CI) and skips it elsewhere
(the MLflow UI charts the same metrics). `python -m scripts.plot_metrics RUN_DIR` draws one from
a run directory.
"""

from __future__ import annotations

from pathlib import Path


def plot(metrics: dict, out: Path) -> Path:
    """Draw `metrics` (metrics.json's content) to `out`; ImportError without matplotlib."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    history = metrics["history"]
    if not history:
        raise ValueError("metrics.json has no epochs yet")
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
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out
