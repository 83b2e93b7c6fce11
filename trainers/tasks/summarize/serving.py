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


def summarize(version_dir: Path, texts: list[str], signature: str = "serving_default", batch: int = 64) -> list[dict]:
    return decode_texts(version_dir, texts, OUTPUT, signature, batch)


def format_summaries(texts: list[str], results: list[dict], as_json: bool) -> str:
    if as_json:
        return json.dumps([{"text": t, **r} for t, r in zip(texts, results, strict=True)], indent=2)
    return "\n".join(f"{r['summary']}\t(score {r['score']:.3f})" for r in results)
