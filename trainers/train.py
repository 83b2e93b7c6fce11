"""`python -m trainers train`: one run, from configuration to exported SavedModel.

Order matters: configuration and TF_CONFIG are checked before TensorFlow starts, and the
distribution strategy is the first TensorFlow object created (collective ops must be configured
at program start). The run directory (local, or a scratch copy of a gs:// modelDir) holds

    checkpoints/   newest checkpoints (and the bucket's copy when modelDir is gs://)
    logs/          TensorBoard summaries
    vocab.json     vocabulary and label map, fixed at the first start so resumes agree
    metrics.json   per-epoch history, final metrics, timing
    export/<version>/   the SavedModel (under exportDir, which defaults to <modelDir>/export)

Exit codes: 0 done; 2 bad configuration or data (permanent, do not retry); 143 stopped by
SIGTERM after a checkpoint (retryable under the TFJob ExitCode restart policy, like a preemption).
"""

from __future__ import annotations

import math
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from trainers import config as config_lib
from trainers import distribution, lines, storage
from trainers.best_epoch import METRIC, BestEpoch
from trainers.reporting import Progress, katib_line, write_json_atomically

EXIT_BAD_INPUT = 2
EXIT_PREEMPTED = 143
BEST_WEIGHTS_FILE = "best.weights.h5"


class Run:
    """Where this process reads and writes."""

    def __init__(self, cfg: config_lib.TrainConfig, role: distribution.Role):
        self.remote_model_dir = cfg.model_dir if storage.is_gcs(cfg.model_dir) else None
        self.remote_export_dir = cfg.export_dir if storage.is_gcs(cfg.export_dir) else None
        scratch_root = Path(cfg.scratch_dir or tempfile.gettempdir()) / "textjobs" / cfg.run_name / role.name
        self.scratch = scratch_root
        self.model_dir = scratch_root / "run" if self.remote_model_dir else Path(cfg.model_dir)
        self.export_dir = scratch_root / "export" if self.remote_export_dir else Path(cfg.export_dir)
        self.checkpoints = self.model_dir / "checkpoints"
        self.logs = self.model_dir / "logs"
        self.vocab = self.model_dir / "vocab.json"
        self.metrics = self.model_dir / "metrics.json"
        self.best_weights = self.model_dir / BEST_WEIGHTS_FILE

    def remote(self, local: Path) -> str | None:
        """The bucket copy of a file of the run directory (None when the run is local)."""
        return storage.join(self.remote_model_dir, local.name) if self.remote_model_dir else None

    def pull(self, local: Path) -> bool:
        """Whether `local` (a file of the run directory) exists, fetched from the bucket's copy of
        the run when this pod's scratch space is new."""
        remote = self.remote(local)
        if not local.exists() and remote and storage.exists(remote):
            storage.download_file(remote, local)
        return local.exists()


def _say(role: distribution.Role, text: str) -> None:
    print(f"[{role.name}] {text}", flush=True)


def _prepare_data(cfg, run: Run, role):
    """Read data, fix vocabulary and labels (reusing the run's saved ones on resume)."""
    from trainers import text

    train = lines.read_examples(
        storage.fetch(cfg.train_data, run.scratch / "data"), cfg.multi_label, cfg.skip_bad_lines
    )
    evaluation = None
    if cfg.eval_data:
        evaluation = lines.read_examples(
            storage.fetch(cfg.eval_data, run.scratch / "data"), cfg.multi_label, cfg.skip_bad_lines
        )
    for part in (train, evaluation):
        if part is not None and part.skipped:
            _say(role, f"skipped {part.skipped} malformed lines in {part.path} (skipBadLines=true)")

    if run.pull(run.vocab):
        vocabulary, labels = text.load_vocabulary(run.vocab)
    else:
        vocabulary = text.build_vocabulary(train.texts, cfg.vocab_size)
        labels = lines.label_names(train)
        if role.is_chief:
            run.model_dir.mkdir(parents=True, exist_ok=True)
            text.save_vocabulary(run.vocab, vocabulary, labels)
            if run.remote_model_dir:
                storage.upload_file(run.vocab, run.remote(run.vocab))
    lines.check_known_labels(train, labels)
    if evaluation is not None:
        lines.check_known_labels(evaluation, labels)
    if len(labels) < 2:
        raise lines.DataError(f"{train.path}: needs at least two labels, found {labels}")
    return train, evaluation, vocabulary, labels


def train(cfg: config_lib.TrainConfig, role: distribution.Role, strategy, process_start: float) -> int:
    import numpy as np
    import tensorflow as tf

    from trainers import checkpoints, data, embeddings, export, loop, losses, metrics, text
    from trainers.models import LOSS_KIND, build_model

    run = Run(cfg, role)
    for uri in {
        u
        for u in (run.remote_model_dir, run.remote_export_dir, cfg.train_data, cfg.eval_data)
        if u and storage.is_gcs(u)
    }:
        storage.check_bucket(uri)
    train_examples, eval_examples, vocabulary, labels = _prepare_data(cfg, run, role)
    vectorizer = text.Vectorizer(vocabulary, cfg.max_length)
    targets = data.multi_hot(train_examples, labels)

    weights = None
    if cfg.embeddings_file:
        path = storage.fetch(cfg.embeddings_file, run.scratch / "data")
        weights, found = embeddings.load_embedding_matrix(path, vocabulary, cfg.embedding_dim, cfg.seed)
        _say(role, f"embeddings: {found}/{len(vocabulary) - 2} vocabulary words found in {cfg.embeddings_file}")

    if cfg.mixed_precision:
        import keras

        keras.mixed_precision.set_global_policy("mixed_float16")
    tf.keras.utils.set_random_seed(cfg.seed)
    with strategy.scope():
        model = build_model(cfg, len(vocabulary), len(labels), weights)
        optimizer = tf.keras.optimizers.Adam(cfg.learning_rate)
        if cfg.mixed_precision:
            optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
    step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    stop_flag = tf.Variable(0, dtype=tf.int32, trainable=False, name="stop_requested")
    store = checkpoints.CheckpointStore(
        # tf.train.Checkpoint does not walk a Keras 3 model's layers; list its weights
        # explicitly so non-trainable ones (frozen embeddings) are saved too.
        tf.train.Checkpoint(model_weights=list(model.weights), optimizer=optimizer, step=step_var),
        step_var,
        run.checkpoints,
        storage.join(run.remote_model_dir, "checkpoints") if run.remote_model_dir else None,
        role.is_chief,
        run.scratch,
    )
    restored = store.restore()
    step = int(step_var.numpy())
    global_batch = cfg.batch_size
    if global_batch % strategy.num_replicas_in_sync:
        raise config_lib.ConfigError(
            f"{cfg.sources.get('batchSize', 'batchSize')}: batchSize={global_batch} must be a multiple "
            f"of the {strategy.num_replicas_in_sync} replicas"
        )
    spe = data.steps_per_epoch(len(train_examples), global_batch)
    total = cfg.train_steps or cfg.num_epochs * spe
    epochs = math.ceil(total / spe)
    say = (lambda msg: _say(role, msg)) if role.is_chief else (lambda msg: None)
    say(
        f"{cfg.model_type}: {model.count_params():,} parameters, {strategy.num_replicas_in_sync} replica(s) "
        f"on {role.num_workers} worker(s), {len(train_examples)} examples, {len(labels)} labels, "
        f"{spe} steps/epoch, {total} steps"
    )
    if restored:
        say(f"resumed from {restored} at step {step} (epoch {step // spe + 1})")

    loss_fn = losses.per_example_loss(cfg, LOSS_KIND[cfg.model_type])
    stop_requested = []
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.append(True))
    runner = loop.StepRunner(
        strategy,
        model,
        optimizer,
        loss_fn,
        global_batch,
        cfg.multi_label,
        cfg.threshold,
        stop_flag,
        cfg.xla,
        cfg.mixed_precision,
    )
    writer = tf.summary.create_file_writer(str(run.logs)) if role.is_chief else tf.summary.create_noop_writer()
    history = _load_history(run) if restored else []
    best = BestEpoch(run, cfg.export_best and role.is_chief, history)
    progress = Progress(total, global_batch, cfg.log_every, step, say)
    first_step_seconds = None
    texts = np.array(train_examples.texts, dtype=object)
    eval_targets = data.multi_hot(eval_examples, labels) if eval_examples else None
    predictor = loop.Predictor(model)
    eval_batches = data.eval_dataset(eval_examples.texts, vectorizer) if eval_examples else None

    def evaluate(scores) -> dict[str, float]:
        found = metrics.evaluate(eval_targets, scores, cfg.multi_label, cfg.threshold)
        return {"val_loss": float(np.mean(loss_fn(eval_targets, scores))), **{f"val_{k}": v for k, v in found.items()}}

    while step < total:
        epoch = step // spe
        epoch_end = min((epoch + 1) * spe, total)
        iterator = iter(
            strategy.distribute_datasets_from_function(
                data.train_dataset_fn(texts, targets, vectorizer, global_batch, cfg.seed, epoch, step - epoch * spe)
            )
        )
        loss_sum = correct_sum = 0.0
        steps_in_epoch = 0
        while step < epoch_end:
            if stop_requested and not int(stop_flag.numpy()):
                stop_flag.assign(1)
            loss, correct, stop_votes = (float(v) for v in runner.step(iterator).numpy())
            step += 1
            steps_in_epoch += 1
            step_var.assign(step)
            if first_step_seconds is None:
                first_step_seconds = time.monotonic() - process_start
            loss_sum += loss
            correct_sum += correct
            progress.step_done(step, loss, epoch + 1, epochs)
            if stop_votes > 0:
                store.save(step)
                say(f"SIGTERM: saved checkpoint at step {step}; exiting with {EXIT_PREEMPTED} to be restarted")
                return EXIT_PREEMPTED
            if step % cfg.checkpoint_every == 0 and step != epoch_end:
                store.save(step)
        epoch_metrics = {
            "loss": loss_sum / steps_in_epoch,
            "accuracy": correct_sum / (steps_in_epoch * global_batch),
        }
        if role.is_chief and eval_examples is not None:
            epoch_metrics.update(evaluate(predictor(eval_batches).numpy()))
        row = {"epoch": epoch + 1, "step": step, **epoch_metrics}
        best.offer(model, row)  # before the checkpoint: a resumed run never outruns its best file
        store.save(step)
        if role.is_chief:
            history.append(row)
            _report_epoch(writer, history[-1])
            _write_metrics(run, cfg, history, progress, first_step_seconds, export_path=None)

    if not history:  # restarted after the last step: nothing left to train
        history = _load_history(run)
    last_epoch = history[-1]["epoch"] if history else None
    chosen = best.restore(model)
    if chosen:
        which = "the last epoch" if chosen["epoch"] == last_epoch else f"not the last ({last_epoch})"
        say(f"exportBest: exporting epoch {chosen['epoch']} ({METRIC}={chosen[METRIC]:.4f}), {which}")
    elif best.enabled:
        say("exportBest: no best-epoch weights found; exporting the last epoch")
    exported = chosen or {"epoch": last_epoch, "step": step}
    export_metadata = {
        "model_type": cfg.model_type,
        "run_name": cfg.run_name,
        "step": exported["step"],
        "epoch": exported["epoch"],
    }
    location = export.export(
        model,
        vectorizer,
        labels,
        cfg.multi_label,
        cfg.threshold,
        run.export_dir if role.is_chief else run.scratch / "worker-export",
        run.remote_export_dir if role.is_chief else None,
        export_metadata,
    )
    if not role.is_chief:
        return 0
    _write_metrics(run, cfg, history, progress, first_step_seconds, location, export_metadata["epoch"])
    say(f"exported SavedModel to {location}")
    return 0


def _report_epoch(writer, row: dict) -> None:
    """The Katib line on stdout and the TensorBoard scalars for one finished epoch."""
    import tensorflow as tf

    values = {k: v for k, v in row.items() if k not in ("epoch", "step")}
    print(katib_line(row["epoch"], values), flush=True)
    with writer.as_default():
        for name, value in values.items():
            tf.summary.scalar(name, value, step=row["step"])
    writer.flush()


def _load_history(run: Run) -> list[dict]:
    """Earlier epochs' metrics, from the bucket when this pod's scratch space is new."""
    import json

    return json.loads(run.metrics.read_text()).get("history", []) if run.pull(run.metrics) else []


def _write_metrics(
    run: Run, cfg, history, progress: Progress, first_step_seconds, export_path, export_epoch=None
) -> None:
    summary = {
        "run_name": cfg.run_name,
        "model_type": cfg.model_type,
        "history": history,
        "final": history[-1] if history else {},
        "timing": {**progress.summary(), "seconds_to_first_step": first_step_seconds},
        "export": export_path,
        "export_epoch": export_epoch,
    }
    run.model_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomically(run.metrics, summary)
    if run.remote_model_dir:
        storage.upload_file(run.metrics, run.remote(run.metrics))


def main(flag_values: dict[str, str], environ=None, process_start: float | None = None) -> int:
    """Run training; returns the exit code. Tests call this in a subprocess."""
    process_start = time.monotonic() if process_start is None else process_start
    environ = os.environ if environ is None else environ
    try:
        cfg = config_lib.load(flag_values, environ)
        role = distribution.parse_tf_config(environ.get("TF_CONFIG"))
        cpu_replicas = distribution.cpu_replicas_from_env()
    except (config_lib.ConfigError, distribution.ClusterError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    strategy = distribution.create_strategy(role, cpu_replicas)
    try:
        return train(cfg, role, strategy, process_start)
    except (config_lib.ConfigError, lines.DataError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    except storage.StorageError as exc:
        print(f"error: storage: {exc}", file=sys.stderr, flush=True)
        return 1
