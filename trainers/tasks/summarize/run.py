"""One summarization run, TensorFlow side: model, batches, masked loss, token accuracy, ROUGE on
decoded validation summaries, export."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from trainers.runtime.task import TaskRun
from trainers.tasks.summarize import metrics
from trainers.tasks.summarize.model import Seq2SeqAttention
from trainers.tasks.summarize.serving import SummarizerModule, decode
from trainers.tasks.summarize.vocab import PAD, Vocabularies

EVAL_BATCH = 64


class SummarizeRun(TaskRun):
    train_metric_names = ("token_accuracy",)
    throughput = ("tokens", "token_accuracy")  # summary tokens trained on

    def __init__(self, cfg, assets: dict, train, evaluation):
        self.cfg = cfg
        self.source, self.target = assets["source"], assets["target"]
        self.vocabularies = Vocabularies(self.source, self.target, cfg.max_source_length, cfg.max_target_length)
        self.train = train
        self.evaluation = evaluation
        self._eval_fns = None

    def describe(self) -> str:
        return f"vocabularies of {len(self.source)} source and {len(self.target)} summary words"

    def build_model(self):
        cfg = self.cfg
        model = Seq2SeqAttention(
            len(self.source), len(self.target), cfg.embedding_dim, cfg.hidden_size, cfg.encoder_layers, cfg.dropout
        )
        model((tf.zeros([1, cfg.max_source_length], tf.int64), tf.zeros([1, cfg.max_target_length], tf.int64)))
        return model

    def train_arrays(self):
        return np.array(self.train.texts, dtype=object), np.array(self.train.summaries, dtype=object)

    def batch_fn(self, texts, summaries):
        decoder_in, decoder_out = self.vocabularies.target_pair(summaries)
        return (self.vocabularies.source_ids(texts), decoder_in), decoder_out

    def per_example_loss(self, targets, logits):
        """Mean cross-entropy over each summary's real tokens; padding costs nothing."""
        mask = tf.cast(tf.not_equal(targets, PAD), tf.float32)
        losses = tf.keras.losses.sparse_categorical_crossentropy(targets, tf.cast(logits, tf.float32), from_logits=True)
        return tf.reduce_sum(losses * mask, axis=-1) / tf.maximum(tf.reduce_sum(mask, axis=-1), 1.0)

    def step_metrics(self, targets, logits):
        mask = tf.not_equal(targets, PAD)
        right = tf.equal(tf.argmax(logits, axis=-1), targets) & mask
        return {"token_accuracy": (tf.reduce_sum(tf.cast(right, tf.float32)), tf.reduce_sum(tf.cast(mask, tf.float32)))}

    def model_signature(self, model):
        """Token ids in, next-token logits out (teacher forcing): the model without tokenization
        or search, for quantization and serving."""
        cfg = self.cfg
        specs = [
            tf.TensorSpec([None, cfg.max_source_length], tf.int64, name="source_ids"),
            tf.TensorSpec([None, cfg.max_target_length], tf.int64, name="decoder_in"),
        ]

        @tf.function(input_signature=specs)
        def model_only(source_ids, decoder_in):
            return {"logits": model((source_ids, decoder_in), training=False)}

        return model_only

    def _functions(self, model):
        if self._eval_fns is None:
            cfg = self.cfg

            @tf.function(reduce_retracing=True)
            def scores(texts, summaries):
                (source, decoder_in), targets = self.batch_fn(texts, summaries)
                logits = model((source, decoder_in), training=False)
                mask = tf.cast(tf.not_equal(targets, PAD), tf.float32)
                right = tf.cast(tf.equal(tf.argmax(logits, -1), targets), tf.float32) * mask
                return tf.reduce_sum(self.per_example_loss(targets, logits)), tf.reduce_sum(right), tf.reduce_sum(mask)

            @tf.function(reduce_retracing=True)
            def summarize(texts):
                source = self.vocabularies.source_ids(texts)
                ids, _ = decode(model, source, cfg.beam_width, cfg.length_penalty, cfg.max_target_length)
                return self.vocabularies.detokenize(ids)

            self._eval_fns = scores, summarize
        return self._eval_fns

    def evaluate(self, model) -> dict[str, float]:
        scores, summarize = self._functions(model)
        texts, summaries = self.evaluation.texts, self.evaluation.summaries
        loss = right = tokens = 0.0
        for start in range(0, len(texts), EVAL_BATCH):
            batch_loss, batch_right, batch_tokens = scores(
                tf.constant(texts[start : start + EVAL_BATCH]), tf.constant(summaries[start : start + EVAL_BATCH])
            )
            loss, right, tokens = loss + float(batch_loss), right + float(batch_right), tokens + float(batch_tokens)
        sample = min(self.cfg.eval_samples, len(texts))
        decoded = [
            s.decode()
            for start in range(0, sample, EVAL_BATCH)
            for s in summarize(tf.constant(texts[start : min(start + EVAL_BATCH, sample)])).numpy()
        ]
        found = metrics.rouge(summaries[:sample], decoded)
        return {
            "val_loss": loss / len(texts),
            "val_token_accuracy": right / max(tokens, 1.0),
            **{f"val_{name}": value for name, value in found.items()},
        }

    def serving_module(self, model):
        return SummarizerModule(model, self.vocabularies, self.cfg.beam_width, self.cfg.length_penalty)
