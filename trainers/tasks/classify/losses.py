"""Per-example losses. The training loop divides their sum by the global batch size."""

from __future__ import annotations

from keras import ops


def margin_loss(targets, lengths, m_plus=0.9, m_minus=0.1, downweight=0.25):
    """Capsule margin loss, summed over classes (Sabour et al. 2017; weights as in Zhao et al.).

    Present classes pay (max(0, m+ - |v|))^2; absent ones pay downweight * (max(0, |v| - m-))^2.
    """
    present = targets * ops.square(ops.relu(m_plus - lengths))
    absent = downweight * (1.0 - targets) * ops.square(ops.relu(lengths - m_minus))
    return ops.sum(present + absent, axis=-1)


def crossentropy(targets, scores, multi_label: bool):
    """Categorical (single-label) or class-summed binary (multi-label) cross-entropy on scores."""
    scores = ops.clip(scores, 1e-7, 1.0 - 1e-7)
    if multi_label:
        per_class = -(targets * ops.log(scores) + (1.0 - targets) * ops.log(1.0 - scores))
        return ops.sum(per_class, axis=-1)
    return -ops.sum(targets * ops.log(scores), axis=-1)


def per_example_loss(cfg, loss_kind: str):
    if loss_kind == "margin":
        return lambda y, s: margin_loss(y, s, cfg.margin_positive, cfg.margin_negative, cfg.margin_downweight)
    return lambda y, s: crossentropy(y, s, cfg.multi_label)
