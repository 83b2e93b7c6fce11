"""Crash-consistency harness: kill the real trainer at seeded points, restart it until it finishes,
and check what a user would rely on. Used by tests/test_crash_consistency.py and, for many more
scenarios than a test run can afford, from the command line:

    .venv/bin/python -m tests.crash --scenarios 40                  # local run directory
    .venv/bin/python -m tests.crash --scenarios 10 --backend gcs    # run directory in fake-gcs-server
    .venv/bin/python -m tests.crash --scenarios 10 --backend s3     # run directory in versitygw (S3)

A scenario is a seed. It picks one to three kills, each a crash point of `trainers/runtime/
faults.py` with a count (and sometimes a delay, so the SIGKILL lands inside TensorFlow's own
checkpoint write or an upload), runs the trainer once per kill, then once more without faults.
The finished run must match an uninterrupted reference run exactly:

- every epoch appears exactly once in metrics.json, with the reference's numbers;
- the checkpoint's step and the optimizer's iteration count are the planned total;
- the final weights equal the reference's (dropout's random state is checkpointed);
- the newest export loads and scores texts as the reference export does, labelled with the same
  epoch; there is exactly one version (a restart never adds an identical one) and it is complete;
  no interrupted write is left behind.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import ROOT, run_trainer
from trainers.runtime.errors import EXIT_PREEMPTED

SAMPLES = ROOT / "trainers" / "tasks" / "classify" / "sample_data"
PROBE_TEXTS = ["the striker scored a late goal", "heavy rain and snow tomorrow", "the bank raised interest rates"]
# 96 training examples / batch 8 = 12 steps per epoch; 3 epochs = 36 steps; dropout stays at its
# default 0.5, so an inexact resume shows in the weights.
RUN = {
    "modelType": "cnn",
    "numEpochs": "3",
    "batchSize": "8",
    "checkpointEvery": "5",
    "exportBest": "true",
    "embeddingDim": "16",
    "numFilters": "8",
    "maxLength": "12",
    "learningRate": "0.01",
    "logEvery": "6",
    "xla": "false",
}
TOTAL_STEPS = 36
EPOCHS = 3
CHECKPOINTS = 10  # 5, 10, 12, 15, 20, 24, 25, 30, 35, 36
# Names that interrupted writes leave: TensorFlow's sharded-save directories (ckpt-7_temp) and
# atomic writes (checkpoint.tmp<hex>, *.tempstate<n>), the runtime's staging names (.tmp-*, *.tmp)
# and partial downloads. A finished run directory holds none of them. (The trainer itself never
# deletes by such a pattern: it removes only what it knows it wrote, runtime/rundir.py.)
LEFTOVER = re.compile(r"(_temp$|\.tmp[0-9a-f]*$|^\.tmp-|\.partial$|\.tempstate\d+$)")


def is_leftover(name: str) -> bool:
    return bool(LEFTOVER.search(name))


# (point, highest count worth choosing) for a local run directory; bucket runs add uploads.
LOCAL_POINTS = [
    ("step.done", TOTAL_STEPS),
    ("checkpoint.before", CHECKPOINTS),
    ("checkpoint.saved", CHECKPOINTS),
    ("epoch.checkpointed", EPOCHS),
    ("epoch.recorded", EPOCHS),
    ("best.saved", EPOCHS),
    ("export.staged", 1),
    ("export.renamed", 1),
    ("export.done", 1),
]
# An export is 6 files (textjobs.json last); a checkpoint 2 objects and the state file.
BUCKET_POINTS = [*LOCAL_POINTS, ("checkpoint.uploading", 2 * CHECKPOINTS), ("export.uploading", 5)]


def write_data(directory: Path) -> dict[str, str]:
    """A small copy of the bundled sample: 96 training and 40 evaluation examples."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, count in (("train", 96), ("eval", 40)):
        source = SAMPLES / f"topics.{split}.tsv"
        lines = [line for line in source.read_text().splitlines() if line and not line.startswith("#")][:count]
        target = directory / f"crash.{split}.tsv"
        target.write_text("\n".join(lines) + "\n")
        paths[f"{split}Data"] = str(target)
    return {"trainData": paths["trainData"], "evalData": paths["evalData"]}


def choose_faults(seed: int, points) -> list[str]:
    rng = random.Random(seed)
    faults = []
    for _ in range(rng.randint(1, 3)):
        point, highest = rng.choice(points)
        spec = f"{point}:{rng.randint(1, highest)}"
        if point.startswith(("checkpoint.", "export.")) and rng.random() < 0.5:
            spec += f":{rng.randint(0, 40)}"  # land inside the write that follows
        faults.append(spec)
    return faults


@dataclass
class Outcome:
    seed: int
    faults: list[str]
    kills: int = 0
    starts: int = 0
    problems: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


def run_scenario(seed: int, values: dict[str, str], env: dict[str, str] | None, points, faults=None) -> Outcome:
    """Run with each fault in turn (seeded unless `faults` is given), then once without."""
    outcome = Outcome(seed, faults if faults is not None else choose_faults(seed, points))
    for fault in outcome.faults:
        result = run_trainer(values, env={**(env or {}), "TEXTJOBS_FAULT": fault}, tiny=False)
        outcome.starts += 1
        outcome.log.append(f"--- {fault}: exit {result.returncode}\n{result.stdout[-1500:]}{result.stderr[-1500:]}")
        if result.returncode in (-9, EXIT_PREEMPTED):  # SIGKILL, or SIGTERM handled with a checkpoint
            outcome.kills += 1
            continue
        if result.returncode != 0:
            outcome.problems.append(f"{fault}: exit {result.returncode}: {result.stderr[-800:]}")
            return outcome
        break  # the point was never reached: the run finished
    final = run_trainer(values, env=env, tiny=False)
    outcome.starts += 1
    outcome.log.append(f"--- final: exit {final.returncode}\n{final.stdout[-1500:]}{final.stderr[-1500:]}")
    if final.returncode != 0:
        outcome.problems.append(f"final start: exit {final.returncode}: {final.stderr[-800:]}")
    return outcome


@dataclass
class Finished:
    """What a finished run directory holds, for comparing two runs."""

    history: list[dict]
    export_epoch: int | None
    step: int
    iterations: int
    weights: dict
    scores: object


def read_finished(model_dir: Path) -> Finished:
    import numpy as np
    import tensorflow as tf

    from trainers.runtime.versions import complete_versions

    metrics = json.loads((model_dir / "metrics.json").read_text())
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(model_dir / "checkpoints")))
    names = reader.get_variable_to_shape_map()
    weights = {n: reader.get_tensor(n) for n in names if n.startswith("model_weights/")}
    iterations = [reader.get_tensor(n) for n in names if n.startswith("optimizer/") and "iteration" in n]
    newest = model_dir / "export" / complete_versions(model_dir / "export")[-1]
    serve = tf.saved_model.load(str(newest)).signatures["serving_default"]
    scores = serve(text=tf.constant(PROBE_TEXTS))["scores"].numpy()
    return Finished(
        history=metrics["history"],
        export_epoch=json.loads((newest / "labels.json").read_text())["epoch"],
        step=int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")),
        iterations=int(np.asarray(iterations[0])) if iterations else -1,
        weights=weights,
        scores=scores,
    )


def problems_of(model_dir: Path, reference: Finished) -> list[str]:
    import numpy as np

    found = []
    leftovers = [str(p.relative_to(model_dir)) for p in model_dir.rglob("*") if is_leftover(p.name)]
    if leftovers:
        found.append(f"interrupted writes left behind: {leftovers}")
    from trainers.runtime.versions import complete_versions

    present = sorted(p.name for p in (model_dir / "export").glob("*"))
    complete = complete_versions(model_dir / "export")
    if present != complete:
        found.append(f"incomplete export versions: {sorted(set(present) - set(complete))}")
    if len(complete) != 1:
        found.append(f"{len(complete)} export versions, expected exactly one: {complete}")
    try:
        run = read_finished(model_dir)
    except Exception as exc:  # noqa: BLE001 - any failure to read is a finding
        return [*found, f"cannot read the finished run: {type(exc).__name__}: {exc}"]
    epochs = [row["epoch"] for row in run.history]
    if epochs != list(range(1, EPOCHS + 1)):
        found.append(f"epochs in metrics.json: {epochs}")
    for mine, theirs in zip(run.history, reference.history, strict=False):
        for key, value in theirs.items():
            if not np.isclose(mine.get(key, np.nan), value, rtol=1e-6, atol=1e-7):
                found.append(f"epoch {theirs['epoch']} {key}: {mine.get(key)} != {value}")
    if (run.step, run.iterations) != (TOTAL_STEPS, TOTAL_STEPS):
        found.append(f"step {run.step}, optimizer iterations {run.iterations}; expected {TOTAL_STEPS}")
    if run.export_epoch != reference.export_epoch:
        found.append(f"export labelled epoch {run.export_epoch}, reference {reference.export_epoch}")
    for name, value in reference.weights.items():
        if name not in run.weights or not np.allclose(run.weights[name], value, rtol=1e-6, atol=1e-7):
            found.append(f"weight {name} differs from the uninterrupted run")
            break
    if not np.allclose(run.scores, reference.scores, rtol=1e-5, atol=1e-6):
        found.append("the newest export scores texts differently from the reference export")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Kill the trainer at seeded points; count runs that end exact.")
    parser.add_argument("--scenarios", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--backend", default="local", help="storage backend of the run directory: local, gcs, s3")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="textjobs-crash-"))
    try:
        data = write_data(work / "data")
        reference_dir = work / "reference"
        assert run_trainer({**RUN, **data, "modelDir": str(reference_dir)}, tiny=False).returncode == 0
        reference = read_finished(reference_dir)
        tried = exact = kills = 0
        for seed in range(args.first_seed, args.first_seed + args.scenarios):
            if args.backend != "local":
                outcome, problems = _bucket_scenario(args.backend, seed, data, work, reference)
            else:
                model_dir = work / f"run-{seed}"
                outcome = run_scenario(seed, {**RUN, **data, "modelDir": str(model_dir)}, None, LOCAL_POINTS)
                problems = outcome.problems or problems_of(model_dir, reference)
            tried += 1
            kills += outcome.kills
            exact += not problems
            print(
                f"seed {seed}: {', '.join(outcome.faults)} -> {outcome.kills} kill(s), {outcome.starts} starts: "
                f"{'exact' if not problems else '; '.join(problems)}",
                flush=True,
            )
        print(f"{kills} kills in {tried} scenarios; {exact}/{tried} runs ended exact")
        return 0 if exact == tried else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bucket_problems(uri: str, copy: Path) -> list[str]:
    """Findings in the bucket itself, then in a local copy of it."""
    from trainers.runtime import storage
    from trainers.runtime.versions import complete_versions

    names = storage.list_names(uri)
    found = [f"left in the bucket: {n}" for n in names if any(is_leftover(part) for part in n.split("/"))]
    found += [f"{n} left in the bucket" for n in names if n.endswith("export-pending.json") or "write-probe" in n]
    present = {n.split("/")[1] for n in names if n.startswith("export/") and n.count("/") >= 2}
    found += [f"incomplete version export/{v}" for v in present - set(complete_versions(f"{uri}/export"))]
    storage.download_tree(uri, copy)
    return found


def _bucket_scenario(backend: str, seed: int, data: dict[str, str], work: Path, reference: Finished):
    from tests.buckets import started

    with started(backend, work / f"store-{seed}") as store:
        root = store.bucket("crash-bucket")
        values = {**RUN, **data, "bucket": root, "runName": f"crash-{seed}", "scratchDir": str(work / f"s-{seed}")}
        outcome = run_scenario(seed, values, store.env(), BUCKET_POINTS)
        if outcome.problems:
            return outcome, outcome.problems
        copy = work / f"copy-{seed}"
        found = bucket_problems(f"{root}/runs/crash-{seed}", copy)
        return outcome, found + problems_of(copy, reference)


if __name__ == "__main__":
    sys.exit(main())
