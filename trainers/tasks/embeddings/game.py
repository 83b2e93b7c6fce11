"""The word game ("AI hat"): an explainer gives hints for a word without naming it, guessers name
candidates after each hint; earlier guesses score more.

Rules, as `python -m trainers play`, the trainer's game metrics and the service apply them:

- `explain(word, n)`: the n vocabulary words nearest to the word (cosine), best first, leaving
  out any hint that `shares_stem` with it.
- `shares_stem(a, b)`: a and b are equal, or their Snowball (Porter2) English stems are equal, or
  the shorter stem has at least 4 letters and the longer word starts with it
  (`bank`/`banker`, `sinking`/`sink`, `liberalisation`/`liberal`; not `car`/`carbon`).
  The stemmer is NLTK's SnowballStemmer("english") (nltk is pinned).
- `guess(hints, n)`: the n vocabulary words nearest to the mean of the hints' unit vectors, never a
  hint itself. Hints outside the guesser's vocabulary are ignored (with subwords they get a vector).
- A round for word w with H hints and N guesses a turn: after hint i (1..H) each guesser that has
  not yet found w names N candidates from hints 1..i; if w is among them, it found w at turn i.
  Guess points for that guesser: H - i + 1 (H at the first hint, 1 at the last, 0 if never).
  Explain points for the explainer: the sum of its guessers' guess points (more guessers and
  earlier guesses, more points). Total = guess points + explain points.
  Scores are per word (mean over the words played), so H bounds a guesser's guess score.
- Reference accuracy@N: the fraction of game words the guesser names among its N candidates given
  the word's first k reference hints (WordNet synonyms, hypernyms, gloss words, in that order),
  no explainer involved. A word with fewer than k usable hints is still scored with what it has;
  a game word the guesser cannot name (outside its vocabulary) counts as a miss.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trainers.tasks.embeddings.space import WordSpace

MIN_PREFIX_STEM = 4


class UnknownWord(ValueError):
    """A word the model has no vector for."""


@functools.lru_cache(maxsize=1)
def _stemmer():
    from nltk.stem.snowball import SnowballStemmer

    return SnowballStemmer("english")


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _stemmer().stem(word)


def shares_stem(a: str, b: str) -> bool:
    if a == b:
        return True
    sa, sb = stem(a), stem(b)
    if sa == sb:
        return True
    short, long_word = (sa, b) if len(sa) <= len(sb) else (sb, a)
    return len(short) >= MIN_PREFIX_STEM and long_word.startswith(short)


class Player:
    """Explains and guesses with one word space."""

    def __init__(self, space: WordSpace, name: str = ""):
        self.space, self.name = space, name

    def explain(self, word: str, n: int) -> list[tuple[str, float]]:
        vector = self.space.vector(word)
        if vector is None:
            raise UnknownWord(f"{word!r} is not in the explainer's vocabulary")
        hints: list[tuple[str, float]] = []
        k = n * 4 + 20
        while True:
            ranked = self.space.nearest(vector, k, exclude=(word,))
            hints = [(w, s) for w, s in ranked if not shares_stem(word, w)][:n]
            if len(hints) == n or k >= len(self.space.words):
                return hints
            k *= 4

    def guess(self, hints: Sequence[str], n: int) -> list[tuple[str, float]]:
        vectors = [v for v in (self.space.vector(h) for h in hints) if v is not None]
        if not vectors:
            raise UnknownWord(f"none of the hints {list(hints)} is in the guesser's vocabulary")
        query = np.mean(vectors, axis=0)
        return self.space.nearest(query, n, exclude=tuple(hints))


@dataclass
class Score:
    words: int = 0
    found: int = 0
    guess: float = 0.0  # summed guess points of all guessers
    explain: float = 0.0

    def row(self, guessers: int) -> dict[str, float]:
        n = max(self.words, 1)
        return {
            "words": self.words,
            "found": self.found / (n * guessers),
            "guess_score": self.guess / (n * guessers),
            "explain_score": self.explain / n,
            "total": self.guess / (n * guessers) + self.explain / n,
        }


def play(explainer: Player, guessers: Sequence[Player], words: Sequence[str], hints: int, guesses: int) -> dict:
    """Rounds over `words` (those the explainer knows); the per-word scores as the module says."""
    score = Score()
    for word in words:
        if word not in explainer.space:
            continue
        given = [w for w, _ in explainer.explain(word, hints)]
        score.words += 1
        for guesser in guessers:
            for turn in range(1, len(given) + 1):
                try:
                    named = [w for w, _ in guesser.guess(given[:turn], guesses)]
                except UnknownWord:
                    continue
                if word in named:
                    points = hints - turn + 1
                    score.found += 1
                    score.guess += points
                    score.explain += points
                    break
    return score.row(len(guessers))


def reference_accuracy(
    guesser: Player, words: Sequence[str], reference: Sequence[Sequence[str]], k: int, top: int
) -> tuple[float, int]:
    """(accuracy@top, words scored) from the first k reference hints of each word that has any."""
    hits = scored = 0
    for word, given in zip(words, reference, strict=True):
        if not given:
            continue
        scored += 1
        try:
            named = [w for w, _ in guesser.guess(list(given[:k]), top)]
        except UnknownWord:
            continue
        hits += word in named
    return (hits / scored if scored else float("nan")), scored
