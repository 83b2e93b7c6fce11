"""`make benchmark-serving`: what the model server costs over calling the model in-process.

For a classifier and a summarizer export (default: what `make run EXP=capsule-b` and `make run
EXP=summarizer` wrote under runs/), in one sitting and in rounds that take turns, so a slow spell
of a shared machine hits every point alike:

- in-process: the SavedModel's serving_default called in this process with one text, from 1 and
  from 8 threads (the floor: no HTTP, no JSON);
- over HTTP: `python -m trainers.serving` on 127.0.0.1, one text per request, on TF Serving's REST
  API (V1) and the Open Inference Protocol (V2), at 1, 8 and 32 concurrent clients, driven by
  vegeta (Go, pinned, built into bin/ on first use: a Python client would eat the cores it measures).

Printed: latency p50/p90/p99 and requests/s per point (medians over rounds), the server's p50
overhead at concurrency 1, and requests/s at 8 over 1 (2 cores: 2.0 would be perfect scaling).
Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from scripts.manifests import ROOT

VEGETA = ("github.com/tsenart/vegeta/v12", "v12.13.0")
TEXTS = {
    "classifier": "the striker scored a late goal to win the cup final",
    "summarizer": "the board will meet again next month . acme said its profits rose 12 pct in the third quarter .",
}
DEFAULTS = {"classifier": ROOT / "runs/capsule-b/export", "summarizer": ROOT / "runs/summarizer/export"}
CONCURRENCY = (1, 8, 32)


def vegeta() -> Path:
    binary = ROOT / "bin" / "vegeta"
    if not binary.exists():
        module, version = VEGETA
        print(f"benchmark-serving: go install {module}@{version} -> bin/vegeta (once)", flush=True)
        env = dict(os.environ, GOBIN=str(binary.parent), CGO_ENABLED="0")
        subprocess.run(["go", "install", f"{module}@{version}"], check=True, env=env)
    return binary


def summary(latencies_s: list[float], seconds: float) -> dict:
    ordered = sorted(latencies_s)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "rps": len(ordered) / seconds, "errors": 0}


_LOADED: dict[Path, object] = {}


def in_process(version_dir: Path, text: str, threads: int, seconds: float) -> dict:
    import tensorflow as tf

    if version_dir not in _LOADED:
        _LOADED[version_dir] = tf.saved_model.load(str(version_dir))
    serve = _LOADED[version_dir].signatures["serving_default"]
    batch = tf.constant([text])
    for _ in range(5):
        serve(text=batch)
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def loop() -> None:
        mine = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            {k: v.numpy() for k, v in serve(text=tf.constant([text])).items()}
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return summary(latencies, time.perf_counter() - started)


def over_http(tool: Path, url: str, body: dict, workers: int, seconds: float, scratch: Path) -> dict:
    (scratch / "body.json").write_text(json.dumps(body))
    (scratch / "targets.txt").write_text(f"POST {url}\nContent-Type: application/json\n@{scratch / 'body.json'}\n")
    attack = subprocess.run(
        [str(tool), "attack", "-rate=0", f"-max-workers={workers}", f"-workers={workers}", f"-duration={seconds}s"]
        + [f"-targets={scratch / 'targets.txt'}", "-keepalive=true", "-timeout=120s"],
        capture_output=True,
        check=True,
    )
    report = subprocess.run([str(tool), "report", "-type=json"], input=attack.stdout, capture_output=True, check=True)
    result = json.loads(report.stdout)
    latencies = result["latencies"]
    codes = result.get("status_codes") or {}
    return {
        "p50": latencies["50th"] / 1e6,
        "p90": latencies["90th"] / 1e6,
        "p99": latencies["99th"] / 1e6,
        "rps": result["throughput"],
        "errors": sum(n for code, n in codes.items() if code != "200"),
    }


def start_server(export: Path, name: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "trainers.serving", "--model", str(export), "--name", name, "--poll-seconds", "0"],
        cwd=ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    for line in process.stdout:
        if "listening on " in line:
            return process, line.split("listening on ", 1)[1].split()[0]
    raise SystemExit(f"benchmark-serving: the server for {export} exited ({process.wait()})")


def newest_version(export: Path) -> Path:
    from trainers.runtime.versions import resolve_version

    return resolve_version(str(export), Path(tempfile.mkdtemp()))


def bodies(text: str) -> dict[str, tuple[str, dict]]:
    return {
        "V1": ("/v1/models/{name}:predict", {"instances": [text]}),
        "V2": (
            "/v2/models/{name}/infer",
            {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [text]}]},
        ),
    }


def measure(models: dict[str, Path], rounds: int, seconds: float, concurrency: tuple[int, ...]) -> dict:
    tool = vegeta()
    points: dict[tuple, list[dict]] = {}
    versions = {kind: newest_version(export) for kind, export in models.items()}
    servers = {kind: start_server(export, kind) for kind, export in models.items()}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for round_ in range(1, rounds + 1):
                for kind in models:
                    version = versions[kind]
                    for threads in (1, 8):
                        points.setdefault((kind, "in-process", threads), []).append(
                            in_process(version, TEXTS[kind], threads, seconds)
                        )
                    url = servers[kind][1]
                    for protocol, (path, body) in bodies(TEXTS[kind]).items():
                        for workers in concurrency:
                            result = over_http(
                                tool, url + path.format(name=kind), body, workers, seconds, Path(scratch)
                            )
                            points.setdefault((kind, protocol, workers), []).append(result)
                print(f"benchmark-serving: round {round_}/{rounds} done", flush=True)
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(60)
    return {key: {stat: statistics.median(r[stat] for r in runs) for stat in runs[0]} for key, runs in points.items()}


def table(results: dict) -> str:
    rows = [
        "| model | path | concurrency | p50 ms | p90 ms | p99 ms | requests/s | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (kind, path, workers), r in results.items():
        rows.append(
            f"| {kind} | {path} | {workers} | {r['p50']:.2f} | {r['p90']:.2f} | {r['p99']:.2f} | {r['rps']:.0f} | {r['errors']:.0f} |"
        )
    lines = ["\n".join(rows), ""]
    for kind in sorted({k[0] for k in results}):
        floor = results[(kind, "in-process", 1)]
        for protocol in ("V1", "V2"):
            one, eight = results.get((kind, protocol, 1)), results.get((kind, protocol, 8))
            if one and eight:
                lines.append(
                    f"{kind} {protocol}: server adds {one['p50'] - floor['p50']:+.2f} ms p50 at concurrency 1; "
                    f"requests/s at 8 over 1: {eight['rps'] / one['rps']:.2f}x "
                    f"(in-process 8 threads over 1: {results[(kind, 'in-process', 8)]['rps'] / floor['rps']:.2f}x)"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make benchmark-serving", description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", type=Path, default=DEFAULTS["classifier"], help="classifier export root")
    parser.add_argument("--summarizer", type=Path, default=DEFAULTS["summarizer"], help="summarizer export root")
    parser.add_argument("--rounds", type=int, default=3, help="rounds taking turns; medians are printed (3)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per point per round (5)")
    args = parser.parse_args(argv)
    models = {"classifier": args.classifier, "summarizer": args.summarizer}
    missing = [f"{k} ({p})" for k, p in models.items() if not p.is_dir()]
    if missing:
        print(
            f"benchmark-serving: no export for {', '.join(missing)}: `make run EXP=capsule-b` and `make run EXP=summarizer` first",
            file=sys.stderr,
        )
        return 1
    if shutil.which("go") is None and not (ROOT / "bin" / "vegeta").exists():
        print("benchmark-serving: needs Go to build vegeta (the load generator)", file=sys.stderr)
        return 1
    print(
        f"benchmark-serving: {os.cpu_count()} CPUs; {args.rounds} rounds of {args.seconds:.0f} s per point", flush=True
    )
    print(table(measure(models, args.rounds, args.seconds, CONCURRENCY)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
