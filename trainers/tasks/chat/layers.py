"""Keras 3 layers of the Transformer (Vaswani et al. 2017), pre-layer-norm: each block is
x + Dropout(Sublayer(LayerNorm(x))), which trains without the fragile warm-up the post-norm
original needs at small batch sizes. Attention is Keras' own MultiHeadAttention (core ops only,
so the export needs nothing but TensorFlow). Every layer has `get_config`."""

from __future__ import annotations

import math

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable("textjobs")
class PositionEncoding(layers.Layer):
    """x * sqrt(d) + the fixed sinusoidal position table (no weights; any length)."""

    def call(self, x):
        length, dim = ops.shape(x)[1], x.shape[-1]
        positions = ops.cast(ops.arange(length), "float32")[:, None]
        rates = ops.exp(ops.cast(ops.arange(0, dim, 2), "float32") * (-math.log(10000.0) / dim))[None, :]
        angles = positions * rates
        table = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)[:, :dim]
        return x * math.sqrt(dim) + ops.cast(table[None], x.dtype)


def key_mask(mask, queries):
    """[B, S] bool key mask -> [B, T, S] attention mask for `queries` [B, T, D]."""
    shape = ops.shape(mask)
    return ops.broadcast_to(mask[:, None, :], (shape[0], ops.shape(queries)[1], shape[1]))


class _Block(layers.Layer):
    def __init__(self, model_dim: int, heads: int, ff_dim: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.settings = {"model_dim": model_dim, "heads": heads, "ff_dim": ff_dim, "dropout": dropout}
        self.ff_in = layers.Dense(ff_dim, activation="relu", name="ff_in")
        self.ff_out = layers.Dense(model_dim, name="ff_out")
        self.ff_norm = layers.LayerNormalization(epsilon=1e-6, name="ff_norm")
        self.drop = layers.Dropout(dropout)

    def _attention(self, heads: int, model_dim: int, dropout: float, name: str):
        return layers.MultiHeadAttention(heads, model_dim // heads, dropout=dropout, name=name)

    def feed_forward(self, x, training):
        h = self.ff_out(self.drop(self.ff_in(self.ff_norm(x)), training=training))
        return x + self.drop(h, training=training)

    def get_config(self):
        return {**super().get_config(), **self.settings}


@keras.saving.register_keras_serializable("textjobs")
class EncoderLayer(_Block):
    """Self-attention over the context (padding masked out as keys), then feed-forward."""

    def __init__(self, model_dim, heads, ff_dim, dropout, **kwargs):
        super().__init__(model_dim, heads, ff_dim, dropout, **kwargs)
        self.attention = self._attention(heads, model_dim, dropout, "self_attention")
        self.norm = layers.LayerNormalization(epsilon=1e-6, name="attention_norm")

    def call(self, x, mask, training=False):
        h = self.norm(x)
        h = self.attention(h, h, attention_mask=key_mask(mask, h), training=training)
        return self.feed_forward(x + self.drop(h, training=training), training)


@keras.saving.register_keras_serializable("textjobs")
class DecoderLayer(_Block):
    """Causal self-attention over the reply so far, cross-attention over the encoded context
    (its padding masked out), then feed-forward."""

    def __init__(self, model_dim, heads, ff_dim, dropout, **kwargs):
        super().__init__(model_dim, heads, ff_dim, dropout, **kwargs)
        self.self_attention = self._attention(heads, model_dim, dropout, "self_attention")
        self.cross_attention = self._attention(heads, model_dim, dropout, "cross_attention")
        self.self_norm = layers.LayerNormalization(epsilon=1e-6, name="self_norm")
        self.cross_norm = layers.LayerNormalization(epsilon=1e-6, name="cross_norm")

    def call(self, y, memory, memory_mask, training=False):
        h = self.self_norm(y)
        h = self.self_attention(h, h, use_causal_mask=True, training=training)
        y = y + self.drop(h, training=training)
        h = self.cross_norm(y)
        h = self.cross_attention(h, memory, attention_mask=key_mask(memory_mask, h), training=training)
        return self.feed_forward(y + self.drop(h, training=training), training)
