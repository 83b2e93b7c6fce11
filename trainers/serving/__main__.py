"""`python -m trainers.serving --model EXPORT`: serve the newest complete version of an export
over HTTP, TF Serving's REST API and the Open Inference Protocol V2, on KServe's model server.

EXPORT is an export root holding numbered versions (local or gs://), or one version directory.
A newer complete version is picked up while serving (every --poll-seconds); requests in flight
finish on the version they started on. SIGTERM (or Ctrl-C) stops accepting connections, lets
requests in flight finish, and exits 0.

exit codes: 0 stopped; 1 could not listen (address in use); 2 bad arguments;
3 no servable export (missing, no complete version, not a SavedModel)
"""

from __future__ import annotations

import argparse
import os
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from trainers.runtime.errors import RunError, report  # noqa: E402
from trainers.serving.routes import DEFAULT_MAX_BODY_BYTES  # noqa: E402

NAME = re.compile(r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$")


def default_name(model: str) -> str:
    """`runs/capsule-b/export` -> `capsule-b`; a version directory or any other root -> its folder."""
    parts = [p for p in model.rstrip("/").split("/") if p]
    while len(parts) > 1 and (parts[-1].isdigit() or parts[-1] == "export"):
        parts.pop()
    name = re.sub(r"[^a-z0-9_.-]+", "-", (parts[-1] if parts else "model").lower()).strip("-._")
    return name or "model"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m trainers.serving",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, help="export root or version directory (local path or gs://)")
    parser.add_argument("--name", help="model name in the URLs (default: from the path, runs/X/export -> X)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one, printed)")
    parser.add_argument(
        "--poll-seconds", type=float, default=5.0, help="look for a newer version this often; 0: never (default 5)"
    )
    parser.add_argument(
        "--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES, help="refuse larger bodies with 413 (8 MiB)"
    )
    parser.add_argument("--threads", type=int, default=4, help="threads running the model (default 4)")
    parser.add_argument(
        "--grace-seconds", type=int, default=30, help="on SIGTERM, wait this long for requests in flight"
    )
    parser.add_argument("--access-log", action="store_true", help="log every request on stderr")
    args = parser.parse_args(argv)
    args.name = args.name or default_name(args.model)
    if not NAME.match(args.name):
        parser.error(f"--name {args.name!r}: use lower-case letters, digits, '-', '_' or '.'")
    for flag in ("port", "threads", "max_body_bytes", "grace_seconds"):
        if getattr(args, flag) < (0 if flag in ("port", "grace_seconds") else 1):
            parser.error(f"--{flag.replace('_', '-')} {getattr(args, flag)} is out of range")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    from trainers.serving.server import Options, serve

    options = Options(
        model=args.model,
        name=args.name,
        host=args.host,
        port=args.port,
        poll_seconds=args.poll_seconds,
        max_body_bytes=args.max_body_bytes,
        threads=args.threads,
        grace_seconds=args.grace_seconds,
        access_log=args.access_log,
    )
    try:
        return serve(options)
    except RunError as exc:
        return report(exc)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
