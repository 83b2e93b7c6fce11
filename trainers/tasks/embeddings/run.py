"""One word2vec run, TensorFlow side: encoded corpus, example stream, model, SGD with word2vec's
linear decay, per-epoch similarity / analogy / game metrics, export."""

from __future__ import annotations

import json

import keras
import numpy as np

from trainers.runtime.task import TaskRun
from trainers.shared.wordvectors import vectors_text
from trainers.tasks.embeddings import corpus as corpus_lib
from trainers.tasks.embeddings import evaldata, game
from trainers.tasks.embeddings.examples import ExampleStream
from trainers.tasks.embeddings.model import Word2Vec
from trainers.tasks.embeddings.serving import INFO_FILE, VECTORS_FILE, EmbeddingsModule
from trainers.tasks.embeddings.space import WordSpace, analogy_accuracy, similarity_rho
from trainers.tasks.embeddings.subwords import padded_table

FINAL_ALPHA_FRACTION = 1e-4  # word2vec decays alpha to alpha * 1e-4


def subword_settings(cfg) -> dict | None:
    return {"minN": cfg.min_n, "maxN": cfg.max_n, "buckets": cfg.buckets} if cfg.min_n else None


class EmbeddingsRun(TaskRun):
    def __init__(self, cfg, assets: dict, train, evaluation, ctx):
        import tensorflow as tf

        # Without it, two identical runs end with different vectors (the sparse updates of rows
        # that a batch uses many times add up in a varying order), and exact resume is lost.
        # Measured: no slower here (tests/test_embeddings_task.py resumes after a SIGKILL).
        tf.config.experimental.enable_op_determinism()
        self.cfg, self.ctx = cfg, ctx
        self.words, self.counts = assets["words"], np.asarray(assets["counts"], np.int64)
        ids, line_of = corpus_lib.encode(train.lines, self.words)
        self.tokens = len(ids)
        self.stream = ExampleStream(
            ids,
            line_of,
            self.counts,
            cfg.model_type,
            cfg.window,
            cfg.negatives,
            cfg.subsample,
            cfg.chunk_tokens,
            cfg.seed,
        )
        self.subwords = subword_settings(cfg)
        self.evaluation = evaluation
        self.similarity = [evaldata.read_similarity(ctx.fetch(p)) for p in split_files(cfg.similarity_files)]
        self.analogies = evaldata.read_analogies(ctx.fetch(cfg.analogy_file)) if cfg.analogy_file else []
        self._model = None

    def describe(self) -> str:
        subwords = f", n-grams {self.cfg.min_n}-{self.cfg.max_n}" if self.subwords else ""
        return f"{len(self.words)} words, {self.tokens} corpus tokens{subwords}"

    def build_model(self):
        table = None
        if self.subwords:
            table = padded_table(self.words, self.cfg.min_n, self.cfg.max_n, self.cfg.buckets, len(self.words))
        model = Word2Vec(len(self.words), self.cfg.embedding_dim, self.cfg.model_type, table, self.cfg.buckets)
        self._model = model
        return model

    def train_input(self, global_batch: int, seed: int):
        return self.stream.train_input(global_batch)

    def optimizer(self, total_steps: int):
        # The loss is averaged over the global batch; alpha x batch makes each example's step alpha.
        start = self.cfg.alpha * self.cfg.batch_size
        schedule = keras.optimizers.schedules.PolynomialDecay(
            start, max(total_steps, 1), start * FINAL_ALPHA_FRACTION, power=1.0
        )
        return keras.optimizers.SGD(schedule)

    def per_example_loss(self, targets, outputs):
        return outputs  # the model's output is each example's loss

    def model_signature(self, model):
        return None  # the tables are the model: serving_default and nearest expose them

    # -- evaluation ------------------------------------------------------------------------------

    def space(self, model) -> WordSpace:
        return WordSpace(list(self.words), model.word_vectors())

    def evaluate(self, model) -> dict[str, float]:
        space = self.space(model)
        cfg, row = self.cfg, {}
        for pairs in self.similarity:
            rho, used = similarity_rho(space, pairs.pairs)
            row[f"val_rho_{pairs.name}"] = rho
        if self.analogies:
            row["val_analogy_accuracy"], _ = analogy_accuracy(space, self.analogies)
        player = game.Player(space)
        words, hints = self.evaluation.words, self.evaluation.hints
        scores = game.play(player, [player], words, cfg.game_hints, cfg.game_guesses)
        row.update({f"val_{k}": float(v) for k, v in scores.items() if k != "words"})
        row["val_game_total"] = row.pop("val_total")
        if any(hints):
            row["val_reference_accuracy"], _ = game.reference_accuracy(
                player, words, hints, cfg.reference_hints, cfg.reference_top
            )
        return {k: (v if np.isfinite(v) else 0.0) for k, v in row.items()}

    # -- export ----------------------------------------------------------------------------------

    def serving_module(self, model):
        vectors = model.word_vectors()
        buckets = model.input_table.numpy()[len(self.words) :] if self.subwords else None
        return EmbeddingsModule(list(self.words), vectors, buckets, self.subwords)

    def export_files(self, info: dict) -> dict[str, str]:
        about = {
            "model_type": self.cfg.model_type,
            "dim": self.cfg.embedding_dim,
            "words": len(self.words),
            "window": self.cfg.window,
            "negatives": self.cfg.negatives,
            "subwords": self.subwords,
            **info,
        }
        return {
            VECTORS_FILE: vectors_text(self.words, self._model.word_vectors()),
            INFO_FILE: json.dumps(about, indent=2),
        }


def split_files(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]
