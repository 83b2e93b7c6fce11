"""How `make validate` scales: generate N experiment overlays in a scratch copy of the
repository and time a full validation (render, kubeconform, policy, secret scan).

    python -m scripts.bench_validate --count 100
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from scripts import validate
from scripts.manifests import ROOT, VALIDATED_TREE
from scripts.new_experiment import scaffold

COPIED = VALIDATED_TREE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="overlays to generate")
    parser.add_argument("--repeats", type=int, default=3, help="timed validations (median reported)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for part in COPIED:
            source = ROOT / part
            (shutil.copytree if source.is_dir() else shutil.copy)(source, root / part)
        for i in range(args.count):
            scaffold(f"generated-{i:03d}", ["cnn", "kimcnn", "capsule-a", "capsule-b"][i % 4], root)
        timings = []
        for _ in range(args.repeats):
            started = time.monotonic()
            problems, count, objects = validate.validate(root)
            timings.append(time.monotonic() - started)
        if problems:
            print("\n".join(map(str, problems[:10])), file=sys.stderr)
            return 1
    median = statistics.median(timings)
    print(
        f"validated {count} kustomizations ({objects} objects): median {median:.2f}s of {args.repeats}, "
        f"{median / count * 1000:.0f} ms per kustomization"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
