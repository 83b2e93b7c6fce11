"""Local experiment tracking: `python -m scripts.tracking up|down|status|runs|compare`.

make tracking-up                      start MLflow on 127.0.0.1 (UI address printed), data in .tracking/
make run EXP=capsule-b                logs to it while it is up
make runs SORT=val_accuracy           every tracked run: parameters and final metrics
make compare EXP=capsule-b            the runs of one experiment side by side
make tracking-down                    stop it (the data stays in .tracking/)
"""

from __future__ import annotations

import argparse
import os
import sys

from scripts.tracking import runs as runs_lib
from scripts.tracking import server


def _say(text: str) -> None:
    print(text, flush=True)


def _uri(given: str | None) -> str:
    uri = given or server.running_url() or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise SystemExit("tracking: no tracking server is up; start one with `make tracking-up` (or pass --uri)")
    return uri


def up(args) -> int:
    running = server.running_url()
    found = server.start(server.STATE, args.port, _say)
    verb = "already running" if running else "started"
    _say(f"tracking: MLflow {verb} at {found.url} (UI and API; data in {server.STATE})")
    _say("tracking: `make run EXP=...` logs to it while it is up; `make runs` lists the runs")
    return 0


def down(_args) -> int:
    _say(f"tracking: {server.stop(server.STATE)} (data kept in {server.STATE})")
    return 0


def status(_args) -> int:
    recorded = server.recorded(server.STATE)
    url = server.running_url()
    if url:
        _say(f"tracking: up at {url} (PID {recorded.pid}, data in {server.STATE})")
        return 0
    _say("tracking: down (start it with `make tracking-up`)")
    return 1


def show(args, experiments: list[str] | None) -> int:
    uri = _uri(args.uri)
    try:
        rows = runs_lib.fetch(uri, experiments)
    except LookupError as exc:
        print(f"tracking: {exc}", file=sys.stderr)
        return 1
    ascending = {"ascending": True, "descending": False}.get(args.order)
    rows = runs_lib.sort_rows(rows, args.sort or None, ascending)
    params = [p for p in args.params.split(",") if p] if args.params else None
    _say(runs_lib.table(rows, params))
    _say(f"({len(rows)} run(s) on {uri})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.tracking", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start the local MLflow server (installs its environment once)")
    start.add_argument(
        "--port",
        type=int,
        help=f"port on 127.0.0.1 (default: the last one, else {server.DEFAULT_PORT}, else a free one)",
    )
    commands.add_parser("down", help="stop the local MLflow server")
    commands.add_parser("status", help="is the local MLflow server up")
    for name, helptext in (("runs", "table of every tracked run"), ("compare", "the runs of one experiment")):
        sub = commands.add_parser(name, help=helptext)
        if name == "compare":
            sub.add_argument("experiment", help="experiment (overlay) name, e.g. capsule-b")
        else:
            sub.add_argument("--experiment", action="append", help="only this experiment (repeatable)")
        sub.add_argument("--sort", default="", help="metric to sort by, e.g. val_accuracy (losses ascending)")
        sub.add_argument("--order", choices=["ascending", "descending"], help="override the sort direction")
        sub.add_argument("--params", help="comma-separated parameters to show (default: those that differ)")
        sub.add_argument("--uri", help="tracking server (default: the local one from make tracking-up)")
    args = parser.parse_args(argv)
    if args.command == "runs":
        return show(args, args.experiment)
    if args.command == "compare":
        return show(args, [args.experiment])
    return {"up": up, "down": down, "status": status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
