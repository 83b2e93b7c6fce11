"""The classification line format, parsed without TensorFlow.

One example per line, UTF-8 (a byte-order mark is ignored):

    <label>\t<text>                   single-label
    <label>,<label>,...\t<text>       multi-label (multiLabel=true)

Blank lines and lines starting with '#' are ignored. Anything else that does not fit is an error
naming the file and line, unless skipBadLines is set, in which case bad lines are counted.

A label is matched character by character against the label map, printed in predictions and
typed in queries, so it may not hold a character that does not show: format characters
(Unicode Cf: zero-width space and joiners, bidi overrides and isolates, the byte-order mark),
control characters, whitespace other than the plain space, and the few letters and marks that
render blank (Hangul fillers, the combining grapheme joiner, variation selectors). Two labels
that look the same would otherwise be two classes.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from trainers.runtime.errors import DataError
from trainers.runtime.textfile import parse_lines

__all__ = ["DataError", "Examples", "check_known_labels", "label_names", "parse_line", "read_examples"]

# Categories whose characters never show: format, control, surrogate, private use, unassigned;
# and line or paragraph separators.
_INVISIBLE_CATEGORIES = {"Cf", "Cc", "Cs", "Co", "Cn", "Zl", "Zp"}
# Characters of visible categories that render as nothing or as blank space.
_BLANK_CHARACTERS = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0}
_BLANK_CHARACTERS |= set(range(0xFE00, 0xFE10)) | set(range(0xE0100, 0xE01F0))  # variation selectors


@dataclass
class Examples:
    texts: list[str] = field(default_factory=list)
    labels: list[tuple[str, ...]] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)
    skipped: int = 0
    path: str = ""

    def __len__(self) -> int:
        return len(self.texts)


def invisible_character(label: str) -> str | None:
    """A description of the first character of `label` that does not show, else None."""
    for position, char in enumerate(label, start=1):
        category = unicodedata.category(char)
        blank_space = category == "Zs" and char != " "
        if category in _INVISIBLE_CATEGORIES or blank_space or ord(char) in _BLANK_CHARACTERS:
            name = unicodedata.name(char, "unnamed")
            return f"U+{ord(char):04X} ({name}, category {category}) at character {position}"
    return None


def parse_line(line: str, multi_label: bool) -> tuple[tuple[str, ...], str]:
    """Return (labels, text) or raise ValueError saying what is wrong with the line."""
    if "\t" not in line:
        raise ValueError("expected '<label><TAB><text>', found no tab")
    label_field, text = line.split("\t", 1)
    text = text.strip()
    labels = tuple(part.strip() for part in label_field.split(","))
    if not text:
        raise ValueError("the text after the tab is empty")
    if any(not label for label in labels):
        raise ValueError(f"empty label in {label_field!r}")
    if len(labels) > 1 and not multi_label:
        raise ValueError(f"several labels {label_field!r} but multiLabel is false")
    if len(set(labels)) != len(labels):
        raise ValueError(f"repeated label in {label_field!r}")
    for label in labels:
        hidden = invisible_character(label)
        if hidden:
            raise ValueError(f"label {label!r} holds an invisible character {hidden}")
    return labels, text


def read_examples(path: str | Path, multi_label: bool, skip_bad_lines: bool) -> Examples:
    rows, numbers, skipped = parse_lines(path, lambda line: parse_line(line, multi_label), skip_bad_lines)
    return Examples(
        texts=[text for _, text in rows],
        labels=[labels for labels, _ in rows],
        line_numbers=numbers,
        skipped=skipped,
        path=str(path),
    )


def label_names(examples: Examples) -> list[str]:
    """The label map: every label seen in training, sorted, so every worker agrees on it."""
    return sorted({label for labels in examples.labels for label in labels})


def check_known_labels(examples: Examples, names: list[str]) -> None:
    known = set(names)
    for line_number, labels in zip(examples.line_numbers, examples.labels, strict=True):
        unknown = [label for label in labels if label not in known]
        if unknown:
            raise DataError(
                f"{examples.path}:{line_number}: label {unknown[0]!r} is not one the model was trained on "
                f"(known: {', '.join(names)})"
            )
