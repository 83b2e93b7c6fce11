"""`python -m trainers evaluate` for a chat export: the export scores labelled pairs through its
own signatures, raw text in, as a server would call it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import tensorflow as tf

from trainers.shared.seq2seq import evaluation
from trainers.shared.seq2seq.vocab import Vocabularies
from trainers.tasks.chat import metrics
from trainers.tasks.chat.run import BASELINE_FILE, VOCABULARY_FILE
from trainers.tasks.chat.serving import reply


def score_export(version_dir: Path, pairs) -> dict[str, float]:
    results: dict[str, float] = {"examples": len(pairs)}
    results.update(likelihood(version_dir, pairs))
    for name, signature in (("beam", "serving_default"), ("greedy", "greedy")):
        replies = [r["reply"] for r in reply(version_dir, pairs.sources, signature)]
        results.update({f"{name}_{k}": v for k, v in metrics.reply_metrics(pairs.targets, replies).items()})
    baseline = json.loads((version_dir / BASELINE_FILE).read_text())["most_frequent_reply"]
    constant = metrics.reply_metrics(pairs.targets, [baseline] * len(pairs))
    results.update({f"most_frequent_{k}": v for k, v in constant.items()})
    return results


def likelihood(version_dir: Path, pairs) -> dict[str, float]:
    loaded = tf.saved_model.load(str(version_dir))  # kept alive: the signature needs its variables
    vocabulary = json.loads((version_dir / VOCABULARY_FILE).read_text())
    specs = loaded.signatures["model"].structured_input_signature[1]
    vocabularies = Vocabularies(
        vocabulary, vocabulary, int(specs["source_ids"].shape[1]), int(specs["decoder_in"].shape[1])
    )

    def batch_fn(sources, targets):
        decoder_in, decoder_out = vocabularies.target_pair(targets)
        return (vocabularies.source_ids(sources), decoder_in), decoder_out

    def logits(inputs, training=False):
        source_ids, decoder_in = inputs
        return loaded.signatures["model"](source_ids=source_ids, decoder_in=decoder_in)["logits"]

    found = evaluation.teacher_forced(evaluation.teacher_forced_scorer(logits, batch_fn), pairs.sources, pairs.targets)
    return {
        "loss": found["val_loss"],
        "perplexity": math.exp(min(found["val_loss"], 50.0)),
        "token_accuracy": found["val_token_accuracy"],
    }
