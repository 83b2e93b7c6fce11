"""Model registry: `modelType` -> builder. Every model maps token ids [B, L] to class scores
[B, K] in [0, 1] (softmax or sigmoid for the CNNs, capsule lengths for the capsule nets)."""

from trainers.models.builders import LOSS_KIND, build_model

__all__ = ["LOSS_KIND", "build_model"]
