"""What images/trainer/Dockerfile says the image runs, read back so the local image cannot drift.

Only the instructions that end up in an image's config are read: ENV, WORKDIR, USER and the
exec-form ENTRYPOINT. Each is taken from its last occurrence, as Docker does.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "images" / "trainer" / "Dockerfile"


class DockerfileError(ValueError):
    pass


def instructions(text: str) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments) with backslash continuations joined and comments dropped."""
    found: list[tuple[int, str, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        command, _, arguments = (pending + line).partition(" ")
        found.append((start, command.upper(), arguments.strip()))
        pending = ""
    return found


def runtime_of(path: Path = DOCKERFILE) -> tuple[list[str], dict[str, str], str, str]:
    """(entrypoint, env, user, workdir) as the Dockerfile declares them."""
    entrypoint: list[str] | None = None
    env: dict[str, str] = {}
    user = workdir = ""
    for number, command, arguments in instructions(path.read_text()):
        where = f"{path}:{number}"
        if command == "ENV":
            try:
                pairs = shlex.split(arguments)
            except ValueError as exc:
                raise DockerfileError(f"{where}: ENV {arguments!r}: {exc}") from None
            for pair in pairs:
                key, equals, value = pair.partition("=")
                if not equals:
                    raise DockerfileError(f"{where}: ENV needs key=value pairs, got {pair!r}")
                env[key] = value
        elif command == "WORKDIR":
            workdir = arguments
        elif command == "USER":
            user = arguments
        elif command == "ENTRYPOINT":
            try:
                entrypoint = json.loads(arguments)
            except ValueError:
                entrypoint = None
            if not isinstance(entrypoint, list) or not all(isinstance(part, str) for part in entrypoint):
                raise DockerfileError(f"{where}: ENTRYPOINT must be the exec form, a JSON list of strings")
    if entrypoint is None or not user or not workdir:
        raise DockerfileError(f"{path}: needs ENTRYPOINT, USER and WORKDIR (found {entrypoint}, {user!r}, {workdir!r})")
    return entrypoint, env, user, workdir
