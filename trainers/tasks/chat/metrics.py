"""Reply quality: corpus BLEU with sacrebleu (13a tokenization, lower-cased: replies are decoded
lower-case), distinct-n (Li et al. 2016: distinct n-grams / all n-grams over the decoded replies,
the diversity a chatbot loses when it answers everything alike), and the baseline that answers
every context with the most frequent training reply. No TensorFlow here."""

from __future__ import annotations

import collections

import sacrebleu


def bleu(references: list[str], replies: list[str]) -> float:
    """Corpus BLEU in [0, 100]."""
    if len(references) != len(replies) or not references:
        raise ValueError(f"{len(references)} references and {len(replies)} replies")
    # force: replies are decoded with punctuation split off ("rome is in italy ."), which
    # sacrebleu takes for tokenized input and warns about; 13a splits references alike.
    return float(sacrebleu.corpus_bleu(replies, [references], lowercase=True, force=True).score)


def distinct(replies: list[str], n: int) -> float:
    grams = [tuple(words[i : i + n]) for words in (r.split() for r in replies) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def reply_metrics(references: list[str], replies: list[str]) -> dict[str, float]:
    return {"bleu": bleu(references, replies), "distinct1": distinct(replies, 1), "distinct2": distinct(replies, 2)}


def most_frequent(replies: list[str]) -> str:
    """The most frequent reply (ties: the first seen)."""
    return collections.Counter(replies).most_common(1)[0][0]
