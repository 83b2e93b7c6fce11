"""One chat run, TensorFlow side: the Transformer, batches, label-smoothed masked loss, token
accuracy, validation (loss, perplexity, token accuracy, BLEU and distinct-1/2 of decoded replies)
and the export. The seq2seq pieces are shared (trainers/shared/seq2seq/); the chat task's own are
the model and the reply metrics."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from trainers.runtime.task import TaskRun
from trainers.shared.seq2seq import evaluation
from trainers.shared.seq2seq.decode import Beam
from trainers.shared.seq2seq.losses import masked_token_loss, token_accuracy
from trainers.shared.seq2seq.vocab import Vocabularies
from trainers.tasks.chat import metrics
from trainers.tasks.chat.model import Transformer
from trainers.tasks.chat.serving import ChatModule, decode

BASELINE_FILE = "baseline.json"
VOCABULARY_FILE = "vocabulary.json"


class ChatRun(TaskRun):
    train_metric_names = ("token_accuracy",)
    throughput = ("tokens", "token_accuracy")  # reply tokens trained on

    def __init__(self, cfg, assets: dict, train, evaluation):
        self.cfg = cfg
        self.vocabulary = assets["vocabulary"]
        self.most_frequent_reply = assets["most_frequent_reply"]
        # One vocabulary on both sides (target-style: <pad> <oov> <s> </s> reserved).
        self.vocabularies = Vocabularies(self.vocabulary, self.vocabulary, cfg.max_source_length, cfg.max_target_length)
        self.train = train
        self.evaluation = evaluation
        self._eval_fns = None

    def describe(self) -> str:
        return f"a vocabulary of {len(self.vocabulary)} words"

    def build_model(self):
        cfg = self.cfg
        model = Transformer(
            len(self.vocabulary), cfg.layers, cfg.heads, cfg.model_dim, cfg.ff_dim, cfg.dropout, cfg.max_target_length
        )
        model((tf.zeros([1, cfg.max_source_length], tf.int64), tf.zeros([1, cfg.max_target_length], tf.int64)))
        return model

    def train_arrays(self):
        return np.array(self.train.sources, dtype=object), np.array(self.train.targets, dtype=object)

    def batch_fn(self, contexts, replies):
        decoder_in, decoder_out = self.vocabularies.target_pair(replies)
        return (self.vocabularies.source_ids(contexts), decoder_in), decoder_out

    def per_example_loss(self, targets, logits):
        return masked_token_loss(targets, logits, self.cfg.label_smoothing)

    def step_metrics(self, targets, logits):
        return {"token_accuracy": token_accuracy(targets, logits)}

    def model_signature(self, model):
        """Token ids in, next-token logits out (teacher forcing): the model without tokenization
        or search, for quantization and scoring."""
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
            # Validation loss without label smoothing: a likelihood, so exp() is a perplexity.
            scores = evaluation.teacher_forced_scorer(model, self.batch_fn)

            @tf.function(reduce_retracing=True)
            def answer(texts):
                source = self.vocabularies.source_ids(texts)
                ids, _ = decode(model, source, Beam(cfg.beam_width, cfg.length_penalty), cfg.max_target_length)
                return self.vocabularies.detokenize(ids)

            self._eval_fns = scores, answer
        return self._eval_fns

    def evaluate(self, model) -> dict[str, float]:
        scores, answer = self._functions(model)
        contexts, replies = self.evaluation.sources, self.evaluation.targets
        found = evaluation.teacher_forced(scores, contexts, replies)
        # exp of the mean (over replies) per-token cross-entropy, capped so a diverged run still
        # prints a number.
        found["val_perplexity"] = math.exp(min(found["val_loss"], 50.0))
        decoded = evaluation.decoded(answer, contexts, self.cfg.eval_samples)
        quality = metrics.reply_metrics(replies[: len(decoded)], decoded)
        return {**found, **{f"val_{name}": value for name, value in quality.items()}}

    def serving_module(self, model):
        cfg = self.cfg
        return ChatModule(model, self.vocabularies, cfg.beam_width, cfg.length_penalty, cfg.top_k, cfg.top_p)

    def export_files(self, info: dict) -> dict[str, str]:
        import json

        # The baseline for `evaluate`, and the vocabulary so `evaluate` can score likelihoods
        # through the `model` signature (token ids in) without the run directory.
        return {
            BASELINE_FILE: json.dumps({"most_frequent_reply": self.most_frequent_reply}) + "\n",
            VOCABULARY_FILE: json.dumps(self.vocabulary) + "\n",
        }
