"""`make new EXP=name FROM=capsule-b`: scaffold overlays/<name> from an existing experiment.

The copy gets its own name prefix, experiment label and a fresh run suffix (-r1), so its TFJob
cannot collide with the original's. It is validated before the command returns.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from scripts import validate
from scripts.manifests import ROOT

NAME = re.compile(r"^[a-z]([-a-z0-9]{0,28}[a-z0-9])?$")


def scaffold(name: str, source: str, root: Path = ROOT) -> Path:
    if not NAME.match(name):
        raise ValueError(f"{name!r}: use lower-case letters, digits and '-', start with a letter, at most 30 chars")
    src, dst = root / "overlays" / source, root / "overlays" / name
    if not (src / "kustomization.yaml").is_file():
        raise ValueError(f"overlays/{source} does not exist")
    if dst.exists():
        raise ValueError(f"overlays/{name} already exists")
    shutil.copytree(src, dst)
    text = (dst / "kustomization.yaml").read_text()
    # Only the experiment's identity changes; its ConfigMap (modelType=capsule-b...) stays.
    text = re.sub(r"^# Experiment \S+\.", f"# Experiment {name}.", text, flags=re.M)
    text = re.sub(r"^namePrefix: .*$", f"namePrefix: {name}-", text, flags=re.M)
    text = re.sub(r"^nameSuffix: .*$", "nameSuffix: -r1", text, flags=re.M)
    text = re.sub(r"(textjobs\.dev/experiment: ).*$", rf"\g<1>{name}", text, flags=re.M)
    (dst / "kustomization.yaml").write_text(text)
    return dst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make new", description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--from", dest="source", default="capsule-b")
    args = parser.parse_args(argv)
    try:
        path = scaffold(args.name, args.source)
    except ValueError as exc:
        print(f"new: {exc}", file=sys.stderr)
        return 1
    problems, _, _ = validate.validate(ROOT, [str(path.relative_to(ROOT))], scan=False)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"new: created {path.relative_to(ROOT)}; edit its ConfigMap literals, then `make run EXP={args.name}`")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
