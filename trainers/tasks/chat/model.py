"""The Transformer encoder-decoder, top to bottom.

    context ids -> shared embedding * sqrt(d) + sinusoidal positions -> dropout
                -> `layers` x EncoderLayer (self-attention, padding masked) -> LayerNorm -> memory
    reply so far -> the same embedding + positions -> dropout
                -> `layers` x DecoderLayer (causal self-attention, cross-attention over memory)
                -> LayerNorm -> Dense(vocabulary) -> next-token logits

Contexts and replies share one vocabulary and one embedding (the same language on both sides).
Training runs the whole reply at once (teacher forcing, causal mask). Decoding (`step`) keeps the
reply so far as its state and runs the decoder over it each step: no cache, so the step is the
training computation itself, and replies are short (maxTargetLength).
"""

from __future__ import annotations

import keras
from keras import layers, ops

from trainers.shared.seq2seq.vocab import PAD
from trainers.tasks.chat.layers import DecoderLayer, EncoderLayer, PositionEncoding


@keras.saving.register_keras_serializable("textjobs")
class Transformer(keras.Model):
    def __init__(
        self,
        vocabulary: int,
        layers_count: int = 2,
        heads: int = 4,
        model_dim: int = 128,
        ff_dim: int = 256,
        dropout: float = 0.1,
        max_target: int = 16,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.config = {
            "vocabulary": vocabulary,
            "layers_count": layers_count,
            "heads": heads,
            "model_dim": model_dim,
            "ff_dim": ff_dim,
            "dropout": dropout,
            "max_target": max_target,
        }
        self.max_target = max_target
        self.embedding = layers.Embedding(vocabulary, model_dim, name="embedding")
        self.positions = PositionEncoding(name="positions")
        self.drop = layers.Dropout(dropout, name="dropout")
        self.encoders = [
            EncoderLayer(model_dim, heads, ff_dim, dropout, name=f"encoder{i}") for i in range(layers_count)
        ]
        self.decoders = [
            DecoderLayer(model_dim, heads, ff_dim, dropout, name=f"decoder{i}") for i in range(layers_count)
        ]
        self.encoder_norm = layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")
        self.decoder_norm = layers.LayerNormalization(epsilon=1e-6, name="decoder_norm")
        self.output_layer = layers.Dense(vocabulary, dtype="float32", name="logits")

    def _embed(self, ids, training):
        return self.drop(self.positions(self.embedding(ids)), training=training)

    def encode(self, source_ids, training=False):
        """-> (memory [B, S, D], mask [B, S]: True at real tokens)."""
        mask = ops.not_equal(source_ids, PAD)
        x = self._embed(source_ids, training)
        for encoder in self.encoders:
            x = encoder(x, mask, training=training)
        return self.encoder_norm(x), mask

    def decode(self, decoder_in, memory, mask, training=False):
        """Logits [B, T, V] for every position of `decoder_in` [B, T] (position t sees 0..t)."""
        y = self._embed(decoder_in, training)
        for decoder in self.decoders:
            y = decoder(y, memory, mask, training=training)
        return self.output_layer(self.decoder_norm(y))

    def call(self, inputs, training=False):
        source_ids, decoder_in = inputs
        memory, mask = self.encode(source_ids, training)
        return self.decode(decoder_in, memory, mask, training)

    def start_state(self, batch):
        """The decoding state: the reply so far [N, max_target] and the next position [N]."""
        return ops.zeros((batch, self.max_target), "int64"), ops.zeros((batch,), "int32")

    def step(self, tokens, state, memory, mask):
        """tokens [N] at each row's position -> (log-probabilities [N, V] of the next, state)."""
        prefix, position = state
        at = ops.one_hot(position, self.max_target, dtype="bool")
        prefix = ops.where(at, ops.cast(tokens, "int64")[:, None], prefix)
        logits = self.decode(prefix, memory, mask, training=False)
        chosen = ops.take_along_axis(logits, ops.cast(position, "int32")[:, None, None], axis=1)[:, 0, :]
        return ops.log_softmax(chosen, axis=-1), (prefix, position + 1)

    def get_config(self):
        return {**super().get_config(), **self.config}
