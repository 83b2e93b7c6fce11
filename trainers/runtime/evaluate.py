"""`python -m trainers evaluate --model DIR --data FILE`: score an export on labelled data.

The data uses the task's training line format. The export's task scores it through the serving
signature, raw input in, exactly as a server would call it, with the metrics the trainer prints
each epoch, as `name=value` lines (or JSON). This is how a model chosen on a dev set is scored
once on a test set.
"""

from __future__ import annotations

import json

from trainers.runtime import storage
from trainers.runtime.errors import RunError, report
from trainers.runtime.predict import export_parser, opened_export


def main(argv: list[str], registry) -> int:
    parser = export_parser("evaluate", __doc__, "print JSON instead of name=value lines")
    parser.add_argument("--data", required=True, help="labelled file in the training line format (local or gs://)")
    args = parser.parse_args(argv)
    try:
        with opened_export(args.model, registry) as (version_dir, task, info, cache):
            results = task.evaluate_export(version_dir, info, storage.fetch(args.data, cache / "data"))
    except RunError as exc:
        return report(exc)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, value in results.items():
            print(f"{name}={value:.6g}" if isinstance(value, float) else f"{name}={value}")
    return 0
