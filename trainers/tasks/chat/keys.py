"""The chat task's configuration keys (no TensorFlow). The optimizer, its learning-rate schedule
(warmup-rsqrt as in Vaswani et al. 2017) and gradientClipNorm are the runtime's keys."""

from __future__ import annotations

from trainers.runtime.config import Key, between, fraction, parse_float, parse_int

MODEL_TYPES = ("transformer",)

KEYS: dict[str, Key] = {
    "layers": Key(parse_int, "2", "Transformer layers in the encoder and in the decoder", between(1, 24)),
    "heads": Key(parse_int, "4", "attention heads (modelDim must divide by it)", between(1, 64)),
    "modelDim": Key(parse_int, "128", "width of embeddings, attention and residual stream", between(8, 4096)),
    "ffDim": Key(parse_int, "256", "hidden units of each position-wise feed-forward block", between(8, 16384)),
    "dropout": Key(parse_float, "0.1", "dropout on embeddings, attention outputs and feed-forward blocks", fraction),
    "maxSourceLength": Key(parse_int, "16", "context tokens kept (padded or truncated)", between(2, 1024)),
    "maxTargetLength": Key(parse_int, "16", "reply tokens generated at most, end token included", between(2, 512)),
    "vocabSize": Key(
        parse_int,
        "8000",
        "largest vocabulary (contexts and replies share it), reserved ids included",
        between(5, 10**6),
    ),
    "labelSmoothing": Key(parse_float, "0.1", "label smoothing of the training loss (0: none)", between(0.0, 0.5)),
    "beamWidth": Key(parse_int, "4", "beam width of serving_default and validation (1: greedy)", between(1, 64)),
    "lengthPenalty": Key(
        parse_float, "0.6", "alpha of ((5+|Y|)/6)^alpha dividing a reply's log-probability (0: none)", between(0.0, 5.0)
    ),
    "topK": Key(
        parse_int, "0", "the export's `sample` signature: draw among the k likeliest (0: all)", between(0, 10**6)
    ),
    "topP": Key(parse_float, "0.9", "the export's `sample` signature: nucleus probability mass", between(0.01, 1.0)),
    "evalSamples": Key(
        parse_int, "200", "validation pairs decoded each epoch for BLEU and distinct-n", between(1, 1_000_000)
    ),
}


def resolve(cfg):
    if cfg.model_dim % cfg.heads:
        raise cfg.error("heads", f"must divide modelDim={cfg.model_dim}")
    return cfg
