"""Exports as game players: the word vectors of an export version (its `vectors.txt`), with the
SavedModel's `serving_default` building vectors for unknown words when the model has subwords."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from trainers.shared import wordvectors
from trainers.shared.cleaning import tokens
from trainers.tasks.embeddings import evaldata, game
from trainers.tasks.embeddings.serving import VECTORS_FILE, read_info
from trainers.tasks.embeddings.space import WordSpace

NEIGHBOURS = 10


def load_space(version_dir: Path) -> WordSpace:
    version_dir = Path(version_dir)
    words, vectors = wordvectors.read_vectors(version_dir / VECTORS_FILE)
    oov = None
    if read_info(version_dir).get("subwords"):
        import tensorflow as tf

        serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]

        def oov(unknown: list[str]) -> np.ndarray:
            return serve(words=tf.constant(unknown))["vectors"].numpy()

    return WordSpace(words, vectors, oov)


def load_player(version_dir: Path, name: str = "") -> game.Player:
    info = read_info(version_dir)
    return game.Player(load_space(version_dir), name or f"{info.get('model_type', '?')}:{info.get('run_name', '?')}")


def neighbours_text(version_dir: Path, texts: list[str], as_json: bool) -> str:
    """`predict`: the nearest words of each word given."""
    space = load_space(version_dir)
    results = []
    for text in texts:
        found = tokens(text)
        vector = space.vector(found[0]) if len(found) == 1 else None
        neighbours = space.nearest(vector, NEIGHBOURS, exclude=found) if vector is not None else []
        results.append({"word": text, "neighbours": [{"word": w, "score": round(s, 4)} for w, s in neighbours]})
    if as_json:
        return json.dumps(results, indent=2)
    lines = []
    for r in results:
        shown = " ".join(f"{n['word']}({n['score']:.2f})" for n in r["neighbours"]) or "(not in the vocabulary)"
        lines.append(f"{r['word']}\t{shown}")
    return "\n".join(lines)


def evaluate_game_words(
    version_dir: Path, data_path: Path, hints: int = 5, guesses: int = 10, k: int = 3, top: int = 20
) -> dict:
    """`evaluate`: self-play and reference accuracy@top of one export on a game-words file."""
    player = load_player(version_dir)
    found = evaldata.read_game_words(data_path)
    result = {
        f"selfplay_{key}": value for key, value in game.play(player, [player], found.words, hints, guesses).items()
    }
    accuracy, scored = game.reference_accuracy(player, found.words, found.hints, k, top)
    return {**result, f"reference_accuracy_at_{top}": accuracy, "reference_words": scored}
