"""How an encoder-decoder model decodes, in one call: encode the source once, tile what the
steps read for beam search, and run the chosen search.

A model offers two functions:

    encode(source_ids [B, S]) -> (memory, state)
        memory: what every step reads and never changes (the encoded source, its mask);
        state:  what each step updates (a recurrent state, the tokens so far, a cache).
        Both are nested structures of tensors whose leading dimension is the batch.
    step(tokens [N], state, memory) -> (log-probabilities [N, V], state)

and the decoding is a value: `Greedy()`, `Beam(width, length_penalty)` or
`Sample(seed, temperature, top_k, top_p)`, so an export can hold one signature per decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from trainers.shared.seq2seq.sampling import sample_search
from trainers.shared.seq2seq.search import beam_search, greedy_search
from trainers.shared.seq2seq.vocab import END, START


@dataclass(frozen=True)
class Greedy:
    """The most likely token at every step; the score is the log-probability."""


@dataclass(frozen=True)
class Beam:
    """Beam search (search.py); the score is the length-normalised log-probability. Width 1
    gives greedy search's tokens. No hypothesis ends before `min_length` tokens; with
    `no_repeat_ngram` n none writes an n-gram twice (0: no limit)."""

    width: int
    length_penalty: float = 0.0
    min_length: int = 0
    no_repeat_ngram: int = 0


@dataclass(frozen=True)
class Sample:
    """Seeded sampling (sampling.py). seed and temperature may be tensors."""

    seed: Any = 0
    temperature: Any = 1.0
    top_k: int = 0
    top_p: float = 1.0


Decoding = Greedy | Beam | Sample


def decode(encode, step, source_ids, max_length: int, how: Decoding, start_id: int = START, end_id: int = END):
    """-> (ids [B, max_length] int64, score [B]); after </s> come more </s> or zeros.
    `source_ids` may be a nested structure (say ids and a copy mechanism's extended ids), every
    part with the batch first; `encode` receives it as it is."""
    memory, state = encode(source_ids)
    batch = tf.shape(tf.nest.flatten(source_ids)[0])[0]
    if isinstance(how, Beam):
        if how.width > 1:  # each batch element's beams adjacent, as beam_search expects
            memory, state = tf.nest.map_structure(lambda x: tf.repeat(x, how.width, axis=0), (memory, state))
        return beam_search(
            lambda tokens, s: step(tokens, s, memory),
            state,
            batch,
            how.width,
            max_length,
            start_id,
            end_id,
            how.length_penalty,
            how.min_length,
            how.no_repeat_ngram,
        )
    if isinstance(how, Greedy):
        return greedy_search(lambda tokens, s: step(tokens, s, memory), state, batch, max_length, start_id, end_id)
    if isinstance(how, Sample):
        return sample_search(
            lambda tokens, s: step(tokens, s, memory),
            state,
            batch,
            max_length,
            start_id,
            end_id,
            how.seed,
            how.temperature,
            how.top_k,
            how.top_p,
        )
    raise TypeError(f"unknown decoding {how!r}")
