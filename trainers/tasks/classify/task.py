"""The classification task: configuration, data and assets (no TensorFlow at import).

Data lines are `label<TAB>text` (lines.py). The assets, fixed at a run's first start in
`vocab.json`, are the vocabulary and the label map, both from the training split.
"""

from __future__ import annotations

import json
from pathlib import Path

from trainers.runtime.errors import DataError
from trainers.runtime.task import Context, Task
from trainers.tasks.classify import keys, lines

SAMPLE_DIR = Path(__file__).resolve().parent / "sample_data"


class ClassifyTask(Task):
    name = "classify"
    model_types = keys.MODEL_TYPES
    keys = keys.KEYS
    assets_file = "vocab.json"
    best_metric = "val_accuracy"
    higher_is_better = True
    quality_metric = "accuracy"
    # Rebuilding a model from an export (optimize, initFrom) takes the weights from the export.
    rebuild_blank_keys = ("embeddingsFile",)

    def resolve_config(self, cfg):
        return keys.resolve(cfg)

    def sample_data(self, cfg) -> str:
        return str(SAMPLE_DIR / ("topics-multilabel.train.tsv" if cfg.multi_label else "topics.train.tsv"))

    def xla_default(self, cfg) -> bool:
        # Measured on CPU: XLA speeds capsule routing 2.8x and slows the Conv1D CNNs down.
        return cfg.model_type in keys.CAPSULE_MODELS

    def read_data(self, cfg, path: Path) -> lines.Examples:
        return lines.read_examples(path, cfg.multi_label, cfg.skip_bad_lines)

    def check_inputs(self, cfg, ctx: Context) -> None:
        if cfg.embeddings_file:
            from trainers.tasks.classify.embeddings import check_format

            check_format(ctx.fetch(cfg.embeddings_file), cfg.embedding_dim)

    def build_assets(self, cfg, train: lines.Examples) -> dict:
        from trainers.tasks.classify.text import build_vocabulary

        return {"vocabulary": build_vocabulary(train.texts, cfg.vocab_size), "labels": lines.label_names(train)}

    def check_assets(self, cfg, assets: dict, train: lines.Examples, evaluation: lines.Examples | None) -> None:
        from trainers.tasks.classify.text import RESERVED

        labels = assets["labels"]
        if len(labels) < 2:
            raise DataError(f"{train.path}: needs at least two labels, found {labels}")
        if len(assets["vocabulary"]) <= len(RESERVED):
            raise DataError(f"{train.path}: the texts hold no word to build a vocabulary from")
        lines.check_known_labels(train, labels)
        if evaluation is not None:
            lines.check_known_labels(evaluation, labels)

    def create(self, cfg, assets: dict, train, evaluation, ctx: Context):
        from trainers.tasks.classify.run import ClassifyRun

        return ClassifyRun(cfg, assets, train, evaluation, ctx)

    def predict(self, version_dir: Path, info: dict, texts: list[str], as_json: bool) -> str:
        from trainers.tasks.classify.serving import format_predictions, predict

        results = predict(version_dir, texts, info)
        return json.dumps(results, indent=2) if as_json else format_predictions(results)

    def evaluate_export(self, version_dir: Path, info: dict, data_path: Path) -> dict[str, float]:
        from trainers.tasks.classify.serving import score

        return score(version_dir, data_path, info)

    def predictor(self, version_dir: Path, info: dict):
        from trainers.tasks.classify.serving import predictor

        return predictor(version_dir, info)
