"""Benchmark the embeddings task against gensim 4.4.0 on ../shared/data/embeddings (a script, not a
test: it prints tables and asserts nothing).

    make benchmark TASK=embeddings                          # every system, 5 epochs (tens of minutes)
    make benchmark TASK=embeddings ARGS="--systems ours-cbow,gensim-cbow --epochs 1"

The corpus is cleaned once with `clean_text` (the trainer's own cleaning), so every system trains
on the same tokens with the same settings (dimension, window, negatives, minCount, sub-sampling,
alpha, epochs; n-grams 3-6 in 200,000 buckets for the subword models). Each system trains in a
fresh process under `nice -n 10` with a wall-clock budget (--budget seconds; a run over it is
reported, not waited for); ours is `python -m trainers train`, gensim's is this script's
`gensim-train` command (gensim is a benchmark-only dependency: `pip install gensim==4.4.0`; the
trainer never imports it). Every model is then scored by the same code (space.py, game.py) from
its word2vec text vectors:

- Spearman rho on WordSim-353 and SimLex-999 (pairs with a word outside the vocabulary skipped,
  as gensim's evaluate_word_pairs does), analogy accuracy (3CosAdd over the questions whose words
  are all in the vocabulary);
- guess accuracy@20 from the first 3 WordNet reference hints of the 1,122 game words;
- the self-play total: each system's skip-gram explains and its CBOW guesses (5 hints, 10
  guesses a hint), with and without subwords;
- words/s: cleaned corpus tokens x epochs / training seconds (ours: steps x the median step
  time; gensim: its train() call), peak RSS of the training process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from trainers.shared.benchmarking import ROOT, SHARED_DATA, trainer_env

DATA = SHARED_DATA / "embeddings"
SYSTEMS = (
    "ours-cbow",
    "ours-skipgram",
    "ours-cbow-subwords",
    "ours-skipgram-subwords",
    "gensim-cbow",
    "gensim-skipgram",
    "fasttext-cbow",
    "fasttext-skipgram",
)
SETTINGS = {"dim": 100, "window": 5, "negatives": 5, "min_count": 5, "sample": 1e-3, "alpha": 0.025}
SUBWORDS = {"min_n": 3, "max_n": 6, "buckets": 200_000}


def clean_corpus(out: Path) -> int:
    from trainers.shared.cleaning import clean_text

    tokens = 0
    with (DATA / "reuters-corpus.txt").open(encoding="utf-8") as source, out.open("w", encoding="utf-8") as target:
        for line in source:
            cleaned = clean_text(line)
            if cleaned:
                target.write(cleaned + "\n")
                tokens += len(cleaned.split())
    return tokens


def _run(command: list[str], budget: float) -> tuple[int, float, float, str]:
    """(exit code, wall seconds, peak RSS MiB, output tail) of a nice'd child process, killed when
    it outlives `budget` (nice execs the command: the child's own peak memory is measured)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        ["nice", "-n", "10", *command],
        cwd=ROOT,
        env=trainer_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    timer = threading.Timer(budget, proc.kill)
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    reader.join(timeout=10)
    proc.returncode = os.waitstatus_to_exitcode(status)
    output = "".join(chunks)
    if proc.returncode == -9:
        output += f"\nover the budget of {budget:.0f} s"
    return proc.returncode, time.monotonic() - start, usage.ru_maxrss / 1024, output[-2000:]


def train_ours(system: str, corpus: Path, work: Path, epochs: int, batch: int, budget: float) -> dict:
    model_type = "cbow" if "cbow" in system else "skipgram"
    model_dir = work / system
    values = {
        "modelType": model_type,
        "trainData": str(corpus),
        "modelDir": str(model_dir),
        "embeddingDim": SETTINGS["dim"],
        "window": SETTINGS["window"],
        "negatives": SETTINGS["negatives"],
        "minCount": SETTINGS["min_count"],
        "subsample": SETTINGS["sample"],
        "alpha": SETTINGS["alpha"],
        "numEpochs": epochs,
        "batchSize": batch,
        "checkpointEvery": 10**8,
        "logEvery": 500,
    }
    if system.endswith("subwords"):
        values.update({"minN": SUBWORDS["min_n"], "maxN": SUBWORDS["max_n"], "buckets": SUBWORDS["buckets"]})
    command = [sys.executable, "-m", "trainers", "train", *[f"--{k}={v}" for k, v in values.items()]]
    code, wall, peak, tail = _run(command, budget)
    if code != 0:
        return {"system": system, "error": tail.strip().splitlines()[-1] if tail.strip() else f"exit {code}"}
    metrics = json.loads((model_dir / "metrics.json").read_text())
    (version,) = [p for p in (model_dir / "export").iterdir() if p.name.isdigit()]
    seconds = _train_seconds(metrics, wall)
    return {
        "system": system,
        "vectors": str(version / "vectors.txt"),
        "train_seconds": seconds,
        "peak_mib": peak,
        "wall": wall,
    }


def _train_seconds(metrics: dict, wall: float) -> float:
    """Steps x the median step time: training alone, without start-up, evaluation or export."""
    timing = metrics.get("timing", {})
    steps = metrics["history"][-1]["step"] if metrics.get("history") else 0
    median = timing.get("median_step_seconds")
    return steps * median if median else wall


def train_gensim(system: str, corpus: Path, work: Path, epochs: int, budget: float) -> dict:
    out = work / system
    out.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "trainers.tasks.embeddings.tools.benchmark",
        "gensim-train",
        system,
        str(corpus),
        str(out),
        str(epochs),
    ]
    code, wall, peak, tail = _run(command, budget)
    if code != 0:
        return {"system": system, "error": tail.strip().splitlines()[-1] if tail.strip() else f"exit {code}"}
    seconds = json.loads((out / "timing.json").read_text())["train_seconds"]
    return {
        "system": system,
        "vectors": str(out / "vectors.txt"),
        "train_seconds": seconds,
        "peak_mib": peak,
        "wall": wall,
    }


def gensim_train(system: str, corpus: str, out: str, epochs: str) -> int:
    """The child process of a gensim system: train, write vectors.txt and timing.json."""
    from gensim.models import FastText, Word2Vec
    from gensim.models.word2vec import LineSentence

    from trainers.shared.wordvectors import write_vectors

    sg = 0 if "cbow" in system else 1
    common = {
        "vector_size": SETTINGS["dim"],
        "window": SETTINGS["window"],
        "negative": SETTINGS["negatives"],
        "min_count": SETTINGS["min_count"],
        "sample": SETTINGS["sample"],
        "alpha": SETTINGS["alpha"],
        "sg": sg,
        "workers": 2,
        "seed": 42,
    }
    if system.startswith("fasttext"):
        model = FastText(min_n=SUBWORDS["min_n"], max_n=SUBWORDS["max_n"], bucket=SUBWORDS["buckets"], **common)
    else:
        model = Word2Vec(**common)
    sentences = LineSentence(corpus)
    model.build_vocab(sentences)
    start = time.monotonic()
    model.train(sentences, total_examples=model.corpus_count, epochs=int(epochs))
    seconds = time.monotonic() - start
    write_vectors(Path(out) / "vectors.txt", list(model.wv.index_to_key), model.wv.vectors)
    (Path(out) / "timing.json").write_text(json.dumps({"train_seconds": seconds}))
    return 0


def score(result: dict, games) -> dict:
    from trainers.shared import wordvectors
    from trainers.tasks.embeddings import evaldata, game
    from trainers.tasks.embeddings.space import WordSpace, analogy_accuracy, similarity_rho

    words, vectors = wordvectors.read_vectors(result["vectors"])
    space = WordSpace(words, vectors)
    found = {"space": space}
    for name, file in (("wordsim", "wordsim353.tsv"), ("simlex", "simlex999.txt")):
        found[name], found[f"{name}_pairs"] = similarity_rho(space, evaldata.read_similarity(DATA / file).pairs)
    found["analogy"], found["analogy_questions"] = analogy_accuracy(
        space, evaldata.read_analogies(DATA / "questions-words.txt")
    )
    found["guess20"], _ = game.reference_accuracy(game.Player(space), games.words, games.hints, 3, 20)
    found["vocabulary"] = len(words)
    return found


def self_play(explainer: dict, guesser: dict, games) -> float:
    from trainers.tasks.embeddings import game

    result = game.play(game.Player(explainer["space"]), [game.Player(guesser["space"])], games.words, 5, 10)
    return result["total"]


def main(argv: list[str] | None = None) -> int:
    global DATA
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["gensim-train"]:
        return gensim_train(*argv[1:])
    parser = argparse.ArgumentParser(prog="make benchmark TASK=embeddings", description=__doc__.splitlines()[0])
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated, of {', '.join(SYSTEMS)}")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1024, help="our global batch (examples per step)")
    parser.add_argument("--budget", type=float, default=900, help="wall seconds per training run")
    parser.add_argument("--work", type=Path, default=None, help="keep runs here (default: a temporary directory)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--data", type=Path, default=DATA, help=f"the embeddings data directory (default {DATA})")
    args = parser.parse_args(argv)
    DATA = args.data
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        parser.error(f"unknown systems {unknown}; known: {', '.join(SYSTEMS)}")
    if not (DATA / "reuters-corpus.txt").is_file():
        print(f"no benchmark data at {DATA}", file=sys.stderr)
        return 2
    if any(not s.startswith("ours") for s in systems):
        try:
            import gensim  # noqa: F401
        except ImportError:
            print("gensim is a benchmark-only dependency: .venv/bin/pip install gensim==4.4.0", file=sys.stderr)
            return 2
    from trainers.tasks.embeddings import evaldata

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        corpus = work / "reuters.clean.txt"
        tokens = clean_corpus(corpus)
        games = evaldata.read_game_words(DATA / "hat-words.dev.jsonl")
        print(
            f"corpus: {tokens:,} tokens after cleaning; {args.epochs} epochs; settings {SETTINGS}; subwords {SUBWORDS}"
        )
        results = {}
        for system in systems:
            print(f"training {system} ...", flush=True)
            if system.startswith("ours"):
                result = train_ours(system, corpus, work, args.epochs, args.batch, args.budget)
            else:
                result = train_gensim(system, corpus, work, args.epochs, args.budget)
            if "error" not in result:
                result.update(score(result, games))
                result["words_per_second"] = tokens * args.epochs / result["train_seconds"]
            results[system] = result
            print(f"  {system}: {_line(result)}", flush=True)
        pairs = {
            "ours": ("ours-skipgram", "ours-cbow"),
            "ours+subwords": ("ours-skipgram-subwords", "ours-cbow-subwords"),
            "gensim Word2Vec": ("gensim-skipgram", "gensim-cbow"),
            "gensim FastText": ("fasttext-skipgram", "fasttext-cbow"),
        }
        for explainer, guesser in pairs.values():
            if all(k in results and "error" not in results[k] for k in (explainer, guesser)):
                total = self_play(results[explainer], results[guesser], games)
                results[explainer]["self_play"] = results[guesser]["self_play"] = total
        print()
        print(_table(results, args.epochs))
        if args.json:
            clean = {k: {f: v for f, v in r.items() if f != "space"} for k, r in results.items()}
            args.json.write_text(json.dumps(clean, indent=2))
    return 0


def _line(result: dict) -> str:
    if "error" in result:
        return f"failed: {result['error']}"
    return (
        f"wordsim {result['wordsim']:.3f} simlex {result['simlex']:.3f} analogy {result['analogy']:.3f} "
        f"guess@20 {result['guess20']:.3f} {result['words_per_second']:,.0f} words/s peak {result['peak_mib']:.0f} MiB"
    )


def _table(results: dict, epochs: int) -> str:
    head = "| system | WordSim ρ | SimLex ρ | analogy | guess@20 (3 hints) | self-play total | words/s | train s | peak MiB | vocabulary |"
    lines = [head, "|" + "---|" * 10]
    for system, r in results.items():
        if "error" in r:
            lines.append(f"| {system} | failed: {r['error']} |" + " |" * 8)
            continue
        play = f"{r['self_play']:.3f}" if "self_play" in r else "-"
        lines.append(
            f"| {system} | {r['wordsim']:.3f} | {r['simlex']:.3f} | {r['analogy']:.3f} | {r['guess20']:.3f} | {play} | "
            f"{r['words_per_second']:,.0f} | {r['train_seconds']:.0f} | {r['peak_mib']:.0f} | {r['vocabulary']:,} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
