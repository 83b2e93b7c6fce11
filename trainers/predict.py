"""`python -m trainers predict --model DIR TEXT...`: labels and scores from an export.

DIR is an export root (the newest numeric version is used), or one version directory, local or
gs://.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from trainers import storage


def resolve_version(model: str, cache: Path) -> Path:
    if storage.is_gcs(model):
        names = storage.list_names(model)
        if "saved_model.pb" in names:
            return storage.download_tree(model, cache / "model")
        versions = sorted({int(n.split("/")[0]) for n in names if n.split("/")[0].isdigit()})
        if not versions:
            raise SystemExit(f"predict: no SavedModel version under {model}")
        return storage.download_tree(storage.join(model, str(versions[-1])), cache / "model")
    path = Path(model)
    if (path / "saved_model.pb").exists():
        return path
    versions = sorted((p for p in path.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    if not versions:
        raise SystemExit(f"predict: no SavedModel under {path} (expected {path}/<version>/saved_model.pb)")
    return versions[-1]


def predict(version_dir: Path, texts: list[str]) -> list[dict]:
    import tensorflow as tf

    serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    out = serve(text=tf.constant(texts))
    results = []
    for i, text in enumerate(texts):
        classes = [c.decode() for c in out["classes"][i].numpy()]
        scores = out["scores"][i].numpy().tolist()
        ranked = sorted(zip(classes, scores, strict=True), key=lambda cs: -cs[1])
        labels = out["labels"][i].numpy().decode()
        results.append({"text": text, "labels": labels.split(",") if labels else [], "scores": dict(ranked)})
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainers predict", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="export root or version directory (local or gs://)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("texts", nargs="+", help="texts to classify")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        version_dir = resolve_version(args.model, Path(cache))
        results = predict(version_dir, args.texts)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for result in results:
        top = ", ".join(f"{label} {score:.3f}" for label, score in list(result["scores"].items())[:3])
        print(f"{','.join(result['labels']) or '(none)'}\t{result['text']}\n    scores: {top}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
