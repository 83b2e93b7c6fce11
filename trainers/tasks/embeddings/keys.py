"""The embeddings task's configuration keys (no TensorFlow).

Word2vec's own learning rate is `alpha` (per (word, context) pair, decayed linearly to
alpha x 1e-4 over the run, as word2vec and gensim do); the runtime's `learningRate`,
`optimizer` and `learningRateSchedule` describe Adam and are refused here rather than ignored.
"""

from __future__ import annotations

from trainers.runtime.config import ConfigError, Key, between, parse_float, parse_int, parse_str

MODEL_TYPES = ("cbow", "skipgram")
# Keys of the runtime that mean nothing for word2vec's SGD: set, they would be silently ignored.
NOT_FOR_WORD2VEC = ("learningRate", "optimizer", "learningRateSchedule", "warmupSteps", "minLearningRate")
MAX_TABLE_ELEMENTS = 400_000_000  # (vocabulary + buckets) x dimension, twice: the two tables


KEYS: dict[str, Key] = {
    "embeddingDim": Key(parse_int, "100", "word-vector size", between(1, 1024)),
    "window": Key(parse_int, "5", "largest context window each side (each word draws 1..window)", between(1, 50)),
    "negatives": Key(parse_int, "5", "negative samples per example, drawn from unigram^0.75", between(1, 64)),
    "minCount": Key(parse_int, "5", "words seen fewer times are left out of the vocabulary", between(1, 10**9)),
    "maxVocab": Key(parse_int, "500000", "largest vocabulary (most frequent words first)", between(2, 10_000_000)),
    "subsample": Key(
        parse_float, "0.001", "sub-sampling threshold t of frequent words (word2vec's -sample); 0 = off", between(0, 1)
    ),
    "alpha": Key(
        parse_float, "0.025", "word2vec's starting learning rate per example, decayed linearly", between(1e-6, 10.0)
    ),
    "minN": Key(parse_int, "0", "shortest character n-gram of the subword vectors; 0 = no subwords", between(0, 20)),
    "maxN": Key(parse_int, "0", "longest character n-gram (fastText: 3..6)", between(0, 20)),
    "buckets": Key(parse_int, "200000", "hash buckets of the character n-grams", between(1, 10_000_000)),
    "chunkTokens": Key(
        parse_int,
        "10000",
        "corpus tokens per unit of the input pipeline (examples never cross lines)",
        between(100, 10**7),
    ),
    "similarityFiles": Key(
        parse_str, "", "comma-separated word-similarity files (word<TAB>word<TAB>score) for Spearman rho each epoch"
    ),
    "analogyFile": Key(parse_str, "", "analogy questions (a b c d lines, ': section' headers) for accuracy each epoch"),
    "gameHints": Key(parse_int, "5", "hints the explainer gives per word in the game metrics", between(1, 50)),
    "gameGuesses": Key(parse_int, "10", "candidates the guesser names after each hint", between(1, 1000)),
    "referenceHints": Key(parse_int, "3", "reference hints given to the guesser for accuracy@N", between(1, 50)),
    "referenceTop": Key(parse_int, "20", "N of the reference accuracy@N", between(1, 1000)),
}


def resolve(cfg):
    for key in NOT_FOR_WORD2VEC:
        if cfg.sources.get(key, "default") != "default":
            raise cfg.error(key, "does not apply to word2vec (plain SGD, linear decay): set alpha instead")
    if (cfg.min_n == 0) != (cfg.max_n == 0):
        raise cfg.error("maxN" if cfg.max_n == 0 else "minN", "minN and maxN are both 0 (no subwords) or both set")
    if cfg.min_n > cfg.max_n:
        raise cfg.error("minN", f"must not exceed maxN={cfg.max_n}")
    rows = cfg.max_vocab + (cfg.buckets if cfg.min_n else 0)
    if 2 * rows * cfg.embedding_dim > MAX_TABLE_ELEMENTS:
        raise ConfigError(
            f"{cfg.sources['embeddingDim']}: (maxVocab + buckets) x embeddingDim x 2 tables is over "
            f"{MAX_TABLE_ELEMENTS:,} elements; lower maxVocab, buckets or embeddingDim"
        )
    return cfg
