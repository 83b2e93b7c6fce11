"""The one text-cleaning function of the word-vector workloads: training, evaluation and serving
all call `clean_text`, so a word is the same word everywhere.

What it does, in order:

1. Unicode NFKC, then lower-case (`Ｂａｎｋ` and `Bank` are `bank`); curly apostrophes become `'`.
2. Links (`http://…`, `https://…`, `www.…`), e-mail addresses and markup tags (`<b>`, `</p>`) are
   removed; HTML entities (`&amp;`) too.
3. Contractions are expanded: `won't` -> `will not`, `can't` -> `can not`, `n't` -> ` not`,
   `'re` -> ` are`, `'ve` -> ` have`, `'ll` -> ` will`, `'m` -> ` am`, `'d` -> ` would`,
   `it's`/`that's`/… -> `it is`/`that is`/…; any other `'s` is a possessive and is dropped
   (`bank's` -> `bank`).
4. Every character that is not a letter or a digit becomes a space (symbols, punctuation, the
   remaining apostrophes and hyphens: `u.s.` -> `u s`, `long-term` -> `long term`).
5. Runs of whitespace become one space; no leading or trailing space.

The result is a line of space-separated tokens: `tokens(text)` is `clean_text(text).split()`.
Pure Python (no TensorFlow), so it runs before TensorFlow starts (the trainer parses the corpus
then) and in a service process as it is.
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_LINKS = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\w+")
_TAGS = re.compile(r"</?[a-z][^<>]*>|&[a-z]+;|&#\d+;")
# Whole words first, then the general suffixes.
_WHOLE = {
    "won't": "will not",
    "can't": "can not",
    "shan't": "shall not",
    "ain't": "is not",
    "let's": "let us",
}
_IS_WORDS = ("it", "that", "there", "here", "what", "where", "who", "he", "she", "how")
_WHOLE.update({f"{w}'s": f"{w} is" for w in _IS_WORDS})
_WHOLE_RE = re.compile(
    r"(?<![\w'])(" + "|".join(re.escape(w) for w in sorted(_WHOLE, key=len, reverse=True)) + r")(?![\w'])"
)
_SUFFIXES = [
    (re.compile(r"(?<=\w)n't\b"), " not"),
    (re.compile(r"(?<=\w)'re\b"), " are"),
    (re.compile(r"(?<=\w)'ve\b"), " have"),
    (re.compile(r"(?<=\w)'ll\b"), " will"),
    (re.compile(r"(?<=\w)'m\b"), " am"),
    (re.compile(r"(?<=\w)'d\b"), " would"),
    (re.compile(r"(?<=\w)'s\b"), ""),
]
_NOT_WORD = re.compile(r"[\W_]+")


def clean_text(text: str) -> str:
    """`text` cleaned as the module docstring says: lower-case tokens separated by single spaces."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_APOSTROPHES)
    text = _LINKS.sub(" ", text)
    text = _TAGS.sub(" ", text)
    text = _WHOLE_RE.sub(lambda m: _WHOLE[m.group(1)], text)
    for pattern, replacement in _SUFFIXES:
        text = pattern.sub(replacement, text)
    return _NOT_WORD.sub(" ", text).strip()


def tokens(text: str) -> list[str]:
    return clean_text(text).split()
