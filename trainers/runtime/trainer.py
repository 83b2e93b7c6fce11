"""`python -m trainers train`: one run of any task, from configuration to exported SavedModel.

The order is what makes a run safe to kill and restart at any instant:

1. Check before TensorFlow starts: configuration, TF_CONFIG, buckets, writable directories, the
   data files (parsed in full) and the task's other inputs. A failure here exits 2 (or 3 for
   storage that will not heal, 200 for storage that may) and leaves nothing behind.
2. Meet the other workers (runtime/rendezvous.py: names missing peers, gives up after
   peerTimeoutSeconds), then create the distribution strategy, the first TensorFlow object
   (collective ops must be configured at program start).
3. Build or reload the task's assets and check them; only then persist anything, after cleaning
   what an interrupted earlier start left (`*_temp`, `.tmp-*`, a half-uploaded export).
4. Restore the newest checkpoint: weights, optimizer, step, dropout's random state and the
   current epoch's running totals. If it ends an epoch whose summary was never recorded, record
   it now, from exactly that state.
5. Train: the checkpoint that ends an epoch is written before the epoch's row in metrics.json
   (its Katib line, TensorBoard scalars, the exportBest candidate). SIGTERM saves a checkpoint
   and exits 143.
6. Export a new version atomically and write the final metrics.

Exit codes are in `runtime/errors.py`.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass

from trainers.runtime import distribution, export, faults, init_from, keyset, storage
from trainers.runtime.artifacts import SavedModelWriter
from trainers.runtime.best_epoch import BestEpoch
from trainers.runtime.errors import EXIT_PREEMPTED, DataError, RunError, TransientError, report
from trainers.runtime.rendezvous import wait_for_peers
from trainers.runtime.reporting import Progress, write_json_atomically
from trainers.runtime.reporting.history import History
from trainers.runtime.reporting.sinks import Sinks
from trainers.runtime.restarts import StartLedger
from trainers.runtime.rundir import Run
from trainers.runtime.task import MODEL_SIGNATURE, Context, ParsedData
from trainers.runtime.training import actions as actions_lib
from trainers.runtime.training import pruning as _pruning  # noqa: F401  registers its action factory
from trainers.runtime.training.schedule import Schedule


def _printer(role: distribution.Role):
    return lambda text: print(f"[{role.name}] {text}", flush=True)


@dataclass
class Inputs:
    """What step 1 found: the run's paths, and the parsed, checked data."""

    run: Run
    ctx: Context
    train: object
    evaluation: object | None
    init: init_from.InitSource | None = None


def check_inputs(cfg, task, role: distribution.Role) -> Inputs:
    """Step 1: everything that can be checked without TensorFlow."""
    say = _printer(role)
    run = Run(cfg, role.name, task.assets_file)
    storage.configure(s3_endpoint=cfg.s3_endpoint)
    storage.check_buckets([cfg.model_dir, cfg.export_dir, cfg.train_data, cfg.eval_data, cfg.init_from])
    run.check_writable(probe_buckets=role.is_chief)  # only the chief writes to the bucket
    ctx = Context(fetch=lambda uri: storage.fetch(uri, run.scratch / "data"), say=say)
    train = task.read_data(cfg, ctx.fetch(cfg.train_data))
    _check_derived_eval_data(cfg)
    evaluation = task.read_eval_data(cfg, ctx.fetch(cfg.eval_data)) if cfg.eval_data else None
    for part in (train, evaluation):
        if part is not None and not isinstance(part, ParsedData):
            raise TypeError(
                f"task {task.name}: read_data must return ParsedData (path, skipped, len), not {part!r:.80}"
            )
        if part is not None and part.skipped and role.is_chief:
            say(f"skipped {part.skipped} malformed lines in {part.path} (skipBadLines=true)")
    task.check_inputs(cfg, ctx)
    init = init_from.resolve(cfg, run.scratch)
    return Inputs(run, ctx, train, evaluation, init)


def _check_derived_eval_data(cfg) -> None:
    """An unset evalData means trainData's `.eval.` twin; when that twin is missing, say where the
    name came from, or the user hunts for a file they never named."""
    if not cfg.eval_data or cfg.texts.get("evalData"):
        return
    if not storage.exists(cfg.eval_data):
        raise DataError(
            f"{cfg.eval_data}: file not found; evalData is not set, so it defaults to trainData "
            f"({cfg.train_data}) with .train. replaced by .eval.: set evalData, or add that file"
        )


def _metric_slot(i: int) -> int:
    """Where the i-th running metric's sum sits (its count follows), both in the step's result
    vector ([loss, stop votes, sum, count, ...], loop.py) and in the epoch totals kept here
    ([loss sum, steps, sum, count, ...])."""
    return 2 + 2 * i


class Trainer:
    """Steps 3-6 for one process; `run()` returns the exit code."""

    def __init__(self, cfg, task, role, strategy, inputs: Inputs, process_start: float):
        self.cfg, self.task, self.role, self.strategy = cfg, task, role, strategy
        self.inputs, self.run_dir = inputs, inputs.run
        self.process_start = process_start
        self.say = _printer(role) if role.is_chief else (lambda text: None)
        self.first_step_seconds: float | None = None

    # -- step 3: assets, cleaning, persisting --------------------------------------------------

    def _assets(self) -> dict:
        run, cfg = self.run_dir, self.cfg
        saved = run.pull(run.assets)
        init = self.inputs.init
        if saved:
            assets = json.loads(run.assets.read_text())
            if init is not None:
                init_from.check_saved_assets(init, assets)
        else:  # fine-tuning keeps the source's vocabulary and labels: its ids mean the same
            assets = init.assets if init is not None else self.task.build_assets(cfg, self.inputs.train)
        self.task.check_assets(cfg, assets, self.inputs.train, self.inputs.evaluation)
        if self.cfg.batch_size % self.strategy.num_replicas_in_sync:
            raise cfg.error("batchSize", f"must be a multiple of the {self.strategy.num_replicas_in_sync} replicas")
        if self.role.is_chief:  # every check has passed: from here on the run may write
            for path in run.clean_leftovers():
                self.say(f"removed {path}, left by an interrupted write")
            removed = export.finish_pending(run)
            if removed:
                self.say(f"removed the incomplete export {removed}, left by an interrupted upload")
            if not saved:
                run.model_dir.mkdir(parents=True, exist_ok=True)
                write_json_atomically(run.assets, assets)
                run.push(run.assets)
        return assets

    # -- step 4: model, optimizer, checkpoint --------------------------------------------------

    def _build(self, task_run, total_steps: int, actions: list):
        import tensorflow as tf

        from trainers.runtime.training import optimizer as optimizer_lib

        cfg = self.cfg
        if cfg.mixed_precision:
            tf.keras.mixed_precision.set_global_policy("mixed_float16")
        tf.keras.utils.set_random_seed(cfg.seed)
        with self.strategy.scope():
            model = task_run.build_model()
            optimizer = task_run.optimizer(total_steps) or optimizer_lib.build(cfg, total_steps)
            if cfg.mixed_precision:
                optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
            optimizer.build(model.trainable_variables)
            for action in actions:
                action.build(model, optimizer, self.strategy)
        return model, optimizer

    def _checkpoint(self, model, optimizer, step_var, totals_var, actions):
        import tensorflow as tf

        from trainers.runtime.checkpoints import CheckpointStore

        weights = {id(v) for v in model.weights}
        # Dropout's random state: without it a resumed run draws other masks than an
        # uninterrupted one and ends with different weights.
        rng_state = [v for v in model.variables if id(v) not in weights]
        state = actions_lib.checkpoint_state(actions)
        checkpoint = tf.train.Checkpoint(
            # tf.train.Checkpoint does not walk a Keras 3 model's layers; list its weights
            # explicitly so non-trainable ones (frozen embeddings) are saved too.
            model_weights=list(model.weights),
            optimizer=optimizer,
            step=step_var,
            rng_state=rng_state,
            epoch_totals=totals_var,
            # Only when there are actions with state, so checkpoints of runs without any keep
            # exactly the layout older runs wrote.
            **({"actions": state} if state else {}),
        )
        run = self.run_dir
        return CheckpointStore(
            checkpoint,
            step_var,
            run.checkpoints,
            storage.join(run.remote_model_dir, "checkpoints") if run.remote_model_dir else None,
            self.role.is_chief,
            run.scratch,
        )

    # -- step 5: report periods ------------------------------------------------------------------

    def _epoch_row(self, epoch: int, step: int, totals, metric_names, task_run, model, actions) -> dict:
        loss_sum, steps = totals[0], totals[1]
        row = {"epoch": epoch, "step": step, "loss": loss_sum / max(steps, 1)}
        for i, name in enumerate(metric_names):
            total, count = totals[_metric_slot(i)], totals[_metric_slot(i) + 1]
            row[name] = total / count if count else 0.0
        for action in actions:
            row.update(action.epoch_metrics())
        if self.inputs.evaluation is not None:
            row.update(task_run.evaluate(model))
        return row

    def _timing(self, progress: Progress) -> dict:
        return {**progress.summary(), "seconds_to_first_step": self.first_step_seconds}

    def run(self) -> int:
        import numpy as np
        import tensorflow as tf

        from trainers.runtime.training.step import StepRunner

        cfg, task, role, run = self.cfg, self.task, self.role, self.run_dir
        assets = self.assets = self._assets()
        task_run = task.create(cfg, assets, self.inputs.train, self.inputs.evaluation, self.inputs.ctx)
        train_input = task_run.train_input(cfg.batch_size, cfg.seed)
        schedule = Schedule(train_input.steps_per_epoch, cfg.num_epochs, cfg.train_steps, cfg.eval_every)
        actions = actions_lib.for_run(cfg, list(task_run.actions()), schedule.total)
        model, optimizer = self._build(task_run, schedule.total, actions)
        metric_names = tuple(task_run.train_metric_names)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        stop_flag = tf.Variable(0, dtype=tf.int32, trainable=False, name="stop_requested")
        totals_var = tf.Variable(np.zeros(2 + 2 * len(metric_names)), dtype=tf.float64, trainable=False)
        store = self._checkpoint(model, optimizer, step_var, totals_var, actions)
        restored = store.restore()
        if not restored and self.inputs.init is not None:  # a fresh start; a resume has its own weights
            with self.strategy.scope():
                self.say(init_from.load_weights(self.inputs.init, model))
        step = int(step_var.numpy())
        totals = totals_var.numpy().copy()
        ledger = StartLedger(run)
        if role.is_chief:
            ledger.record_start(step, cfg.max_starts_without_progress)

        sinks = Sinks.for_run(cfg, run, self.say) if role.is_chief else Sinks([], self.say)
        history = History(run, cfg, sinks)
        history.load(schedule.completed_epochs(step))
        sinks.start(history.rows)
        best = BestEpoch(run, cfg.export_best and role.is_chief, task.best_metric, task.higher_is_better)
        best.reset(history.rows)
        unit, unit_metric = task_run.throughput or (None, None)
        unit_slot = _metric_slot(metric_names.index(unit_metric)) + 1 if unit_metric else None  # its count
        progress = Progress(schedule.total, cfg.batch_size, cfg.log_every, step, self.say, unit)
        examples = train_input.examples_per_epoch
        facts = [
            f"{model.count_params():,} parameters",
            f"{self.strategy.num_replicas_in_sync} replica(s) on {role.num_workers} worker(s)",
            f"{examples} examples" if examples is not None else "",
            task_run.describe(),
            f"{schedule.steps_per_epoch} steps/epoch",
            f"{schedule.total} steps",
            f"validation every {schedule.period_steps} steps" if cfg.eval_every else "",
        ]
        self.say(f"{cfg.model_type}: " + ", ".join(f for f in facts if f))
        if restored:
            self.say(f"resumed from {restored} at step {step} (epoch {schedule.epoch_of(step) + 1})")

        def finish_epoch(epoch: int, at_step: int) -> None:
            row = self._epoch_row(epoch, at_step, totals, metric_names, task_run, model, actions)
            best.offer(model, row)
            history.record(row, self._timing(progress))
            for action in actions:
                action.at_epoch_end(row)
            faults.point("epoch.recorded")

        done = schedule.completed_epochs(step)
        if role.is_chief and schedule.at_epoch_end(step) and not history.has(done):
            self.say(f"recording epoch {done}, which ended at the restored checkpoint")
            finish_epoch(done, step)

        stop_requested: list[bool] = []
        signal.signal(signal.SIGTERM, lambda *_: stop_requested.append(True))
        runner = StepRunner(
            self.strategy,
            model,
            optimizer,
            task_run,
            cfg.batch_size,
            stop_flag,
            cfg.xla,
            cfg.mixed_precision,
            cfg.gradient_clip_norm,
        )

        def save(at_step: int) -> None:
            totals_var.assign(totals)
            store.save(at_step)

        while step < schedule.total:
            epoch = schedule.epoch_of(step)
            epoch_end = schedule.epoch_end(epoch)
            if step == schedule.epoch_start(epoch):
                totals[:] = 0.0
            while step < epoch_end:
                # A report period may span data epochs (evalEvery) or end inside one.
                data_epoch, skip, data_end = schedule.data_position(step)
                iterator = train_input.distributed_iterator(self.strategy, data_epoch, skip)
                segment_end = min(epoch_end, data_end)
                while step < segment_end:
                    if stop_requested and not int(stop_flag.numpy()):
                        stop_flag.assign(1)
                    values = runner.step(iterator).numpy().astype(np.float64)
                    step += 1
                    step_var.assign(step)
                    for action in actions:
                        action.after_step(step)
                    totals[0] += values[0]
                    totals[1] += 1
                    totals[2:] += values[2:]
                    if self.first_step_seconds is None:
                        self.first_step_seconds = time.monotonic() - self.process_start
                    units = float(values[unit_slot]) if unit_slot is not None else None
                    progress.step_done(step, float(values[0]), epoch + 1, schedule.epochs, units)
                    faults.point("step.done")
                    if values[1] > 0:
                        save(step)
                        self.say(
                            f"SIGTERM: saved checkpoint at step {step}; exiting with {EXIT_PREEMPTED} to be restarted"
                        )
                        return EXIT_PREEMPTED
                    if step % cfg.checkpoint_every == 0 and step != epoch_end:
                        save(step)
            save(step)
            faults.point("epoch.checkpointed")
            if role.is_chief:
                finish_epoch(epoch + 1, step)
        code = self._export(task_run, model, best, history, progress, step)
        if role.is_chief:
            ledger.finished(step)
        return code

    # -- step 6: export ------------------------------------------------------------------------

    def _optimize(self, location: str) -> None:
        optimize_step(self.cfg, self.run_dir, location, getattr(self, "registry", None), self.say)

    def _export(self, task_run, model, best, history, progress, step: int) -> int:
        cfg, run = self.cfg, self.run_dir
        chosen = best.restore(model)
        last = history.last_epoch
        if chosen:
            which = "the last epoch" if chosen["epoch"] == last else f"not the last ({last})"
            self.say(
                f"exportBest: exporting epoch {chosen['epoch']} ({best.metric}={chosen[best.metric]:.4f}), {which}"
            )
        elif best.enabled:
            self.say("exportBest: no best-epoch weights found; exporting the last epoch")
        exported = chosen or {"epoch": last, "step": step}
        info = export.export_info(cfg, exported["step"], exported["epoch"])
        model_only = task_run.model_signature(model)
        extra = {MODEL_SIGNATURE: model_only} if model_only is not None else {}
        writer = SavedModelWriter(task_run.serving_module(model), extra, weights=model.weights)
        files = {**task_run.export_files(info), **export.run_file(cfg, self.assets)}
        content = export.Export(writer, info, files, export.weights_digest(model))
        if not self.role.is_chief:  # MultiWorkerMirroredStrategy: every worker takes part in saving
            export.take_part(content, run)
            return 0
        reused = export.published(content, run)
        location = reused or export.write_version(content, run)
        faults.point("export.done")
        self._optimize(location)
        summary = history.write(self._timing(progress), location, exported["epoch"])
        history.sinks.finish(summary)
        self.say(
            f"exported SavedModel to {location}"
            + (" (this run's, already published: not written again)" if reused else "")
        )
        return 0


def optimize_step(cfg, run, location: str, registry, say) -> str | None:
    """`optimizeQuantize`: after the export, the chief quantizes it (runtime/optimize.py) into
    <modelDir>/optimized/, scored on evalData, mirrored to the bucket with report.json last. Done
    once: a restart finds report.json and skips it; an interrupted attempt left a directory without
    it, which is this run's own (named exactly) and is replaced."""
    import shutil

    from trainers.runtime import optimize

    if not cfg.optimize_quantize:
        return None
    local = run.model_dir / "optimized"
    remote = storage.join(run.remote_model_dir, "optimized") if run.remote_model_dir else None
    done = storage.join(remote, "report.json") if remote else local / "report.json"
    if storage.exists(done):
        return str(remote or local)
    shutil.rmtree(local, ignore_errors=True)
    argv = ["--model", location, "--out", str(local), "--quantize", cfg.optimize_quantize]
    if cfg.eval_data:
        argv += ["--data", cfg.eval_data]
    code = optimize.main(argv, registry)
    if code:
        raise RunError(f"optimizeQuantize: optimizing the export {location} failed (exit {code}); see above")
    if remote:
        storage.upload_tree(local, remote, last=("report.json",))
    say(f"optimized the export into {remote or local} ({cfg.optimize_quantize})")
    # Size and quality per artifact as name=value, for Katib's StdOut collector (chief only).
    rows = json.loads((local / "report.json").read_text())["artifacts"]
    pairs = [f"{r['artifact']}_gzip_bytes={r['gzip_bytes']}" for r in rows]
    pairs += [f"{r['artifact']}_quality={r['quality']:.6g}" for r in rows if "quality" in r]
    print(" ".join(pairs), flush=True)
    return str(remote or local)


def _transient_tensorflow_error(exc: BaseException) -> bool:
    """A collective that failed because a peer went away: restart the group and resume."""
    if not type(exc).__module__.startswith("tensorflow"):
        return False
    import tensorflow as tf

    return isinstance(exc, tf.errors.UnavailableError | tf.errors.DeadlineExceededError | tf.errors.AbortedError)


def main(flag_values: dict[str, str], registry, environ=None, process_start: float | None = None) -> int:
    """Run training; returns the exit code. Tests call this in a subprocess."""
    process_start = time.monotonic() if process_start is None else process_start
    environ = os.environ if environ is None else environ
    try:
        cfg = keyset.load(flag_values, environ, registry)
        role = distribution.parse_tf_config(environ.get("TF_CONFIG"))
        cpu_replicas = distribution.cpu_replicas_from_env()
        task = registry.by_name(cfg.task_name)
        inputs = check_inputs(cfg, task, role)
        wait_for_peers(role, cfg.peer_timeout_seconds, _printer(role))
        strategy = distribution.create_strategy(role, cpu_replicas)
        trainer = Trainer(cfg, task, role, strategy, inputs, process_start)
        trainer.registry = registry  # the post-export optimize step rebuilds the model with it
        return trainer.run()
    except RunError as exc:
        return report(exc)
    except Exception as exc:
        if _transient_tensorflow_error(exc):
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            return report(TransientError(f"a collective operation failed, a peer is gone ({first})"))
        raise
