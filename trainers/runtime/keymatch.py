"""Configuration keys are matched exactly; a near miss of a known key is an error naming it.

A key that differs from a known key only in case (`NumEpochs`), separators (`num_epochs`,
`num-epochs`), surrounding whitespace (`numEpochs `), invisible characters (a zero-width space,
a bidi mark), Unicode form (fullwidth or mathematical letters, which NFKC folds) or look-alike
letters from another script (Cyrillic `а` for Latin `a`) is not that key: Kubernetes and the
trainer both treat it as a different name, so the intended setting would be silently ignored (or
the API server refuses the ConfigMap after the merge). `near_miss` finds the key that was meant.

Look-alikes come from Unicode's confusables data (UTS #39) as packaged by `confusable-homoglyphs`,
loaded only when a key has a non-ASCII character. Pure Python: no TensorFlow, so `make validate`
and the trainer's parser share it.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt): characters that
# render as nothing. Format characters (category Cf: zero-width space and joiners, bidi controls,
# the BOM) are removed as well.
_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


def is_invisible(char: str) -> bool:
    code = ord(char)
    return unicodedata.category(char) == "Cf" or any(low <= code <= high for low, high in _IGNORABLE)


def is_separator(char: str) -> bool:
    """Word separators people put between parts of a key: `_`, `-`, `.`, spaces, other punctuation."""
    return unicodedata.category(char)[0] in "PZ" or char.isspace()


@functools.cache
def _confusables() -> dict:
    from confusable_homoglyphs.confusables import confusables_data

    return confusables_data


def ascii_lookalike(char: str) -> str:
    """The ASCII letter or digit `char` is confusable with (per Unicode), or `char` itself."""
    if char.isascii():
        return char
    for homoglyph in _confusables().get(char, ()):
        candidate = homoglyph.get("c", "")
        if len(candidate) == 1 and candidate.isascii() and candidate.isalnum():
            return candidate
    return char


# Each step maps a key towards its comparison form; its name says what a key differing there
# differs in. Known keys are plain ASCII camelCase, so only the given key changes before `case`.
def _strip(key: str) -> str:
    return key.strip()


def _visible(key: str) -> str:
    return "".join(c for c in key if not is_invisible(c))


def _nfkc(key: str) -> str:
    return unicodedata.normalize("NFKC", key)


def _lookalikes(key: str) -> str:
    return key if key.isascii() else "".join(ascii_lookalike(c) for c in key)


def _case(key: str) -> str:
    return key.casefold()


def _separators(key: str) -> str:
    return "".join(c for c in key if not is_separator(c))


STEPS = (
    ("surrounding whitespace", _strip),
    ("invisible characters", _visible),
    ("Unicode form (NFKC)", _nfkc),
    ("look-alike characters", _lookalikes),
    ("case", _case),
    ("separators", _separators),
)


def fold(key: str) -> str:
    """The form two keys share when they differ only in what `STEPS` removes."""
    for _, step in STEPS:
        key = step(key)
    return key


@dataclass(frozen=True)
class NearMiss:
    given: str
    intended: str
    differences: tuple[str, ...]

    @property
    def message(self) -> str:
        shown = ascii(self.given) if not self.given.isascii() else repr(self.given)
        return (
            f"key {shown} is not {self.intended!r}: it differs only in {', '.join(self.differences)}; "
            f"keys are matched exactly, so it would be ignored: write {self.intended!r}"
        )


def _differences(given: str, intended: str) -> tuple[str, ...]:
    """What `given` differs from `intended` in: each of the first steps that changes it, then case
    and separators where leaving that one step out would keep the two keys apart."""
    found = []
    for name, step in STEPS[:4]:
        changed = step(given)
        if changed != given:
            found.append(name)
        given = changed
    case, separators = _case, _separators
    if separators(given) != separators(intended):
        found.append("case")
    if case(given) != case(intended):
        found.append("separators")
    return tuple(found) or ("form",)


class KeyMatcher:
    """Exact matching against `known`, with the near miss named when there is one."""

    def __init__(self, known: Iterable[str]):
        self.known = frozenset(known)
        self._folded: dict[str, list[str]] = {}
        for key in sorted(self.known):
            self._folded.setdefault(fold(key), []).append(key)

    def near_miss(self, key: str) -> NearMiss | None:
        """None for a known key or a key like no known one; else the known key it imitates."""
        if key in self.known:
            return None
        candidates = self._folded.get(fold(key))
        if not candidates:
            return None
        intended = candidates[0]
        return NearMiss(key, intended, _differences(key, intended))


def near_miss(key: str, known: Iterable[str]) -> NearMiss | None:
    return KeyMatcher(known).near_miss(key)
