"""Field paths in rendered objects: how two renders differ, and whether a path matches a pattern.

A path is a tuple of segments: a key of a mapping, or `[x]` for an item of a list, named by its
`name` field when every item has a distinct one (containers, env, volumes), else by its index.
Shown, segments join with `.`, and a key holding `.` or `/` is shown as `[key]` (the form the
policy has always printed: `containers[tensorflow].env[HOME]`, `labels[textjobs.dev/experiment]`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass

Path = tuple[str, ...]
_TOKEN = re.compile(r"\[([^\]]*)\]|([^.\[]+)")


def item(name: object) -> str:
    return f"[{name}]"


def show(path: Path) -> str:
    out = ""
    for segment in path:
        if segment.startswith("["):
            out += segment
        elif any(c in segment for c in "./[]"):
            out += f"[{segment}]"
        else:
            out += ("." if out else "") + segment
    return out or "(object)"


def parse(text: str) -> Path:
    """A shown path or pattern back into segments (`[x]` stays a bracketed segment)."""
    return tuple(f"[{m[1]}]" if m[1] is not None else m[2] for m in _TOKEN.finditer(text))


def _segment_matches(pattern: str, segment: str) -> bool:
    inner_pattern = pattern[1:-1] if pattern.startswith("[") else pattern
    inner_segment = segment[1:-1] if segment.startswith("[") else segment
    if not pattern.startswith("[") and segment.startswith("[") and pattern != "*":
        return False  # a plain key never matches a list item
    return fnmatch.fnmatchcase(inner_segment, inner_pattern)


def matches(pattern: Path, path: Path) -> bool:
    """`*` is one segment, `**` any number (zero included); others compare as globs."""
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(matches(rest, path[i:]) for i in range(len(path) + 1))
    return bool(path) and _segment_matches(head, path[0]) and matches(rest, path[1:])


def _keyed(items: list) -> dict[str, object] | None:
    names = [i.get("name") for i in items if isinstance(i, dict)]
    if len(names) != len(items) or any(not isinstance(n, str) for n in names) or len(set(names)) != len(names):
        return None
    return {item(n): i for n, i in zip(names, items, strict=True)}


def _children(value: object) -> dict[str, object] | None:
    """A mapping's keys, or a list's items by name (or index); None for a scalar."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        return _keyed(value) or {item(i): v for i, v in enumerate(value)}
    return None


@dataclass(frozen=True)
class Difference:
    path: Path
    before: object  # MISSING when added
    after: object  # MISSING when removed


class _Missing:
    def __repr__(self) -> str:
        return "(absent)"


MISSING = _Missing()


def differences(before: object, after: object, path: Path = ()) -> Iterator[Difference]:
    """Where `after` differs from `before`, as deep as both have structure. A list of plain values
    (args, command) is one value. An added or removed subtree is one difference at its root."""
    if before == after:
        return
    old, new = _children(before), _children(after)
    scalar_list = isinstance(after, list) and not any(isinstance(v, dict | list) for v in after)
    if old is None or new is None or type(before) is not type(after) or scalar_list:
        yield Difference(path, before, after)
        return
    for key in [*old, *(k for k in new if k not in old)]:
        yield from differences(old.get(key, MISSING), new.get(key, MISSING), (*path, key))


def leaves(value: object, path: Path = ()) -> Iterator[tuple[Path, object]]:
    """Every scalar (or list of scalars) under `value`, with its path."""
    children = _children(value)
    scalar_list = isinstance(value, list) and not any(isinstance(v, dict | list) for v in value)
    if children is None or scalar_list or not children:
        yield path, value
        return
    for key, child in children.items():
        yield from leaves(child, (*path, key))
