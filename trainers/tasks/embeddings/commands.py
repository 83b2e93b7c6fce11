"""The embeddings task's commands: `python -m trainers play` (the score table) and
`python -m trainers serve-game` (the /guess and /explain service with its page)."""

from __future__ import annotations

import argparse

from trainers.runtime.errors import RunError, report
from trainers.tasks.embeddings.players import DEFAULT_EXPLAINER, DEFAULT_GUESSER, SAMPLE_WORDS, opened_players


def _table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    head = [title for _, title, _ in columns]
    body = [[format(row[key], fmt) if fmt else str(row[key]) for key, _, fmt in columns] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)])


def play(argv: list[str], registry) -> int:
    from trainers.tasks.embeddings import evaldata, game

    parser = argparse.ArgumentParser(
        prog="python -m trainers play",
        description="Play the word game between exports and print the score table (rules: trainers/tasks/embeddings/game.py).",
    )
    parser.add_argument("--explainer", default=DEFAULT_EXPLAINER, help="skip-gram export (self-play's explainer)")
    parser.add_argument("--guesser", default=DEFAULT_GUESSER, help="CBOW export (self-play's guesser)")
    parser.add_argument("--model", action="append", default=[], help="more exports for cross-play (repeatable)")
    parser.add_argument(
        "--words", default=str(SAMPLE_WORDS), help="game words: word[<TAB>hints] or hat-words JSON lines"
    )
    parser.add_argument("--hints", type=int, default=5, help="hints per word (H; guess points H-i+1)")
    parser.add_argument("--guesses", type=int, default=10, help="candidates named after each hint")
    parser.add_argument("--reference-hints", type=int, default=3, help="k: reference hints given for accuracy@N")
    parser.add_argument("--top", type=int, default=20, help="N of the reference accuracy@N")
    parser.add_argument("--limit", type=int, default=0, help="play only the first LIMIT words (0: all)")
    args = parser.parse_args(argv)
    if min(args.hints, args.guesses, args.reference_hints, args.top) < 1:
        parser.error("--hints, --guesses, --reference-hints and --top must be at least 1")
    try:
        found = evaldata.read_game_words(args.words)
        words, hints = found.words, found.hints
        if args.limit:
            words, hints = words[: args.limit], hints[: args.limit]
        with opened_players([args.explainer, args.guesser, *args.model]) as players:
            rows = []
            for explainer in players:
                for guesser in players:
                    kind = "self-play" if (explainer, guesser) == (players[0], players[1]) else "cross-play"
                    if explainer is guesser:
                        kind = "same model"
                    result = game.play(explainer, [guesser], words, args.hints, args.guesses)
                    rows.append({"kind": kind, "explainer": explainer.name, "guesser": guesser.name, **result})
            rows.sort(key=lambda row: row["kind"] != "self-play")  # the original pairing first
            print(f"game: {len(words)} words from {args.words}, {args.hints} hints, {args.guesses} guesses per hint")
            print(
                _table(
                    rows,
                    [
                        ("kind", "play", ""),
                        ("explainer", "explainer", ""),
                        ("guesser", "guesser", ""),
                        ("words", "words", ""),
                        ("found", "found", ".3f"),
                        ("guess_score", "guess score", ".3f"),
                        ("explain_score", "explain score", ".3f"),
                        ("total", "total", ".3f"),
                    ],
                )
            )
            reference = []
            for guesser in players:
                accuracy, scored = game.reference_accuracy(guesser, words, hints, args.reference_hints, args.top)
                reference.append({"guesser": guesser.name, "words": scored, "accuracy": accuracy})
            print(f"\nreference: accuracy@{args.top} from the first {args.reference_hints} reference hints")
            print(
                _table(
                    reference,
                    [("guesser", "guesser", ""), ("words", "words", ""), ("accuracy", f"accuracy@{args.top}", ".3f")],
                )
            )
    except RunError as exc:
        return report(exc)
    return 0


def serve(argv: list[str], registry) -> int:
    from trainers.tasks.embeddings.service.main import main

    return main(argv)
