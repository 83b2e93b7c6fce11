"""Keras 3 layers of the attention summarizer; each has `get_config` so models serialize."""

from __future__ import annotations

import keras
from keras import layers


@keras.saving.register_keras_serializable("textjobs")
class BahdanauAttention(layers.Layer):
    """Additive attention, score(q, k) = v . tanh(W_q q + W_k k) (Bahdanau et al. 2015).

    Keras's AdditiveAttention supplies tanh(q + k) summed with a learned scale v; the two
    projections W_q and W_k are the Dense layers here. Keys depend only on the source, so
    decoding computes them once (`keys`) and passes them to every step. Padding positions of the
    source (mask False) get zero weight.
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.supports_masking = True  # the source mask arrives explicitly, as `mask`
        self.query_projection = layers.Dense(self.units, use_bias=False, name="query_projection")
        self.key_projection = layers.Dense(self.units, use_bias=False, name="key_projection")
        self.additive = layers.AdditiveAttention(use_scale=True, name="additive")

    def keys(self, values):
        return self.key_projection(values)

    def call(self, query, values, keys=None, mask=None, return_weights=False):
        """query [B, T, Q], values [B, S, V], mask [B, S] -> context [B, T, V] (and weights [B, T, S])."""
        keys = self.key_projection(values) if keys is None else keys
        context, weights = self.additive(
            [self.query_projection(query), values, keys], mask=[None, mask], return_attention_scores=True
        )
        return (context, weights) if return_weights else context

    def get_config(self):
        return {**super().get_config(), "units": self.units}
