"""A live Keras model from an export: the run's configuration and assets from `textjobs-run.json`,
the model built by the task exactly as training built it, its weights read from the SavedModel's
variables.

TFLite conversion needs the live model (the SavedModel's restored functions convert without their
weights, or not at all for recurrent layers: platform facts), and so does `initFrom`. Exports
made before `textjobs-run.json` existed cannot be rebuilt; the error says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from trainers.runtime import keyset
from trainers.runtime.errors import RunError
from trainers.runtime.export import RUN_FILE
from trainers.runtime.task import Context


@dataclass
class Rebuilt:
    task: object
    cfg: object
    assets: dict
    run: object  # the TaskRun
    model: object


def read_run_file(version_dir: Path) -> dict:
    path = Path(version_dir) / RUN_FILE
    if not path.exists():
        raise RunError(
            f"{version_dir}: no {RUN_FILE} (an export from before it existed): the model cannot be rebuilt; "
            "export it again with this trainer"
        )
    try:
        found = json.loads(path.read_text())
        return {"config": dict(found["config"]), "assets": dict(found["assets"])}
    except (ValueError, KeyError, TypeError) as exc:
        raise RunError(f"{path}: unreadable ({exc})") from None


def key_value(config: dict, keys: dict, name: str):
    """One key of a textjobs-run.json config, parsed, or its default: enough for a reader that
    only tokenizes (a .tflite's task) and has no registry at hand."""
    return keys[name].parse(config.get(name, keys[name].default))


def export_config(version_dir: Path, registry):
    """(cfg, assets) of the run that made the export; input files it no longer needs are blanked."""
    found = read_run_file(version_dir)
    config = found["config"]
    task = registry.for_model_type(config.get("modelType", ""))
    for key in getattr(task, "rebuild_blank_keys", ()):
        config[key] = ""
    # The run's own data and directories are not read; keep them from steering anything.
    for key in ("trainData", "evalData", "modelDir", "exportDir", "bucket"):
        config.pop(key, None)
    cfg = keyset.parse_values([(str(Path(version_dir) / RUN_FILE), config)], registry)
    return cfg, found["assets"]


def weight_values(version_dir: Path) -> dict[str, object]:
    """Every variable the SavedModel holds, by its checkpoint name."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(Path(version_dir) / "variables" / "variables"))
    return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map() if n.endswith("VARIABLE_VALUE")}


def restore_weights(model, version_dir: Path) -> None:
    """Read the export's weights into `model`, one for one by position (the export tracks them as
    the serving module's `model_weights` list, artifacts.SavedModelWriter); a count or shape
    that differs is an error naming the weight."""
    import tensorflow as tf

    saved = Path(version_dir) / "variables" / "variables"
    reader = tf.train.load_checkpoint(str(saved))
    shapes = reader.get_variable_to_shape_map()
    count = sum(1 for n in shapes if n.startswith("model_weights/"))
    if count == 0:
        raise RunError(f"{version_dir}: the export does not list its weights (model_weights); export it again")
    weights = list(model.weights)
    if count != len(weights):
        raise RunError(f"{version_dir}: the export holds {count} weights, the rebuilt model {len(weights)}")
    checkpoint = tf.train.Checkpoint(model_weights=weights)
    for i, weight in enumerate(weights):
        key = f"model_weights/{i}/.ATTRIBUTES/VARIABLE_VALUE"
        if key in shapes and tuple(shapes[key]) != tuple(weight.shape):
            raise RunError(
                f"{version_dir}: weight {i} ({weight.path}) has shape {tuple(shapes[key])} in the export, {tuple(weight.shape)} in the model"
            )
    checkpoint.read(str(saved)).expect_partial().assert_existing_objects_matched()


def rebuild(version_dir: Path, registry, say=lambda text: None) -> Rebuilt:
    import tensorflow as tf

    cfg, assets = export_config(version_dir, registry)
    task = registry.by_name(cfg.task_name)

    def no_fetch(uri: str) -> Path:
        raise RunError(f"{version_dir}: rebuilding the model would read {uri}; the export should not need it")

    run = task.create(cfg, assets, None, None, Context(fetch=no_fetch, say=say))
    tf.keras.utils.set_random_seed(cfg.seed)
    model = run.build_model()
    restore_weights(model, version_dir)
    return Rebuilt(task, cfg, assets, run, model)
