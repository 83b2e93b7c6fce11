"""Exports as game players, by location: the defaults `play` and `serve-game` share, and the
opening of export roots or versions (local or bucket, newest complete version each)."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

DEFAULT_EXPLAINER = "runs/hat-explainer/export"  # where `make run EXP=hat-explainer` exports
DEFAULT_GUESSER = "runs/hat-guesser/export"
SAMPLE_WORDS = Path(__file__).resolve().parent / "sample_data" / "hat.eval.txt"


@contextlib.contextmanager
def opened_players(models: list[str]):
    """Players for export roots or versions (local or bucket), newest complete version each."""
    from trainers.runtime.versions import resolve_version
    from trainers.tasks.embeddings.exported import load_player

    with tempfile.TemporaryDirectory() as cache:
        players = []
        for i, model in enumerate(models):
            version = resolve_version(model, Path(cache) / str(i))
            player = load_player(version)
            player.name = f"{player.name.split(':')[0]}:{model}"
            player.model_type = player.name.split(":")[0]
            players.append(player)
        yield players
