"""Keras 3 layers used by the models; each has `get_config` so models serialize."""

from trainers.tasks.classify.layers.capsules import (
    CapsuleLength,
    ClassCapsules,
    ConvCapsules,
    MaskPositions,
    PositionMask,
    PrimaryCapsules,
    dynamic_routing,
    leaky_softmax,
    squash,
)
from trainers.tasks.classify.layers.ngram import NGramConvPool

__all__ = [
    "CapsuleLength",
    "ClassCapsules",
    "ConvCapsules",
    "MaskPositions",
    "NGramConvPool",
    "PositionMask",
    "PrimaryCapsules",
    "dynamic_routing",
    "leaky_softmax",
    "squash",
]
