"""Evaluation files of the embeddings task (no TensorFlow), every problem naming file and line.

- Game words (`evalData`): one game word a line, either a JSON object in the format of
  `hat-words.dev.jsonl` (`word` and its reference hints `synonyms`, `hypernyms`, `gloss`, taken in
  that order) or `word<TAB>hint hint hint` (hints optional). Blank lines and `#` comments skipped.
- Word similarity (`similarityFiles`): `word<TAB>word<TAB>score` (WordSim-353, SimLex-999).
- Analogies (`analogyFile`): `a b c d` (a is to b as c is to d) under `: section` headers, the
  word2vec questions-words format.

Every word goes through `clean_text`, as the corpus did; a word that cleans to several tokens (or
none) cannot have one vector and is an error naming the line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from trainers.runtime.errors import DataError
from trainers.runtime.textfile import content_lines
from trainers.shared.cleaning import tokens


def one_word(path, number: int, text: str) -> str:
    found = tokens(text)
    if len(found) != 1:
        raise DataError(f"{path}:{number}: {text!r} is {len(found)} words after cleaning, not one")
    return found[0]


@dataclass
class GameWords:
    path: str
    words: list[str]
    hints: list[list[str]]  # reference hints per word, in order (may be empty)
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.words)


def _hint_tokens(values) -> list[str]:
    out: list[str] = []
    for value in values:
        for token in tokens(str(value)):
            if token not in out:
                out.append(token)
    return out


def read_game_words(path: str | Path) -> GameWords:
    words, hints = [], []
    for number, line in content_lines(path):
        if line.lstrip().startswith("{"):
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{path}:{number}: not a JSON object ({exc})") from None
            if not isinstance(record, dict) or not isinstance(record.get("word"), str):
                raise DataError(f"{path}:{number}: a JSON line needs a string 'word'")
            parts = []
            for key in ("synonyms", "hypernyms", "gloss"):
                value = record.get(key, [])
                if not isinstance(value, list):
                    raise DataError(f"{path}:{number}: {key!r} must be a list of words")
                parts.extend(value)
            word, given = one_word(path, number, record["word"]), _hint_tokens(parts)
        else:
            word_text, _, hint_text = line.partition("\t")
            word, given = one_word(path, number, word_text), _hint_tokens(hint_text.split())
        words.append(word)
        hints.append([h for h in given if h != word])
    if not words:
        raise DataError(f"{path}: no game words")
    return GameWords(str(path), words, hints)


@dataclass
class SimilarityPairs:
    name: str
    pairs: list[tuple[str, str, float]]


def read_similarity(path: str | Path) -> SimilarityPairs:
    pairs = []
    for number, line in content_lines(path):
        parts = line.split("\t")
        if len(parts) < 3:
            raise DataError(f"{path}:{number}: expected word<TAB>word<TAB>score, found {len(parts)} fields")
        try:
            score = float(parts[2])
        except ValueError:
            raise DataError(f"{path}:{number}: score {parts[2]!r} is not a number") from None
        pairs.append((one_word(path, number, parts[0]), one_word(path, number, parts[1]), score))
    if len(pairs) < 2:
        raise DataError(f"{path}: a similarity file needs at least two pairs")
    return SimilarityPairs(Path(path).name.split(".")[0], pairs)


def read_analogies(path: str | Path) -> list[tuple[str, str, str, str]]:
    questions = []
    for number, line in content_lines(path):
        if line.startswith(":"):
            continue
        parts = line.split()
        if len(parts) != 4:
            raise DataError(f"{path}:{number}: expected four words (a b c d), found {len(parts)}")
        questions.append(tuple(one_word(path, number, p) for p in parts))
    if not questions:
        raise DataError(f"{path}: no analogy questions")
    return questions
