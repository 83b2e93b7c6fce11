"""`python -m trainers evaluate --model DIR --data FILE`: score an export on labelled data.

The data uses the task's training line format. The export's task scores it through the serving
signature, raw input in, exactly as a server would call it, with the metrics the trainer prints
each epoch, as `name=value` lines (or JSON). This is how a model chosen on a dev set is scored
once on a test set.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from trainers.runtime import storage
from trainers.runtime.errors import RunError, report
from trainers.runtime.predict import export_task
from trainers.runtime.versions import resolve_version


def main(argv: list[str], registry) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainers evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="export root or version directory (local or gs://)")
    parser.add_argument("--data", required=True, help="labelled file in the training line format (local or gs://)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of name=value lines")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as cache:
            version_dir = resolve_version(args.model, Path(cache))
            task, info = export_task(version_dir, registry)
            results = task.evaluate_export(version_dir, info, storage.fetch(args.data, Path(cache) / "data"))
    except RunError as exc:
        return report(exc)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, value in results.items():
            print(f"{name}={value:.6g}" if isinstance(value, float) else f"{name}={value}")
    return 0
