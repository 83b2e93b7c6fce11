"""The summarization task's configuration keys (no TensorFlow)."""

from __future__ import annotations

from trainers.runtime.config import Key, between, fraction, parse_bool, parse_float, parse_int

MODEL_TYPES = ("seq2seq-attention",)

KEYS: dict[str, Key] = {
    "maxSourceLength": Key(parse_int, "60", "source tokens kept per text (padded or truncated)", between(2, 2000)),
    "maxTargetLength": Key(parse_int, "16", "summary tokens generated at most, end token included", between(2, 500)),
    "sourceVocabSize": Key(
        parse_int, "20000", "largest source vocabulary, reserved ids included", between(3, 2_000_000)
    ),
    "targetVocabSize": Key(
        parse_int, "10000", "largest summary vocabulary, reserved ids included", between(5, 2_000_000)
    ),
    "embeddingDim": Key(parse_int, "96", "word-vector size (source and summary)", between(1, 2048)),
    "hiddenSize": Key(parse_int, "96", "GRU units (the encoder has this many per direction)", between(1, 4096)),
    "encoderLayers": Key(parse_int, "1", "stacked bidirectional GRU layers in the encoder", between(1, 8)),
    "dropout": Key(parse_float, "0.2", "dropout on embeddings and before the output layer", fraction),
    "beamWidth": Key(parse_int, "4", "beam search width in the export and validation (1: greedy)", between(1, 64)),
    "lengthPenalty": Key(
        parse_float,
        "0.6",
        "alpha of ((5+|Y|)/6)^alpha dividing a hypothesis' log-probability (0: none)",
        between(0.0, 5.0),
    ),
    "minSummaryLength": Key(
        parse_int, "0", "words every decoded summary has at least before it may end (0: no minimum)", between(0, 499)
    ),
    "noRepeatNgram": Key(
        parse_int, "0", "decoding never writes an n-gram of this length twice in a summary (0: off)", between(0, 8)
    ),
    "labelSmoothing": Key(
        parse_float, "0", "training target weight spread evenly over the summary vocabulary", between(0.0, 0.5)
    ),
    "copyMechanism": Key(
        parse_bool,
        "false",
        "pointer-generator: copy source words (names, numbers) the summary vocabulary lacks",
    ),
    "evalSamples": Key(parse_int, "200", "validation pairs decoded each epoch for ROUGE", between(1, 1_000_000)),
}


def resolve(cfg):
    return cfg
