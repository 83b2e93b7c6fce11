"""Readable, top-to-bottom definitions of the four text classifiers."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from trainers.runtime.config import Config, ConfigError
from trainers.tasks.classify.keys import CONV_CAPSULE_WINDOW, length_problem
from trainers.tasks.classify.layers import (
    CapsuleLength,
    ClassCapsules,
    ConvCapsules,
    MaskPositions,
    NGramConvPool,
    PositionMask,
    PrimaryCapsules,
)

# Which loss each model trains with (losses.py).
LOSS_KIND = {"cnn": "crossentropy", "kimcnn": "crossentropy", "capsule-a": "margin", "capsule-b": "margin"}


def _embedding(cfg: Config, vocabulary_size: int, weights: np.ndarray | None):
    if weights is None:
        # Kim 2014's U(-0.25, 0.25): Keras's default U(-0.05, 0.05) leaves capsule inputs so
        # small that squashing (quadratic near zero) flattens them to nothing.
        return layers.Embedding(
            vocabulary_size,
            cfg.embedding_dim,
            embeddings_initializer=keras.initializers.RandomUniform(-0.25, 0.25),
            name="embedding",
        )
    return layers.Embedding(
        vocabulary_size,
        cfg.embedding_dim,
        embeddings_initializer=keras.initializers.Constant(weights),
        trainable=cfg.embeddings_trainable,
        name="embedding",
    )


def _classifier_head(cfg: Config, num_classes: int, features):
    features = layers.Dropout(cfg.dropout, name="dropout")(features)
    activation = "sigmoid" if cfg.multi_label else "softmax"
    # float32 output keeps the loss stable under mixed precision; MaxNorm(3) as in Kim 2014.
    return layers.Dense(
        num_classes,
        activation=activation,
        kernel_constraint=keras.constraints.MaxNorm(3.0),
        dtype="float32",
        name="scores",
    )(features)


def _cnn(cfg, num_classes, token_ids, embedded):
    features = NGramConvPool(cfg.ngram_sizes, cfg.num_filters, name="ngram_conv")(embedded)
    return _classifier_head(cfg, num_classes, features)


def _capsule_branch(cfg, num_classes, token_ids, embedded, ngram: int):
    """n-gram conv -> primary capsules -> convolutional capsules -> class capsules.

    Capsules at positions that see only padding are zeroed, so they cast no votes.
    """
    features = layers.Conv1D(
        cfg.capsule_filters,
        ngram,
        strides=cfg.capsule_stride,
        activation="relu",
        kernel_initializer="he_normal",
        name=f"conv{ngram}",
    )(embedded)
    # Without it the capsule nets memorise through their random-init embeddings; dropout on the
    # n-gram features is where KimCNN's regularisation sits too.
    features = layers.Dropout(cfg.dropout, name=f"dropout{ngram}")(features)
    primary_mask = PositionMask(ngram, cfg.capsule_stride, name=f"primary_mask{ngram}")(token_ids)
    primary = PrimaryCapsules(cfg.primary_capsules, cfg.capsule_dim, name=f"primary{ngram}")(features)
    primary = MaskPositions(name=f"mask_primary{ngram}")([primary, primary_mask])
    conv_caps = ConvCapsules(
        cfg.conv_capsules,
        cfg.capsule_dim,
        window=CONV_CAPSULE_WINDOW,
        iterations=cfg.routing_iterations,
        leaky=cfg.leaky_routing,
        shared=cfg.shared_transform,
        name=f"conv_capsules{ngram}",
    )(primary)
    conv_mask = PositionMask(CONV_CAPSULE_WINDOW, 1, name=f"conv_mask{ngram}")(primary_mask)
    conv_caps = MaskPositions(name=f"mask_conv{ngram}")([conv_caps, conv_mask])
    if cfg.shared_transform:  # one matrix for all: the capsule types can be flattened away
        conv_caps = layers.Reshape((-1, cfg.capsule_dim), name=f"flatten{ngram}")(conv_caps)
    return ClassCapsules(
        num_classes,
        cfg.capsule_dim,
        cfg.routing_iterations,
        cfg.leaky_routing,
        shared=cfg.shared_transform,
        name=f"class_capsules{ngram}",
    )(conv_caps)


def _capsule(cfg, num_classes, token_ids, embedded):
    poses = [_capsule_branch(cfg, num_classes, token_ids, embedded, n) for n in cfg.ngram_sizes]
    # capsule-b: the n-gram branches vote together by averaging their class capsules.
    merged = poses[0] if len(poses) == 1 else layers.Average(name="average_branches")(poses)
    return CapsuleLength(name="scores")(merged)


_BUILDERS = {"cnn": _cnn, "kimcnn": _cnn, "capsule-a": _capsule, "capsule-b": _capsule}


def build_model(
    cfg: Config, vocabulary_size: int, num_classes: int, embedding_weights: np.ndarray | None = None
) -> keras.Model:
    problem = length_problem(cfg.model_type, cfg.max_length, cfg.ngram_sizes, cfg.capsule_stride)
    if problem:
        raise ConfigError(problem)
    token_ids = keras.Input(shape=(cfg.max_length,), dtype="int64", name="token_ids")
    embedded = _embedding(cfg, vocabulary_size, embedding_weights)(token_ids)
    scores = _BUILDERS[cfg.model_type](cfg, num_classes, token_ids, embedded)
    return keras.Model(token_ids, scores, name=cfg.model_type.replace("-", "_"))
