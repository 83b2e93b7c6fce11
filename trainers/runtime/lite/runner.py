"""Run a TFLite artifact with ai-edge-litert (tf.lite.Interpreter is deprecated).

Signatures are called by name with numpy inputs; an input whose shape differs from the last call
(another batch size) is resized by the signature runner. A model converted from one function has
the single signature `serving_default`; asking for the task's own name for it finds it too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

LITE_FILE = "model.tflite"


class LiteModel:
    def __init__(self, path: str | Path, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.interpreter = Interpreter(model_path=str(self.path), num_threads=threads)
        self.signatures = self.interpreter.get_signature_list()
        self._runners: dict[str, object] = {}

    def _runner(self, signature: str):
        if signature not in self._runners:
            name = signature if signature in self.signatures else None
            if name is None and len(self.signatures) == 1:
                name = next(iter(self.signatures))
            if name is None:
                raise KeyError(f"{self.path}: no signature {signature!r}; it has {sorted(self.signatures)}")
            self._runners[signature] = self.interpreter.get_signature_runner(name)
        return self._runners[signature]

    def __call__(self, signature: str, **inputs) -> dict[str, np.ndarray]:
        return self._runner(signature)(**{k: np.asarray(v) for k, v in inputs.items()})


def open_version(version_dir: Path, threads: int | None = None) -> LiteModel:
    return LiteModel(Path(version_dir) / LITE_FILE, threads)
