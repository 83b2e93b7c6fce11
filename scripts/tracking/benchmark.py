"""`make benchmark-tracking`: what MLflow tracking costs a training run, with the server up, slow and down.

A tiny classify run (cnn, small shapes, the bundled sample) is trained again and again, in one
sitting, under each variant:

  off    no trackingUri: the baseline
  up     a real MLflow server on 127.0.0.1 (its own, in a temporary directory, or --server-url)
  slow   the same server behind a real TCP proxy that holds every chunk --delay-ms each way
  down   a port where nothing listens (connection refused: a dead server)
  hung   (optional) a port that accepts and never answers: each request waits out its timeout

Variants take turns within each round, and the order rotates from round to round, so a slow spell
of the shared machine hits every variant alike. Each run is timed from outside, by when its lines
arrive: the whole run (process start to exit), each epoch (between consecutive Katib `epoch=N`
lines, from epoch 2: epoch 1 includes tracing) and the end (last epoch line to the export line,
which includes the wait for the tracking backlog). Overheads are medians of each round's variant
minus that round's `off`, as a share of `off`. A run that exits non-zero is failed; one still
going after --run-limit seconds is stalled (and killed). For up and slow, the server is read back:
a run counts as complete when it is FINISHED with every epoch's loss. Numbers are printed, never
asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scripts.manifests import ROOT
from scripts.tracking import server
from scripts.tracking.slow_proxy import SlowProxy

VARIANTS = ("off", "up", "slow", "down", "hung")
DEFAULT_VARIANTS = "off,up,slow,down"
EXPERIMENT = "tracking-benchmark"
# A classify run small enough to repeat many times on two cores (the tests' tiny shapes).
TINY_CLASSIFY = {
    "modelType": "cnn",
    "embeddingDim": "32",
    "numFilters": "32",
    "maxLength": "24",
    "batchSize": "32",
    "learningRate": "0.005",
    "logEvery": "1000",
    "xla": "false",
}
EPOCH_LINE = re.compile(r"^epoch=(\d+) ")
EXPORT_LINE = re.compile(r"exported SavedModel to ")  # after "[local] "


@dataclass
class Result:
    variant: str
    round: int
    run_name: str
    returncode: int | None  # None: stalled (killed at the limit)
    wall_s: float
    cpu_s: float  # the trainer's user + system seconds
    epoch_s: list[float] = field(default_factory=list)  # epochs 2..N
    end_s: float | None = None  # last epoch line -> export line
    warnings: int = 0
    complete_on_server: bool | None = None  # up/slow only

    @property
    def failed(self) -> bool:
        return self.returncode not in (0, None)

    @property
    def stalled(self) -> bool:
        return self.returncode is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def hung_server():
    """Accepts connections, never answers (held open until the end)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for connection in held:
            connection.close()
        listener.close()


def trainer_env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "STORAGE_EMULATOR_HOST", "MLFLOW_TRACKING_URI")
    }
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": ""}


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def train(values: dict[str, str], limit_s: float) -> tuple[int | None, float, float, list[tuple[float, str]]]:
    """One trainer process: (exit code or None if killed at the limit, wall seconds, CPU seconds,
    timed lines). CPU is what the machine's load disturbs least: the children's usage before and
    after (the MLflow server is a child too, but is reaped only at the end, so it is not counted)."""
    cpu_before = _children_cpu()
    command = [sys.executable, "-m", "trainers", "train", *(f"--{k}={v}" for k, v in values.items())]
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=ROOT, env=trainer_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    lines: list[tuple[float, str]] = []

    def read() -> None:
        for line in process.stdout:
            lines.append((time.monotonic() - started, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        code: int | None = process.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        code = None
    wall = time.monotonic() - started
    reader.join(10)
    return code, wall, _children_cpu() - cpu_before, lines


def measure(variant: str, round_: int, uri: str, epochs: int, work: Path, limit_s: float) -> Result:
    run_name = f"{variant}-{round_}"
    values = {
        **TINY_CLASSIFY,
        "numEpochs": str(epochs),
        "modelDir": str(work / run_name),
        "runName": run_name,
    }
    if uri:
        values |= {"trackingUri": uri, "trackingExperiment": EXPERIMENT}
    code, wall, cpu, lines = train(values, limit_s)
    epoch_at = [(int(m[1]), t) for t, text in lines if (m := EPOCH_LINE.match(text))]
    epoch_s = [later - earlier for (_, earlier), (_, later) in zip(epoch_at, epoch_at[1:], strict=False)]
    export_at = next((t for t, text in lines if EXPORT_LINE.search(text)), None)
    end_s = export_at - epoch_at[-1][1] if export_at is not None and epoch_at else None
    warnings = sum(1 for _, text in lines if "warning: tracking" in text)
    result = Result(variant, round_, run_name, code, wall, cpu, epoch_s, end_s, warnings)
    if code != 0:
        tail = "\n".join(text for _, text in lines[-15:])
        print(f"benchmark-tracking: {run_name} {'stalled' if code is None else f'exited {code}'}:\n{tail}", flush=True)
    return result


def check_server(uri: str, results: list[Result], epochs: int) -> None:
    """For runs that logged to a live server: FINISHED, with every epoch's loss, each once."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    for result in results:
        if result.variant not in ("up", "slow"):
            continue
        runs = (
            client.search_runs([experiment.experiment_id], filter_string=f"attributes.run_name = '{result.run_name}'")
            if experiment
            else []
        )
        if len(runs) != 1:
            result.complete_on_server = False
            continue
        steps = sorted(m.step for m in client.get_metric_history(runs[0].info.run_id, "loss"))
        result.complete_on_server = runs[0].info.status == "FINISHED" and steps == list(range(1, epochs + 1))


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(results: list[Result]) -> list[dict]:
    """One row per variant: medians, and each round's difference to that round's `off`."""
    base = {r.round: r for r in results if r.variant == "off" and r.returncode == 0}
    rows = []
    for variant in dict.fromkeys(r.variant for r in results):
        mine = [r for r in results if r.variant == variant]
        ok = [r for r in mine if r.returncode == 0]
        epoch = [_median(r.epoch_s) for r in ok if r.epoch_s]
        paired = [(r, base[r.round]) for r in ok if r.round in base]
        run_overhead = [r.wall_s - b.wall_s for r, b in paired]
        run_share = [(r.wall_s - b.wall_s) / b.wall_s for r, b in paired]
        cpu_overhead = [r.cpu_s - b.cpu_s for r, b in paired]
        cpu_share = [(r.cpu_s - b.cpu_s) / b.cpu_s for r, b in paired]
        epoch_pairs = [(_median(r.epoch_s), _median(b.epoch_s)) for r, b in paired if r.epoch_s and b.epoch_s]
        epoch_overhead = [e - b for e, b in epoch_pairs]
        epoch_share = [(e - b) / b for e, b in epoch_pairs]
        checked = [r.complete_on_server for r in mine if r.complete_on_server is not None]
        rows.append(
            {
                "variant": variant,
                "runs": len(mine),
                "failed": sum(r.failed for r in mine),
                "stalled": sum(r.stalled for r in mine),
                "run_s": _median([r.wall_s for r in ok]),
                "run_overhead_s": _median(run_overhead) if variant != "off" else None,
                "run_overhead": _median(run_share) if variant != "off" else None,
                "cpu_s": _median([r.cpu_s for r in ok]),
                "cpu_overhead_s": _median(cpu_overhead) if variant != "off" else None,
                "cpu_overhead": _median(cpu_share) if variant != "off" else None,
                "epoch_s": _median(epoch),
                "epoch_overhead_s": _median(epoch_overhead) if variant != "off" else None,
                "epoch_overhead": _median(epoch_share) if variant != "off" else None,
                "end_s": _median([r.end_s for r in ok if r.end_s is not None]),
                "warned": sum(r.warnings > 0 for r in mine),
                "complete": f"{sum(checked)}/{len(checked)}" if checked else "-",
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    def seconds(v: float | None, signed: bool = False) -> str:
        return "-" if v is None else (f"{v:+.3f}" if signed else f"{v:.3f}")

    def share(v: float | None) -> str:
        return "-" if v is None else f"{v * 100:+.1f}%"

    head = (
        "| variant | runs | failed | stalled | run s | run overhead | CPU s | CPU overhead | epoch s | epoch overhead "
        "| end s | runs warned | complete on server |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['runs']} | {r['failed']} | {r['stalled']} | {seconds(r['run_s'])} "
            f"| {seconds(r['run_overhead_s'], True)} s ({share(r['run_overhead'])}) | {seconds(r['cpu_s'])} "
            f"| {seconds(r['cpu_overhead_s'], True)} s ({share(r['cpu_overhead'])}) | {seconds(r['epoch_s'])} "
            f"| {seconds(r['epoch_overhead_s'], True)} s ({share(r['epoch_overhead'])}) | {seconds(r['end_s'])} "
            f"| {r['warned']} | {r['complete']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make benchmark-tracking", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds; each trains once per variant (default 5)")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per run (default 6)")
    parser.add_argument(
        "--variants", default=DEFAULT_VARIANTS, help=f"of {','.join(VARIANTS)} (default {DEFAULT_VARIANTS})"
    )
    parser.add_argument("--delay-ms", type=float, default=100.0, help="slow: delay per chunk, each way (default 100)")
    parser.add_argument("--server-url", help="an MLflow server to use for up (default: start one in a temp dir)")
    parser.add_argument("--run-limit", type=float, default=600.0, help="seconds before a run counts as stalled")
    parser.add_argument("--budget-minutes", type=float, default=15.0, help="start no round after this (default 15)")
    parser.add_argument("--json", type=Path, help="also write every run's numbers here")
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown or not variants:
        parser.error(f"--variants: unknown {unknown}; choose from {','.join(VARIANTS)}")
    if "off" not in variants:
        variants.insert(0, "off")  # the baseline every overhead is measured against

    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tracking-benchmark-")))
        uris = {"off": "", "down": f"http://127.0.0.1:{_free_port()}"}
        if {"up", "slow"} & set(variants):
            url = args.server_url
            if not url:
                state = work / "mlflow"
                print("benchmark-tracking: starting an MLflow server for the benchmark", flush=True)
                # A free port, never 5000: that one is `make tracking-up`'s.
                url = server.start(state, server.free_port(), printer=print, die_with_parent=True).url
                stack.callback(server.stop, state)
            uris["up"] = url
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            uris["slow"] = stack.enter_context(SlowProxy(port, args.delay_ms / 1000)).url
        if "hung" in variants:
            uris["hung"] = stack.enter_context(hung_server())
        results: list[Result] = []
        started = time.monotonic()
        for round_ in range(args.rounds):
            if round_ and time.monotonic() - started > args.budget_minutes * 60:
                print(f"benchmark-tracking: budget of {args.budget_minutes:g} min spent after {round_} round(s)")
                break
            order = variants[round_ % len(variants) :] + variants[: round_ % len(variants)]
            for variant in order:
                result = measure(variant, round_, uris[variant], args.epochs, work / "runs", args.run_limit)
                results.append(result)
                print(
                    f"benchmark-tracking: round {round_ + 1}/{args.rounds} {variant}: rc {result.returncode}, "
                    f"{result.wall_s:.1f}s, epoch median {_median(result.epoch_s) or 0:.3f}s",
                    flush=True,
                )
        if "up" in uris:
            check_server(uris["up"], results, args.epochs)
    rows = summarize(results)
    print()
    print(
        f"tracking overhead: classify cnn (tiny), {args.epochs} epochs, {len(results) // len(variants)} round(s), "
        f"slow = +{args.delay_ms:g} ms per chunk each way; medians of per-round differences to `off`"
    )
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "runs": [asdict(r) for r in results]}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
