"""Small embeddings exports written without training (the real serving module, SavedModel writer
and word2vec text), for the game's command, service and page tests: three topics whose words are
near each other, so the answers are known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

TOPICS = {
    "oil": ["crude", "barrel", "opec", "refinery"],
    "bank": ["banker", "loan", "deposit", "lender"],
    "wheat": ["grain", "harvest", "farmer", "crop"],
}


def toy_vectors(seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    words, rows = [], []
    for axis, (word, related) in enumerate(TOPICS.items()):
        centre = np.zeros(8, np.float32)
        centre[axis] = 1.0
        for w in [word, *related]:
            words.append(w)
            rows.append(centre + rng.normal(scale=0.15, size=8).astype(np.float32))
    return words, np.stack(rows)


def write_export(root: Path, model_type: str, seed: int = 0) -> Path:
    """`root/<version>/` as the trainer exports it; returns the version directory."""
    from trainers.runtime.artifacts import EXPORT_INFO, SavedModelWriter
    from trainers.shared.wordvectors import write_vectors
    from trainers.tasks.embeddings.serving import INFO_FILE, VECTORS_FILE, EmbeddingsModule

    words, vectors = toy_vectors(seed)
    version = Path(root) / "1700000000"
    version.mkdir(parents=True)
    SavedModelWriter(EmbeddingsModule(words, vectors, None, None)).write(version)
    write_vectors(version / VECTORS_FILE, words, vectors)
    (version / INFO_FILE).write_text(
        json.dumps({"model_type": model_type, "dim": 8, "subwords": None, "run_name": model_type})
    )
    info = {"task": "embeddings", "model_type": model_type, "run_name": model_type, "step": 1, "epoch": 1}
    (version / EXPORT_INFO).write_text(json.dumps({**info, "artifact": "saved_model"}))
    return version
