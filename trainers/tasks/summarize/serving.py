"""The exported summarizer: raw strings in, decoded summaries and their scores out.

Tokenization, encoding and beam search all run inside the graph with core TensorFlow ops, so
stock TF Serving and KServe load the export. Two signatures: `serving_default` decodes with the
run's beamWidth and lengthPenalty, `greedy` with beam width 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import tensorflow as tf

from trainers.tasks.summarize.beam import beam_search
from trainers.tasks.summarize.vocab import END, START

TEXT = tf.TensorSpec([None], tf.string, name="text")


def decode(model, source_ids, beam_width: int, alpha: float, max_length: int):
    """Source ids [B, S] -> (summary ids [B, max_length], score [B])."""
    values, keys, mask, state = model.encode(source_ids, training=False)
    batch = tf.shape(source_ids)[0]
    if beam_width > 1:
        values, keys, mask, state = (tf.repeat(x, beam_width, axis=0) for x in (values, keys, mask, state))

    def step(tokens, decoder_state):
        return model.step(tokens, decoder_state, values, keys, mask)

    return beam_search(step, state, batch, beam_width, max_length, START, END, alpha)


class SummarizerModule(tf.Module):
    def __init__(self, model, vocabularies, beam_width: int, alpha: float):
        super().__init__(name="textjobs_summarizer")
        self.model = model
        self.vocabularies = vocabularies
        self.beam_width = beam_width
        self.alpha = alpha

    def _summarize(self, text, beam_width: int):
        ids, scores = decode(
            self.model, self.vocabularies.source_ids(text), beam_width, self.alpha, self.vocabularies.max_target
        )
        return {"summary": self.vocabularies.detokenize(ids), "score": scores}

    @tf.function(input_signature=[TEXT])
    def serve(self, text):
        return self._summarize(text, self.beam_width)

    @tf.function(input_signature=[TEXT])
    def greedy(self, text):
        return self._summarize(text, 1)

    def signatures(self) -> dict:
        return {"serving_default": self.serve, "greedy": self.greedy}


def summarize(version_dir: Path, texts: list[str], signature: str = "serving_default", batch: int = 64) -> list[dict]:
    serve = tf.saved_model.load(str(version_dir)).signatures[signature]
    results = []
    for start in range(0, len(texts), batch):
        out = serve(text=tf.constant(texts[start : start + batch]))
        for summary, score in zip(out["summary"].numpy(), out["score"].numpy(), strict=True):
            results.append({"summary": summary.decode(), "score": float(score)})
    return results


def format_summaries(texts: list[str], results: list[dict], as_json: bool) -> str:
    if as_json:
        return json.dumps([{"text": t, **r} for t, r in zip(texts, results, strict=True)], indent=2)
    return "\n".join(f"{r['summary']}\t(score {r['score']:.3f})" for r in results)
