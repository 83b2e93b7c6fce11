"""One summarization run, TensorFlow side: model, batches, masked loss, token accuracy, ROUGE on
decoded validation summaries, export. The seq2seq pieces are shared (trainers/shared/seq2seq/);
what is the summarizer's own is the model and ROUGE."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from trainers.runtime.task import TaskRun
from trainers.shared.seq2seq import evaluation
from trainers.shared.seq2seq.copying import CopyVocabularies
from trainers.shared.seq2seq.decode import Beam
from trainers.shared.seq2seq.losses import masked_token_loss, token_accuracy
from trainers.shared.seq2seq.vocab import Vocabularies
from trainers.tasks.summarize import metrics
from trainers.tasks.summarize.model import Seq2SeqAttention
from trainers.tasks.summarize.serving import decode, summarizer_module


def _direction(cell, x, mask, backwards: bool):
    """One GRU direction over [B, S, E] as Keras runs it with a mask: a padded step keeps the
    state and outputs zeros; backwards starts from the last real token."""
    steps = range(x.shape[1] - 1, -1, -1) if backwards else range(x.shape[1])
    state = tf.zeros([tf.shape(x)[0], cell.units], x.dtype)
    outputs = [None] * x.shape[1]
    for t in steps:
        output, new_state = cell(x[:, t], [state], training=False)
        new_state = new_state[0] if isinstance(new_state, list | tuple) else new_state
        keep = mask[:, t : t + 1]
        state = tf.where(keep, new_state, state)
        outputs[t] = tf.where(keep, output, tf.zeros_like(output))
    return tf.stack(outputs, axis=1), state


def unrolled_encode(model, source_ids):
    """Seq2SeqAttention.encode with each GRU's loop written out step by step (no while loop,
    so TFLite converts it with any batch size and int8 can calibrate it); the same function."""
    mask = tf.not_equal(source_ids, 0)
    x = model.source_embedding(source_ids)
    for encoder in model.encoders:
        forward_out, forward = _direction(encoder.forward_layer.cell, x, mask, backwards=False)
        backward_out, backward = _direction(encoder.backward_layer.cell, x, mask, backwards=True)
        x = tf.concat([forward_out, backward_out], axis=-1)
    state = model.bridge(tf.concat([forward, backward], axis=-1))
    return x, model.attention.keys(x), mask, state


class SummarizeRun(TaskRun):
    train_metric_names = ("token_accuracy",)
    throughput = ("tokens", "token_accuracy")  # summary tokens trained on

    def __init__(self, cfg, assets: dict, train, evaluation):
        self.cfg = cfg
        self.source, self.target = assets["source"], assets["target"]
        self.copying = cfg.copy_mechanism
        vocabularies = CopyVocabularies if self.copying else Vocabularies
        self.vocabularies = vocabularies(self.source, self.target, cfg.max_source_length, cfg.max_target_length)
        self.train = train
        self.evaluation = evaluation
        self._eval_fns = None

    def describe(self) -> str:
        return f"vocabularies of {len(self.source)} source and {len(self.target)} summary words"

    def build_model(self):
        cfg = self.cfg
        model = Seq2SeqAttention(
            len(self.source),
            len(self.target),
            cfg.embedding_dim,
            cfg.hidden_size,
            cfg.encoder_layers,
            cfg.dropout,
            copy=self.copying,
        )
        model(tuple(tf.zeros([1, spec.shape[1]], tf.int64) for spec in self._input_specs()))
        return model

    def _input_specs(self):
        cfg = self.cfg
        source = tf.TensorSpec([None, cfg.max_source_length], tf.int64, name="source_ids")
        decoder_in = tf.TensorSpec([None, cfg.max_target_length], tf.int64, name="decoder_in")
        if not self.copying:
            return [source, decoder_in]
        return [source, tf.TensorSpec([None, cfg.max_source_length], tf.int64, name="extended_ids"), decoder_in]

    def train_arrays(self):
        return np.array(self.train.sources, dtype=object), np.array(self.train.targets, dtype=object)

    def batch_fn(self, texts, summaries):
        if self.copying:
            source_ids, extended, tokens = self.vocabularies.source(texts)
            decoder_in, decoder_out = self.vocabularies.copy_target_pair(summaries, tokens)
            return (source_ids, extended, decoder_in), decoder_out
        decoder_in, decoder_out = self.vocabularies.target_pair(summaries)
        return (self.vocabularies.source_ids(texts), decoder_in), decoder_out

    def per_example_loss(self, targets, logits):
        """Mean cross-entropy over each summary's real tokens; padding costs nothing."""
        return masked_token_loss(targets, logits, self.cfg.label_smoothing)

    def step_metrics(self, targets, logits):
        return {"token_accuracy": token_accuracy(targets, logits)}

    def model_signature(self, model):
        """Token ids in, next-token logits out (teacher forcing): the model without tokenization
        or search, for quantization and serving. With copying: (source ids, extended ids, decoder
        input) in, log-probabilities over the extended vocabulary out (still named logits)."""

        if self.copying:

            @tf.function(input_signature=self._input_specs())
            def copying_model_only(source_ids, extended_ids, decoder_in):
                return {"logits": model((source_ids, extended_ids, decoder_in), training=False)}

            return copying_model_only

        @tf.function(input_signature=self._input_specs())
        def model_only(source_ids, decoder_in):
            return {"logits": model((source_ids, decoder_in), training=False)}

        return model_only

    def lite_signatures(self, model):
        """`encode` and `step` (decoding runs outside TFLite, search.py over the interpreter):
        a beam search's while loop and string ops do not belong in a TFLite graph. The encoder's
        GRUs run unrolled (maxSourceLength cell calls, unrolled_encode): a GRU's while loop with a
        dynamic batch does not convert, and int8 calibration crashes on it (platform facts)."""
        cfg = self.cfg
        source, hidden = cfg.max_source_length, cfg.hidden_size

        @tf.function(input_signature=[tf.TensorSpec([None, source], tf.int64, name="source_ids")])
        def encode(source_ids):
            values, keys, mask, state = unrolled_encode(model, source_ids)
            return {"values": values, "keys": keys, "mask": tf.cast(mask, tf.float32), "state": state}

        @tf.function(
            input_signature=[
                tf.TensorSpec([None], tf.int64, name="tokens"),
                tf.TensorSpec([None, hidden], tf.float32, name="state"),
                tf.TensorSpec([None, source, 2 * hidden], tf.float32, name="values"),
                tf.TensorSpec([None, source, hidden], tf.float32, name="keys"),
                tf.TensorSpec([None, source], tf.float32, name="mask"),
            ]
        )
        def step(tokens, state, values, keys, mask):
            log_probs, new_state = model.step(tokens, state, values, keys, mask > 0.5)
            return {"log_probs": log_probs, "state": new_state}

        self._lite = {"encode": encode, "step": step}
        return dict(self._lite)

    def lite_calibration(self, model, data, count: int):
        """Each text's encoding, and the decoder's steps along its reference summary."""
        encode, step = self._lite["encode"], self._lite["step"]
        for start in range(min(count, len(data))):
            texts, summaries = data.sources[start : start + 1], data.targets[start : start + 1]
            ids = self.vocabularies.source_ids(tf.constant(texts))
            encoded = encode(ids)
            yield "encode", {"source_ids": ids.numpy()}
            decoder_in, _ = self.vocabularies.target_pair(tf.constant(summaries))
            state = encoded["state"]
            memory = {k: encoded[k].numpy() for k in ("values", "keys", "mask")}
            for t in range(int(tf.math.count_nonzero(decoder_in))):
                tokens = decoder_in[:, t]
                yield "step", {"tokens": tokens.numpy(), "state": state.numpy(), **memory}
                state = step(tokens, state, *(encoded[k] for k in ("values", "keys", "mask")))["state"]

    def _functions(self, model):
        if self._eval_fns is None:
            cfg = self.cfg
            scores = evaluation.teacher_forced_scorer(model, self.batch_fn)

            @tf.function(reduce_retracing=True)
            def summarize(texts):
                how = Beam(cfg.beam_width, cfg.length_penalty, cfg.min_summary_length, cfg.no_repeat_ngram)
                if self.copying:
                    source_ids, extended, tokens = self.vocabularies.source(texts)
                    ids, _ = decode(model, (source_ids, extended), how, cfg.max_target_length)
                    return self.vocabularies.detokenize_copied(ids, tokens)
                ids, _ = decode(model, self.vocabularies.source_ids(texts), how, cfg.max_target_length)
                return self.vocabularies.detokenize(ids)

            self._eval_fns = scores, summarize
        return self._eval_fns

    def evaluate(self, model) -> dict[str, float]:
        scores, summarize = self._functions(model)
        texts, summaries = self.evaluation.sources, self.evaluation.targets
        found = evaluation.teacher_forced(scores, texts, summaries)
        decoded = evaluation.decoded(summarize, texts, self.cfg.eval_samples)
        rouge = metrics.rouge(summaries[: len(decoded)], decoded)
        return {**found, **{f"val_{name}": value for name, value in rouge.items()}}

    def serving_module(self, model):
        cfg = self.cfg
        return summarizer_module(
            model,
            self.vocabularies,
            Beam(cfg.beam_width, cfg.length_penalty, cfg.min_summary_length, cfg.no_repeat_ngram),
        )
