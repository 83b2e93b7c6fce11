"""`make serve EXP=capsule-b` (or `MODEL=<export dir>`): serve an export over HTTP on 127.0.0.1.

EXP serves the export `make run EXP=<exp>` wrote (runs/<exp>/export), under the experiment's name,
the name its InferenceService has in the cluster. MODEL serves any export root or version
directory, local or gs://. The server prints its address; Ctrl-C or SIGTERM stops it after the
requests in flight. Everything after the experiment is passed to `python -m trainers.serving`
(--port, --poll-seconds, --threads, ...: see its --help).
"""

from __future__ import annotations

import argparse
import sys

from scripts.manifests import ROOT

RUNS = ROOT / "runs"


def arguments(experiment: str, model: str, rest: list[str]) -> list[str]:
    """The server's command line; raises FileNotFoundError when EXP has no local export."""
    if model:
        return ["--model", model, *rest]
    export = RUNS / experiment / "export"
    if not export.is_dir():
        shown = export.relative_to(ROOT) if export.is_relative_to(ROOT) else export
        raise FileNotFoundError(
            f"no export of {experiment} under {shown}: train it first with "
            f"`make run EXP={experiment}`, or serve another export with MODEL=<export dir>"
        )
    named = any(a == "--name" or a.startswith("--name=") for a in rest)
    return ["--model", str(export), *([] if named else ["--name", experiment]), *rest]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make serve", description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1]
    )
    parser.add_argument("experiment", help="experiment whose local export to serve (runs/<EXP>/export)")
    parser.add_argument("--model", default="", help="an export root or version directory instead (local or gs://)")
    args, rest = parser.parse_known_args(argv)
    try:
        command = arguments(args.experiment, args.model, rest)
    except FileNotFoundError as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 3
    from trainers.serving.__main__ import main as serve

    return serve(command)


if __name__ == "__main__":
    sys.exit(main())
