"""The optimizer and its learning-rate schedule, built from configuration keys once the number of
steps is known (a cosine decay needs the total).

    optimizer              adam | adamw (weightDecay, decoupled: Loshchilov & Hutter 2019)
    learningRateSchedule   constant            learningRate throughout (the default)
                           warmup-rsqrt        linear warm-up to learningRate at warmupSteps, then
                                               learningRate * sqrt(warmupSteps / step) (Vaswani
                                               et al. 2017, as the replaced chatbot trained)
                           cosine              optional linear warm-up, then cosine decay to
                                               minLearningRate at the last step (Keras CosineDecay)
    gradientClipNorm       global-norm clipping, done by the step (training/step.py) on the
                           all-reduced gradient, because Keras clips each replica's partial one

With the defaults this is `Adam(learningRate)`, exactly what every run used before the keys
existed. A task may build its own optimizer instead (`TaskRun.optimizer`).
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable("textjobs")
class WarmupInverseSqrt(keras.optimizers.schedules.LearningRateSchedule):
    """peak * min(s / warmup, sqrt(warmup / s)) at 1-based step s: `peak` exactly at s = warmup."""

    def __init__(self, peak: float, warmup_steps: int):
        self.peak = float(peak)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        s = ops.cast(step, "float32") + 1.0
        warmup = float(self.warmup_steps)
        return self.peak * ops.minimum(s / warmup, ops.sqrt(warmup / s))

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps}


def learning_rate(cfg, total_steps: int):
    """A float (constant) or a LearningRateSchedule, from the run's keys."""
    peak = cfg.learning_rate
    if cfg.learning_rate_schedule == "constant":
        return peak
    if cfg.learning_rate_schedule == "warmup-rsqrt":
        return WarmupInverseSqrt(peak, cfg.warmup_steps)
    warmup = min(cfg.warmup_steps, max(total_steps - 1, 0))
    alpha = cfg.min_learning_rate / peak
    if warmup == 0:
        return keras.optimizers.schedules.CosineDecay(peak, decay_steps=max(total_steps, 1), alpha=alpha)
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(total_steps - warmup, 1), alpha=alpha, warmup_target=peak, warmup_steps=warmup
    )


def build(cfg, total_steps: int):
    """The optimizer the keys describe (unbuilt; the trainer builds it inside the strategy scope)."""
    rate = learning_rate(cfg, total_steps)
    common = {"beta_1": cfg.adam_beta1, "beta_2": cfg.adam_beta2, "epsilon": cfg.adam_epsilon}
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=cfg.weight_decay, **common)
    return keras.optimizers.Adam(rate, **common)
