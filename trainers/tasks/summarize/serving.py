"""The exported summarizer: raw strings in, decoded summaries and their scores out.

Two signatures (trainers/shared/seq2seq/serving.py): `serving_default` decodes with the run's
beamWidth and lengthPenalty, `greedy` with beam width 1. Tokenization, encoding and beam search
all run inside the graph with core TensorFlow ops, so stock TF Serving and KServe load the export.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from trainers.shared.seq2seq.decode import Beam
from trainers.shared.seq2seq.decode import decode as seq2seq_decode
from trainers.shared.seq2seq.serving import TextDecoderModule, decode_texts

OUTPUT = "summary"


def decode(model, source_ids, how: Beam, max_length: int):
    """Source ids [B, S] -> (summary ids [B, max_length], score [B]). The summarizer decodes by
    beam search only, width 1 included, so every score is length-normalised alike. A copying
    model takes (source ids, extended ids) and returns extended ids (copying.py)."""

    def encode(source):
        ids, extended = source if model.copy_mechanism else (source, None)
        values, keys, mask, state = model.encode(ids, training=False)
        return ((values, keys, mask, extended) if model.copy_mechanism else (values, keys, mask)), state

    def step(tokens, state, memory):
        return model.step(tokens, state, *memory)

    return seq2seq_decode(encode, step, source_ids, max_length, how)


def summarizer_module(model, vocabularies, beam: Beam) -> TextDecoderModule:
    """`serving_default` decodes as `beam` says, `greedy` the same with width 1."""

    def decode_ids(source_ids, how: Beam):
        return decode(model, source_ids, how, vocabularies.max_target)

    decodings = {"serving_default": beam, "greedy": dataclasses.replace(beam, width=1)}
    if not model.copy_mechanism:
        return TextDecoderModule(model, vocabularies, decode_ids, decodings, OUTPUT, name="textjobs_summarizer")
    return TextDecoderModule(
        model,
        vocabularies,
        lambda source, how: decode_ids(source[:2], how),
        decodings,
        OUTPUT,
        name="textjobs_summarizer",
        read_source=vocabularies.source,
        write_text=lambda ids, source: vocabularies.detokenize_copied(ids, source[2]),
    )


class LiteSummarizer:
    """A .tflite summarizer (runtime/lite/): tokenization, the search and detokenization run here
    with the same shared code as the SavedModel's graph; the interpreter runs `encode` once and
    `step` once per decoded token."""

    def __init__(self, version_dir: Path):
        import tensorflow as tf

        from trainers.runtime.lite.runner import open_version
        from trainers.runtime.rebuild import key_value, read_run_file
        from trainers.shared.seq2seq.vocab import Vocabularies
        from trainers.tasks.summarize.keys import KEYS

        found = read_run_file(version_dir)
        config, assets = found["config"], found["assets"]
        self.vocabularies = Vocabularies(
            assets["source"],
            assets["target"],
            key_value(config, KEYS, "maxSourceLength"),
            key_value(config, KEYS, "maxTargetLength"),
        )
        alpha = key_value(config, KEYS, "lengthPenalty")
        self.decodings = {
            "serving_default": Beam(key_value(config, KEYS, "beamWidth"), alpha),
            "greedy": Beam(1, alpha),
        }
        self.source_ids = tf.function(self.vocabularies.source_ids, input_signature=[tf.TensorSpec([None], tf.string)])
        self.detokenize = tf.function(
            self.vocabularies.detokenize, input_signature=[tf.TensorSpec([None, None], tf.int64)]
        )
        self.model = open_version(version_dir)

    def _encode(self, source_ids):
        import tensorflow as tf

        out = self.model("encode", source_ids=source_ids.numpy())
        memory = tuple(tf.constant(out[k]) for k in ("values", "keys", "mask"))
        return memory, tf.constant(out["state"])

    def _step(self, tokens, state, memory):
        import tensorflow as tf

        values, keys, mask = (m.numpy() for m in memory)
        out = self.model("step", tokens=tokens.numpy(), state=state.numpy(), values=values, keys=keys, mask=mask)
        return tf.constant(out["log_probs"]), tf.constant(out["state"])

    def __call__(self, texts: list[str], signature: str = "serving_default") -> list[dict]:
        import tensorflow as tf

        ids = self.source_ids(tf.constant(texts))
        how = self.decodings[signature]
        decoded, scores = seq2seq_decode(self._encode, self._step, ids, self.vocabularies.max_target, how)
        summaries = self.detokenize(decoded).numpy()
        return [{OUTPUT: s.decode(), "score": float(v)} for s, v in zip(summaries, scores.numpy(), strict=True)]


def summarize(
    version_dir: Path, texts: list[str], signature: str = "serving_default", batch: int = 64, info: dict | None = None
) -> list[dict]:
    if (info or {}).get("artifact") == "tflite":
        lite = LiteSummarizer(version_dir)
        return [r for start in range(0, len(texts), batch) for r in lite(texts[start : start + batch], signature)]
    return decode_texts(version_dir, texts, OUTPUT, signature, batch)


def predictor(version_dir: Path, info: dict):
    """Raw texts -> summaries (serving_default: the run's beam search), for either artifact kind."""
    if info.get("artifact") == "tflite":
        return LiteSummarizer(version_dir)
    import tensorflow as tf

    serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    return lambda texts: serve(text=tf.constant(texts))[OUTPUT].numpy()


def format_summaries(texts: list[str], results: list[dict], as_json: bool) -> str:
    if as_json:
        return json.dumps([{"text": t, **r} for t, r in zip(texts, results, strict=True)], indent=2)
    return "\n".join(f"{r['summary']}\t(score {r['score']:.3f})" for r in results)
