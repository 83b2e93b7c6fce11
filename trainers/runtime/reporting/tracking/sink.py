"""The tracking sink: every report period of the chief, sent to MLflow without ever costing the
training a wait or a failure.

The trainer's calls only put things in a backlog and wake a worker thread; they never touch the
network. The worker sends what is pending in order (parameters, then each period's metrics with
the period as step, then at the end the final metrics, tags, the plot and the run's files):

- every request is bounded (`trackingTimeoutSeconds`, one try); a failed round is retried when
  the next period arrives, or after a back-off of 2, 4, ... 60 s, whichever is first;
- the first failure of an outage prints one warning (what failed, how much is queued); the
  recovery prints one line (how much of the backlog went);
- after a failure the worker reads back what the server holds before sending again
  (mlflow_run.py), so a request that was stored but whose answer was lost is not logged twice;
- a request the server refuses as invalid is dropped and counted as lost, never retried for ever;
- the end of the run waits at most `trackingFinishSeconds` for the backlog; what is still unsent
  then is reported as lost in one line (metrics.json has it all). A resumed run sends every
  earlier period the server lacks (`start(rows)`), so a backlog lost to a killed pod arrives with
  the next start.

The run key (tracking.json in the run directory, mirrored to the bucket) is what finds the MLflow
run again on resume; a run directory started afresh gets a new key, so a new MLflow run.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from trainers.runtime.reporting.files import write_json_atomically
from trainers.runtime.reporting.sink import Sink, row_values
from trainers.runtime.reporting.tracking import naming

RUN_KEY_FILE = "tracking.json"
# Files a run lists as reports (an optimize report, game scores...) go here, and every one of them
# becomes an artifact of the MLflow run under reports/.
REPORTS_DIR = "reports"
MAX_BACKOFF_SECONDS = 60.0
# A run's end stops retrying after this many failed rounds in a row (a server that refuses at
# once costs a few seconds, not the whole trackingFinishSeconds).
FINISH_ATTEMPTS = 3
MAX_QUEUED_PERIODS = 10_000
BATCH = 100  # MLflow's log_batch takes at most 100 parameters or tags, 1000 metrics


@dataclass
class Backlog:
    """What is still to be sent; shared by the trainer's thread and the worker, under `lock`."""

    params: dict[str, str] = field(default_factory=dict)
    periods: dict[int, list[tuple[str, float, int, int]]] = field(default_factory=dict)
    final: dict | None = None
    lost: list[str] = field(default_factory=list)


def _first_line(exc: BaseException) -> str:
    """What went wrong, in a line: the innermost cause (`Connection refused`, `Read timed out`),
    not the client's wrapper around it."""
    root, seen = exc, 0
    while (root.__cause__ or root.__context__) is not None and seen < 10:
        root, seen = root.__cause__ or root.__context__, seen + 1
    text = (str(root).strip().splitlines() or [type(root).__name__])[0]
    return f"{type(root).__name__}: {text}"[:240] if root is not exc else text[:240]


def _metrics(values: dict, step: int, stamp_ms: int, prefix: str = "") -> list[tuple[str, float, int, int]]:
    return [
        (f"{prefix}{name}", float(value), stamp_ms, step)
        for name, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and value is not None
    ]


class TrackingSink(Sink):
    name = "tracking"

    def __init__(self, cfg, run, say):
        self.cfg, self.run, self.say = cfg, run, say
        self.uri = naming.without_credentials(cfg.tracking_uri)
        self.experiment = naming.experiment_name(cfg.run_name, cfg.tracking_experiment)
        self.backlog = Backlog()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.finishing = threading.Event()
        self.done = threading.Event()
        self.thread: threading.Thread | None = None
        self.sent_periods = 0

    # -- the trainer's side: never blocks on the network ---------------------------------------

    def start(self, rows: list[dict]) -> None:
        run_key = self._run_key()
        with self.lock:
            self.backlog.params = naming.parameters(self.cfg)
            for row in rows:  # a resumed run: send whatever the server lacks of earlier periods
                self._queue(row, {})
        self.thread = threading.Thread(target=self._work, args=(run_key,), name="tracking", daemon=True)
        self.thread.start()
        self.say(f"tracking: logging to {self.uri}, experiment {self.experiment!r}, run {self.cfg.run_name!r}")

    def epoch(self, row: dict, timing: dict) -> None:
        with self.lock:
            self._queue(row, timing)
        self.wake.set()

    def finish(self, summary: dict) -> None:
        with self.lock:
            self.backlog.final = summary
        self.finishing.set()
        self.wake.set()
        if self.thread is None or not self.done.wait(self.cfg.tracking_finish_seconds):
            self._report_lost(f"gave up after waiting {self.cfg.tracking_finish_seconds:g}s at the end of the run")

    def _queue(self, row: dict, timing: dict) -> None:
        step = int(row["epoch"])
        stamp = int(time.time() * 1000)
        self.backlog.periods[step] = _metrics(row_values(row), step, stamp) + _metrics(timing, step, stamp, "timing/")
        while len(self.backlog.periods) > MAX_QUEUED_PERIODS:
            oldest = min(self.backlog.periods)
            del self.backlog.periods[oldest]
            self.backlog.lost.append(f"period {oldest} (more than {MAX_QUEUED_PERIODS} queued)")

    def _run_key(self) -> str:
        """The key that finds this run's MLflow run again, kept in the run directory."""
        path = self.run.model_dir / RUN_KEY_FILE
        try:
            if self.run.pull(path):
                return json.loads(path.read_text())["run_key"]
        except (ValueError, KeyError):
            pass  # a torn file: a new key, so at worst a second MLflow run, never a mixed one
        key = uuid.uuid4().hex
        write_json_atomically(path, {"run_key": key, "experiment": self.experiment, "uri": self.uri})
        self.run.push(path)
        return key

    def _run_dir(self) -> str:
        if "://" in self.cfg.model_dir:
            return self.cfg.model_dir
        return str(Path(self.cfg.model_dir).resolve())

    def _report_lost(self, why: str) -> None:
        with self.lock:
            pending = sorted(self.backlog.periods)
            final = self.backlog.final is not None
            lost = list(self.backlog.lost)
        parts = [f"periods {pending}"] if pending else []
        parts += ["the final metrics, tags and artifacts"] if final else []
        parts += lost
        if parts:
            self.say(
                f"warning: tracking: {why}; not sent to {self.uri}: {'; '.join(parts)} "
                "(metrics.json in the run directory has them all)"
            )

    # -- the worker thread ----------------------------------------------------------------------

    def _work(self, run_key: str) -> None:
        try:
            self._loop(run_key)
        except Exception as exc:  # noqa: BLE001 - a bug here must not reach the training
            self.say(f"warning: tracking stopped ({_first_line(exc)}); training goes on")
        finally:
            self.done.set()

    def _loop(self, run_key: str) -> None:
        from trainers.runtime.reporting.tracking import mlflow_run

        client = mlflow_run.client(self.cfg.tracking_uri, self.cfg.tracking_timeout_seconds)
        tags = {
            mlflow_run.RUN_DIR_TAG: self._run_dir(),
            "textjobs.task": self.cfg.task_name,
            "textjobs.model_type": self.cfg.model_type,
        }
        target = mlflow_run.MlflowRun(client, self.experiment, self.cfg.run_name, run_key, tags)
        failures, outage_started = 0, None
        while True:
            self.wake.clear()  # before looking at the backlog: whatever arrives later wakes the next round
            try:
                if target.run_id is None:
                    target.open()
                    if target.resumed and failures == 0:
                        self.say(f"tracking: continuing MLflow run {target.run_id} (found by its run key)")
                complete = self._send(target, mlflow_run.is_bad_request)
            except Exception as exc:  # noqa: BLE001 - unreachable, slow or wrong server: retried
                failures += 1
                target.run_id = None  # read back what the server holds before sending again
                if outage_started is None:
                    outage_started = time.monotonic()
                    with self.lock:
                        queued = len(self.backlog.periods)
                    self.say(
                        f"warning: tracking: {self.uri} failed ({_first_line(exc)}); training goes on, "
                        f"{queued} period(s) queued, retrying"
                    )
                if self.finishing.is_set() and failures >= FINISH_ATTEMPTS:
                    self._report_lost(f"{self.uri} still failing after {failures} tries")
                    return
                self.wake.wait(min(MAX_BACKOFF_SECONDS, 2.0**failures))
                continue
            if outage_started is not None:
                self.say(
                    f"tracking: {self.uri} is back after {time.monotonic() - outage_started:.0f}s; "
                    f"the backlog is sent ({self.sent_periods} period(s) so far)"
                )
                failures, outage_started = 0, None
            if complete:
                self._report_lost("some data was refused by the server")
                return
            self.wake.wait()

    def _send(self, target, is_bad_request) -> bool:
        """Send everything pending, oldest first; True once the run's end has been sent."""
        with self.lock:
            params = {k: v for k, v in self.backlog.params.items() if k not in target.params}
        changed = {k for k, v in self.backlog.params.items() if k in target.params and target.params[k] != v}
        for key in sorted(changed):
            self.say(f"tracking: {key} is {self.backlog.params[key]!r} now, {target.params[key]!r} in MLflow (kept)")
        items = sorted(params.items())
        for i in range(0, len(items), BATCH):
            self._attempt(
                lambda chunk=dict(items[i : i + BATCH]): target.log([], chunk, {}), "parameters", is_bad_request
            )
        with self.lock:
            self.backlog.params = {}
        while True:
            with self.lock:
                if not self.backlog.periods:
                    break
                step = min(self.backlog.periods)
                metrics = self.backlog.periods[step]
            fresh = [m for m in metrics if not target.has(m[0], m[3])]
            if fresh:
                self._attempt(lambda batch=fresh: target.log(batch, {}, {}), f"period {step}", is_bad_request)
            with self.lock:
                if self.backlog.periods.get(step) is metrics:
                    del self.backlog.periods[step]
            self.sent_periods += 1
        with self.lock:
            final = self.backlog.final
        if final is None:
            return False
        self._send_final(target, final, is_bad_request)
        with self.lock:
            self.backlog.final = None
        return True

    def _attempt(self, send, what: str, is_bad_request) -> None:
        try:
            send()
        except Exception as exc:
            if not is_bad_request(exc):
                raise
            with self.lock:
                self.backlog.lost.append(f"{what} (refused: {_first_line(exc)})")

    def _send_final(self, target, summary: dict, is_bad_request) -> None:
        final = summary.get("final") or {}
        step = int(final.get("epoch", 0) or 0)
        stamp = int(time.time() * 1000)
        metrics = _metrics(row_values(final), step, stamp, "final/") + _metrics(
            summary.get("timing") or {}, step, stamp, "timing/"
        )
        metrics = [m for m in metrics if not target.has(m[0], m[3])]
        export = summary.get("export") or ""
        tags = {
            "textjobs.export": export,
            "textjobs.export_version": Path(export).name if export else "",
            "textjobs.export_epoch": str(summary.get("export_epoch") or ""),
        }
        self._attempt(lambda: target.log(metrics, {}, tags), "the final metrics and tags", is_bad_request)
        for path, folder in self._artifacts(summary):
            self._attempt(lambda p=path, f=folder: target.upload(p, f), f"artifact {path.name}", is_bad_request)
        target.finished()

    def _artifacts(self, summary: dict) -> list[tuple[Path, str | None]]:
        found: list[tuple[Path, str | None]] = []
        if self.run.metrics.is_file():
            found.append((self.run.metrics, None))
        plot = self._plot(summary)
        if plot is not None:
            found.append((plot, None))
        reports = self.run.model_dir / REPORTS_DIR
        if reports.is_dir():
            found += [(p, REPORTS_DIR) for p in sorted(reports.iterdir()) if p.is_file()]
        return found

    def _plot(self, summary: dict) -> Path | None:
        """metrics.png, drawn here (in the worker, never on the training thread) when matplotlib
        is installed: the dev environment has it, the trainer image does not (the MLflow UI
        charts the same metrics)."""
        try:
            from trainers.runtime.reporting.plot import plot
        except ImportError:
            return None
        if not summary.get("history"):
            return None
        out = self.run.scratch / "tracking" / "metrics.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        return plot(summary, out)
