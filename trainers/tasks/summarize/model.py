"""The attention encoder-decoder, top to bottom.

    source ids -> embedding -> bidirectional GRU(s) -> values (and attention keys)
                                         final states -> Dense(tanh) -> decoder's initial state
    summary so far -> embedding -> GRU -> output o_t
    o_t attends over the values (Bahdanau scoring) -> context c_t
    [o_t; c_t] -> Dense(vocabulary) -> next-token logits

The decoder's GRU output is the attention query (as in the TensorFlow NMT tutorial), so training
runs the whole summary through the GRU at once (teacher forcing) and decoding runs the same GRU's
cell one token at a time (`step`): both compute the same function.

With `copy` (the `copyMechanism` key) the model is a pointer-generator (See et al. 2017,
trainers/shared/seq2seq/copying.py): p_gen = sigmoid(w . [c_t; o_t; y_t] + b) mixes the
vocabulary distribution with the attention weights scattered onto the source's extended ids, and
the outputs are log-probabilities over the extended vocabulary (V + source positions). The model
then takes (source ids, extended source ids, summary so far). Without it nothing differs from the
model before the copy mechanism, weights and numbers included.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from trainers.shared.seq2seq import copying
from trainers.shared.seq2seq.vocab import PAD
from trainers.tasks.summarize.layers import BahdanauAttention


@keras.saving.register_keras_serializable("textjobs")
class Seq2SeqAttention(keras.Model):
    def __init__(
        self,
        source_vocabulary: int,
        target_vocabulary: int,
        embedding_dim: int = 96,
        hidden_size: int = 96,
        encoder_layers: int = 1,
        dropout: float = 0.2,
        copy: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.config = {
            "source_vocabulary": source_vocabulary,
            "target_vocabulary": target_vocabulary,
            "embedding_dim": embedding_dim,
            "hidden_size": hidden_size,
            "encoder_layers": encoder_layers,
            "dropout": dropout,
        }
        if copy:  # only when on, so the plain model's config (and everything built from it) is as before
            self.config["copy"] = True
        self.copy_mechanism = bool(copy)
        self.source_embedding = layers.Embedding(source_vocabulary, embedding_dim, name="source_embedding")
        self.encoders = [
            layers.Bidirectional(layers.GRU(hidden_size, return_sequences=True, return_state=True), name=f"encoder{i}")
            for i in range(encoder_layers)
        ]
        self.bridge = layers.Dense(hidden_size, activation="tanh", name="bridge")
        self.target_embedding = layers.Embedding(target_vocabulary, embedding_dim, name="target_embedding")
        self.decoder = layers.GRU(hidden_size, return_sequences=True, return_state=True, name="decoder")
        self.attention = BahdanauAttention(hidden_size, name="attention")
        self.dropout = layers.Dropout(dropout, name="dropout")
        self.output_layer = layers.Dense(target_vocabulary, dtype="float32", name="logits")
        if self.copy_mechanism:  # created last and only when on: the plain model's initial weights stay the same
            self.generate_gate = layers.Dense(1, activation="sigmoid", dtype="float32", name="p_gen")

    def _embed(self, tokens):
        if self.copy_mechanism:  # copy ids mean nothing to the embedding: the decoder reads them as <oov>
            tokens = copying.decoder_tokens(tokens, self.config["target_vocabulary"])
        return self.target_embedding(tokens)

    def _mix(self, logits, outputs, context, embedded, weights, extended_ids):
        """Vocabulary logits -> log P over the extended vocabulary (the copy mechanism)."""
        p_gen = self.generate_gate(ops.concatenate([context, outputs, embedded], axis=-1))
        return copying.mix(logits, p_gen, weights, extended_ids)

    def encode(self, source_ids, training=False):
        """-> (values [B, S, 2H], keys [B, S, H], mask [B, S], decoder state [B, H])."""
        mask = ops.not_equal(source_ids, PAD)
        x = self.dropout(self.source_embedding(source_ids), training=training)
        for encoder in self.encoders:
            x, forward, backward = encoder(x, mask=mask, training=training)
        state = self.bridge(ops.concatenate([forward, backward], axis=-1))
        return x, self.attention.keys(x), mask, state

    def _project(self, outputs, context, training=False):
        # [o_t; c_t] feeds the vocabulary layer directly. A Dense(tanh) of hiddenSize units in
        # between (Luong's attentional layer) measured far slower to learn: on 3,000 Reuters pairs
        # the loss stayed at the unigram level (7.6, 7.1 over two epochs) where this reaches 6.1.
        return self.output_layer(self.dropout(ops.concatenate([outputs, context], axis=-1), training=training))

    def decode(self, decoder_in, values, keys, mask, state, training=False, extended_ids=None):
        """Teacher forcing: logits [B, T, V] for every position of `decoder_in` [B, T] (with
        copying: log-probabilities [B, T, V + S], given the source's extended ids)."""
        embedded = self._embed(decoder_in)
        y = self.dropout(embedded, training=training)
        outputs, _ = self.decoder(y, initial_state=state, training=training)
        if not self.copy_mechanism:
            context = self.attention(outputs, values, keys, mask)
            return self._project(outputs, context, training)
        context, weights = self.attention(outputs, values, keys, mask, return_weights=True)
        logits = self._project(outputs, context, training)
        return self._mix(logits, outputs, context, embedded, weights, extended_ids)

    def call(self, inputs, training=False):
        if self.copy_mechanism:
            source_ids, extended_ids, decoder_in = inputs
        else:
            (source_ids, decoder_in), extended_ids = inputs, None
        values, keys, mask, state = self.encode(source_ids, training)
        return self.decode(decoder_in, values, keys, mask, state, training, extended_ids)

    def step(self, tokens, state, values, keys, mask, extended_ids=None):
        """One decoding step: tokens [N] and state [N, H] -> (log-probabilities [N, V], state);
        with copying over [N, V + S], tokens and extended ids [N, S] may hold copy ids."""
        embedded = self._embed(tokens)
        outputs, new_state = self.decoder.cell(embedded, [state], training=False)
        new_state = new_state[0] if isinstance(new_state, list | tuple) else new_state
        if not self.copy_mechanism:
            context = self.attention(outputs[:, None, :], values, keys, mask)[:, 0, :]
            return ops.log_softmax(self._project(outputs, context), axis=-1), new_state
        context, weights = self.attention(outputs[:, None, :], values, keys, mask, return_weights=True)
        logits = self._project(outputs[:, None, :], context)
        mixed = self._mix(logits, outputs[:, None, :], context, embedded[:, None, :], weights, extended_ids)
        return mixed[:, 0, :], new_state

    def get_config(self):
        return {**super().get_config(), **self.config}
