"""The runtime's configuration keys: what every task's run has (data, run directory, schedule,
checkpoints, distribution). Task keys live in each task package.

Keys are camelCase because they are Kubernetes ConfigMap keys and, through envFrom, environment
variable names; flags use the same names. Every size is bounded by what can run.
"""

from __future__ import annotations

import re

from trainers.runtime import storage
from trainers.runtime.config import (
    Config,
    ConfigError,
    Key,
    between,
    one_of,
    open_unit,
    parse_auto_bool,
    parse_bool,
    parse_float,
    parse_int,
    parse_str,
)
from trainers.runtime.reporting.tracking.keys import tracking_uri

# Run names are TFJob names, which the policy allows up to 50 characters (pod names add a
# replica suffix); a Katib trial adds 9 to its experiment name. 63 is the DNS label limit.
MAX_RUN_NAME = 63
RUN_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
S3_ENDPOINT = re.compile(r"^https?://[A-Za-z0-9.\[\]:-]+/?$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "warmup-rsqrt", "cosine")
# numpy and TensorFlow seeds are unsigned 32-bit; int32 keeps every consumer happy.
MAX_SEED = 2**31 - 1


def _learning_rate(value):
    return None if 0.0 < value <= 10.0 else "must be in (0, 10]"


def _run_name(value):
    if RUN_NAME.match(value) and len(value) <= MAX_RUN_NAME:
        return None
    return f"must be lower-case DNS-1035 (letters, digits, '-'), start with a letter, <= {MAX_RUN_NAME} chars"


def _bucket(value):
    scheme, _, name = storage.bucket_root(value).rpartition("://")
    if value == "" or (scheme in storage.schemes() and BUCKET_NAME.match(name)):
        return None
    schemes = ", ".join(f"{s}://NAME" for s in storage.schemes())
    return f"is not a valid bucket name (NAME or {schemes}; lower-case letters, digits, '-', '_', '.'; 3-63 chars)"


def parse_prune_layers(text: str) -> str:
    from trainers.runtime.training.pruning import parse_layers

    return ",".join(parse_layers(text))


def _quantize_modes(value):
    modes = [m.strip() for m in value.split(",") if m.strip()]
    unknown = [m for m in modes if m not in ("float", "dynamic", "float16", "int8")]
    return f"unknown modes {unknown}; choose from dynamic, float16, int8" if unknown else None


KEYS: dict[str, Key] = {
    # The default model type comes from the task registry (trainers/tasks).
    "modelType": Key(parse_str, "", "the model; it selects the task (classify, ...)"),
    "learningRate": Key(parse_float, "0.001", "learning rate (the peak, with a schedule)", _learning_rate),
    # The optimizer and its schedule (training/optimizer.py); the defaults are Adam(learningRate).
    "optimizer": Key(parse_str, "adam", "adam or adamw (decoupled weight decay)", one_of(OPTIMIZERS)),
    "weightDecay": Key(parse_float, "0.004", "adamw's decoupled weight decay", between(0.0, 1.0)),
    "adamBeta1": Key(parse_float, "0.9", "Adam beta_1", open_unit),
    "adamBeta2": Key(parse_float, "0.999", "Adam beta_2", open_unit),
    "adamEpsilon": Key(parse_float, "1e-07", "Adam epsilon", between(1e-12, 1.0)),
    "learningRateSchedule": Key(
        parse_str,
        "constant",
        "constant; warmup-rsqrt (linear warm-up to learningRate at warmupSteps, then inverse square root); "
        "cosine (optional warm-up, then cosine decay to minLearningRate)",
        one_of(SCHEDULES),
    ),
    "warmupSteps": Key(parse_int, "0", "steps of linear warm-up (warmup-rsqrt needs > 0)", between(0, 10**9)),
    "minLearningRate": Key(parse_float, "0", "cosine: the rate at the last step", between(0.0, 10.0)),
    "gradientClipNorm": Key(
        parse_float, "0", "clip the global batch's gradient to this global norm; 0 = off", between(0.0, 1e6)
    ),
    "batchSize": Key(parse_int, "32", "global batch size, split over all replicas", between(1, 65536)),
    "numEpochs": Key(parse_int, "5", "passes over the training data", between(1, 100_000)),
    "trainSteps": Key(parse_int, "0", "total steps; 0 means numEpochs epochs", between(0, 10**9)),
    "trainData": Key(parse_str, "", "training file (local, gs:// or s3://); empty: the task's bundled sample"),
    "evalData": Key(parse_str, "", "evaluation file (local, gs:// or s3://); empty: trainData with .train. -> .eval."),
    "skipBadLines": Key(parse_bool, "false", "skip malformed data lines and report the count"),
    "bucket": Key(parse_str, "", "bucket for modelDir/exportDir defaults (NAME or gs://NAME, s3://NAME)", _bucket),
    "s3Endpoint": Key(
        parse_str,
        "",
        "s3:// server, e.g. http://minio.storage:9000 (components/s3-credentials sets it from its Secret); "
        "empty: AWS_ENDPOINT_URL, else AWS",
        lambda v: None if v == "" or S3_ENDPOINT.match(v) else "must be http(s)://host[:port]",
    ),
    "modelDir": Key(parse_str, "", "run directory (local, gs:// or s3://); empty: runs/<runName>"),
    "exportDir": Key(parse_str, "", "SavedModel export root; empty: <modelDir>/export"),
    "runName": Key(parse_str, "local", "name of this training run", _run_name),
    "exportBest": Key(
        parse_bool, "false", "export the epoch with the best validation score, not the last (needs evalData)"
    ),
    "checkpointEvery": Key(parse_int, "100", "steps between checkpoints", between(1, 10**9)),
    "evalEvery": Key(
        parse_int,
        "0",
        "steps between validations (each a row, a Katib line and a checkpoint); 0 = once per epoch",
        between(0, 10**9),
    ),
    "logEvery": Key(parse_int, "20", "steps between progress lines", between(1, 10**9)),
    "seed": Key(parse_int, "42", "seed for initialisation, dropout and shuffling", between(0, MAX_SEED)),
    "mixedPrecision": Key(parse_bool, "false", "float16 compute with loss scaling (GPUs)"),
    "xla": Key(parse_auto_bool, "auto", "XLA-compile the step; auto: the task decides per model"),
    "scratchDir": Key(parse_str, "", "local working directory when modelDir is in a bucket"),
    "maxStartsWithoutProgress": Key(
        parse_int,
        "5",
        "fail for good (exit 4) after this many starts in a row from the same checkpoint; 0 = no limit",
        between(0, 1000),
    ),
    # Tracking (reporting/tracking/): off unless trackingUri is set; never fails or stalls the run.
    "trackingUri": Key(parse_str, "", "MLflow tracking server (http[s]://host:port); empty: no tracking", tracking_uri),
    "trackingExperiment": Key(parse_str, "", "MLflow experiment; empty: derived from runName (the overlay)"),
    "trackingTimeoutSeconds": Key(parse_float, "10", "tracking: timeout of one request", between(0.1, 600)),
    "trackingFinishSeconds": Key(
        parse_float, "30", "tracking: how long a run's end waits for the backlog", between(0, 3600)
    ),
    "initFrom": Key(
        parse_str,
        "",
        "fine-tune: start from this export (root or version) or run directory's weights and assets (local or bucket)",
    ),
    "optimizeQuantize": Key(
        parse_str,
        "",
        "after the export, quantize it to TFLite (comma-separated: dynamic, float16, int8) with a report in "
        "<modelDir>/optimized; empty = off",
        _quantize_modes,
    ),
    # Magnitude pruning (training/pruning.py), for every task.
    "pruneSparsity": Key(
        parse_float,
        "0",
        "fraction of each pruned kernel zeroed by pruneEndStep (cubic schedule); 0 = off",
        between(0.0, 0.99),
    ),
    "pruneBeginStep": Key(parse_int, "0", "step at which pruning starts", between(0, 10**9)),
    "pruneEndStep": Key(
        parse_int, "0", "step at which pruneSparsity is reached; 0 = the run's last step", between(0, 10**9)
    ),
    "pruneEvery": Key(parse_int, "50", "steps between mask updates while pruning", between(1, 10**9)),
    "pruneLayers": Key(
        parse_prune_layers,
        "dense,conv,embedding,recurrent",
        "kernels pruned, by layer type (never biases or normalization)",
    ),
    "peerTimeoutSeconds": Key(
        parse_int,
        "600",
        "multi-worker: give up (retryable exit 200) when a peer has not joined after this long",
        between(1, 86_400),
    ),
}


PRUNE_KEYS = ("pruneBeginStep", "pruneEndStep", "pruneEvery", "pruneLayers")


def _check_pruning(cfg: Config) -> None:
    """Prune keys without pruneSparsity are a mistake; an explicit pruneSparsity=0 is a baseline
    (a Katib search over the sparsity includes it) and may keep them."""
    if cfg.prune_sparsity > 0 or cfg.sources.get("pruneSparsity", "default") != "default":
        return
    for key in PRUNE_KEYS:
        if cfg.sources.get(key, "default") != "default":
            raise cfg.error(key, "applies only with pruneSparsity > 0")


def resolve(cfg: Config, task) -> Config:
    """Fill the defaults that depend on other keys, and check keys against each other."""
    bucket = storage.bucket_root(cfg.bucket)  # gs://NAME unless it names another scheme
    model_dir = cfg.model_dir or (f"{bucket}/runs/{cfg.run_name}" if bucket else f"runs/{cfg.run_name}")
    export_dir = cfg.export_dir or f"{model_dir.rstrip('/')}/export"
    train_data = cfg.train_data or task.sample_data(cfg)
    eval_data = cfg.eval_data
    if not eval_data:  # x.train.tsv is evaluated on x.eval.tsv unless evalData says otherwise
        derived = train_data.replace(".train.", ".eval.")
        eval_data = derived if derived != train_data else ""
    if cfg.export_best and not eval_data:
        raise ConfigError(f"{cfg.sources['exportBest']}: exportBest='true' needs evalData to choose the best epoch")
    xla = task.xla_default(cfg) if cfg.xla is None else cfg.xla
    _check_optimizer(cfg)
    _check_pruning(cfg)
    return cfg.replace(model_dir=model_dir, export_dir=export_dir, train_data=train_data, eval_data=eval_data, xla=xla)


def _check_optimizer(cfg: Config) -> None:
    if cfg.learning_rate_schedule == "warmup-rsqrt" and cfg.warmup_steps == 0:
        raise cfg.error("warmupSteps", "must be > 0 with learningRateSchedule=warmup-rsqrt")
    if cfg.learning_rate_schedule == "cosine" and cfg.min_learning_rate >= cfg.learning_rate:
        raise cfg.error("minLearningRate", f"must be below learningRate={cfg.learning_rate!r} for a cosine decay")
    if cfg.optimizer != "adamw" and cfg.sources.get("weightDecay", "default") != "default":
        raise cfg.error("weightDecay", "applies to optimizer=adamw only (Adam has no decoupled decay)")
