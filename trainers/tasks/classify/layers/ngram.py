"""N-gram convolutions with max-over-time pooling (Kim 2014)."""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable("textjobs")
class NGramConvPool(layers.Layer):
    """One Conv1D per n-gram width, ReLU, max over time, concatenated: [B, L, E] -> [B, W*F]."""

    def __init__(self, ngram_sizes=(3, 4, 5), filters=100, **kwargs):
        super().__init__(**kwargs)
        self.ngram_sizes = tuple(int(n) for n in ngram_sizes)
        self.filters = int(filters)
        self.convs = [layers.Conv1D(self.filters, n, activation="relu", name=f"conv{n}") for n in self.ngram_sizes]

    def build(self, input_shape):
        for conv in self.convs:
            conv.build(input_shape)
        self.built = True

    def call(self, inputs):
        pooled = [ops.max(conv(inputs), axis=1) for conv in self.convs]
        return pooled[0] if len(pooled) == 1 else ops.concatenate(pooled, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.filters * len(self.ngram_sizes))

    def get_config(self):
        return {**super().get_config(), "ngram_sizes": list(self.ngram_sizes), "filters": self.filters}
