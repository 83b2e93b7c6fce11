"""ROUGE with `rouge-score` (Google's reimplementation of ROUGE-1.5.5; F1, Porter stemmer, the
settings the Reuters data's README uses for its lead baselines), and the lead-N baseline."""

from __future__ import annotations

import statistics

from rouge_score import rouge_scorer

MEASURES = ("rouge1", "rouge2", "rougeL")


def rouge(references: list[str], predictions: list[str]) -> dict[str, float]:
    """Mean F1 of each measure over the pairs, as fractions in [0, 1]."""
    if len(references) != len(predictions) or not references:
        raise ValueError(f"{len(references)} references and {len(predictions)} predictions")
    scorer = rouge_scorer.RougeScorer(list(MEASURES), use_stemmer=True)
    scores = [
        scorer.score(reference, prediction) for reference, prediction in zip(references, predictions, strict=True)
    ]
    return {measure: statistics.fmean(s[measure].fmeasure for s in scores) for measure in MEASURES}


def lead(text: str, words: int) -> str:
    """The first `words` words of the text: the baseline every headline model must beat."""
    return " ".join(text.split()[:words])
