"""`python -m trainers chat --model DIR`: talk to an exported chatbot, one reply per line typed.

DIR is an export root (the newest complete version) or a version directory, local, gs:// or
s3://. Replies come from the export's `serving_default` (beam search), `--greedy`, or `--sample`
(seeded: --seed, --temperature; the seed advances each turn so replies vary but a session is
reproducible). End with Ctrl-D (end of input) or Ctrl-C; either exits 0.
"""

from __future__ import annotations

import argparse
import sys

from trainers.runtime.errors import RunError, report
from trainers.runtime.predict import opened_export

PROMPT = "> "


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainers chat", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="export root or version directory (local, gs:// or s3://)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--greedy", action="store_true", help="greedy decoding instead of beam search")
    how.add_argument("--sample", action="store_true", help="seeded sampling (topK/topP of the run)")
    p.add_argument("--seed", type=int, default=0, help="first sampling seed (--sample)")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature > 0 (--sample)")
    return p


def main(argv: list[str], registry) -> int:
    args = parser().parse_args(argv)
    if args.sample and not args.temperature > 0:
        print("chat: --temperature must be > 0", file=sys.stderr)
        return 2
    try:
        with opened_export(args.model, registry) as (version_dir, task, _info, _cache):
            if task.name != "chat":
                raise RunError(f"{args.model}: an export of task {task.name!r}, not a chatbot")
            return converse(version_dir, args, sys.stdin, sys.stdout)
    except RunError as exc:
        return report(exc)
    except KeyboardInterrupt:  # Ctrl-C while the export loads: leave quietly too
        return 0


def converse(version_dir, args, lines, out) -> int:
    import tensorflow as tf

    from trainers.tasks.chat.serving import OUTPUT, sampled

    loaded = tf.saved_model.load(str(version_dir))
    signature = "greedy" if args.greedy else "serving_default"
    interactive = lines.isatty()
    seed = args.seed
    try:
        while True:
            if interactive:
                out.write(PROMPT)
                out.flush()
            line = lines.readline()
            if not line:  # end of input
                break
            text = line.strip()
            if not text:
                continue
            if args.sample:
                answer = sampled(loaded, [text], seed, args.temperature)[0][OUTPUT]
                seed += 1
            else:
                answer = loaded.signatures[signature](text=tf.constant([text]))[OUTPUT].numpy()[0].decode()
            out.write(f"{answer}\n")
            out.flush()
    except KeyboardInterrupt:
        pass
    if interactive:
        out.write("\n")
    return 0
