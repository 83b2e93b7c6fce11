"""`python -m trainers serve-game` (and `make serve-game`): load the explainer (skip-gram) and the
guesser (CBOW) exports, local or in a bucket, and serve the game on 127.0.0.1 (a free port unless
--port says which), printing the address. SIGTERM or Ctrl-C stops it gracefully: no new
connections, requests in flight finish (up to --grace seconds), then exit 0.
"""

from __future__ import annotations

import argparse
import socket
import sys

from trainers.runtime.errors import RunError, report

GRACE_SECONDS = 10


def parser() -> argparse.ArgumentParser:
    from trainers.tasks.embeddings.players import DEFAULT_EXPLAINER, DEFAULT_GUESSER, SAMPLE_WORDS

    p = argparse.ArgumentParser(prog="python -m trainers serve-game", description=__doc__.splitlines()[0])
    p.add_argument("--explainer", default=DEFAULT_EXPLAINER, help="skip-gram export root or version (local or bucket)")
    p.add_argument("--guesser", default=DEFAULT_GUESSER, help="CBOW export root or version (local or bucket)")
    p.add_argument("--words", default=str(SAMPLE_WORDS), help="game words the page's rounds draw from")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 in a pod)")
    p.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    p.add_argument("--seed", type=int, default=None, help="seed of the rounds' word draws (tests)")
    p.add_argument("--grace", type=float, default=GRACE_SECONDS, help="seconds requests in flight get at shutdown")
    return p


def graceful_server_class():
    import contextlib
    import signal

    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn re-raises SIGTERM after its graceful shutdown, so the process would end killed
        by the signal (-15); a stop that went as planned exits 0 here."""

        @contextlib.contextmanager
        def capture_signals(self):
            def stop(*_):
                self.should_exit = True

            previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return GracefulServer


def main(argv: list[str]) -> int:
    import uvicorn

    from trainers.tasks.embeddings import evaldata
    from trainers.tasks.embeddings.players import opened_players
    from trainers.tasks.embeddings.service.app import create_app

    args = parser().parse_args(argv)
    GracefulServer = graceful_server_class()  # noqa: N806
    try:
        words = evaldata.read_game_words(args.words).words
        with opened_players([args.explainer, args.guesser]) as (explainer, guesser):
            app = create_app(explainer, guesser, words, args.seed)
            listener = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((args.host, args.port))
            listener.listen(2048)  # connections queue from now on, so the printed address answers
            host, port = listener.getsockname()[:2]
            config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=args.grace, access_log=False)
            server = GracefulServer(config)
            print(f"serving the word game at http://{host}:{port}/ (API docs: http://{host}:{port}/docs)", flush=True)
            print(f"explainer {explainer.name}, guesser {guesser.name}, {len(words)} game words", flush=True)
            server.run(sockets=[listener])
            print("stopped", flush=True)
    except RunError as exc:
        return report(exc)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    return 0
