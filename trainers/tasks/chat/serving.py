"""The exported chatbot: raw strings in, replies and their scores out.

Signatures (trainers/shared/seq2seq/serving.py; core TensorFlow ops only):
    serving_default   beam search (beamWidth, lengthPenalty); width 1 is greedy
    greedy            the likeliest token at each step
    sample            text, seed (int64) and temperature (float) in: seeded sampling with the
                      run's topK and topP; the same seed and text give the same reply
"""

from __future__ import annotations

import json
from pathlib import Path

import tensorflow as tf

from trainers.shared.seq2seq.decode import Beam, Greedy, Sample
from trainers.shared.seq2seq.decode import decode as seq2seq_decode
from trainers.shared.seq2seq.serving import SCORE, TEXT, TextDecoderModule, decode_texts

OUTPUT = "reply"


def decode(model, source_ids, how, max_length: int):
    """Context ids [B, S] -> (reply ids [B, max_length], score [B])."""

    def encode(ids):
        memory, mask = model.encode(ids, training=False)
        return (memory, mask), model.start_state(tf.shape(ids)[0])

    def step(tokens, state, memory):
        return model.step(tokens, state, *memory)

    return seq2seq_decode(encode, step, source_ids, max_length, how)


class ChatModule(TextDecoderModule):
    def __init__(self, model, vocabularies, beam_width: int, alpha: float, top_k: int, top_p: float):
        def decode_ids(source_ids, how):
            return decode(model, source_ids, how, vocabularies.max_target)

        decodings = {"serving_default": Beam(beam_width, alpha), "greedy": Greedy()}
        super().__init__(model, vocabularies, decode_ids, decodings, OUTPUT, name="textjobs_chat")

        @tf.function(
            input_signature=[
                TEXT,
                tf.TensorSpec([], tf.int64, name="seed"),
                tf.TensorSpec([], tf.float32, name="temperature"),
            ]
        )
        def sample(text, seed, temperature):
            how = Sample(seed=seed, temperature=temperature, top_k=top_k, top_p=top_p)
            ids, scores = decode_ids(vocabularies.source_ids(text), how)
            return {OUTPUT: vocabularies.detokenize(ids), SCORE: scores}

        self._signatures["sample"] = sample


def reply(version_dir: Path, texts: list[str], signature: str = "serving_default", batch: int = 64) -> list[dict]:
    return decode_texts(version_dir, texts, OUTPUT, signature, batch)


def sampled(loaded, texts: list[str], seed: int, temperature: float) -> list[dict]:
    out = loaded.signatures["sample"](
        text=tf.constant(texts), seed=tf.constant(seed, tf.int64), temperature=tf.constant(temperature, tf.float32)
    )
    return [{OUTPUT: r.decode(), SCORE: float(s)} for r, s in zip(out[OUTPUT].numpy(), out[SCORE].numpy(), strict=True)]


def format_replies(texts: list[str], results: list[dict], as_json: bool) -> str:
    if as_json:
        return json.dumps([{"text": t, **r} for t, r in zip(texts, results, strict=True)], indent=2)
    return "\n".join(f"{r[OUTPUT]}\t(score {r[SCORE]:.3f})" for r in results)
