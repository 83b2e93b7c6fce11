"""`python -m trainers optimize --model EXPORT --out DIR [--quantize dynamic,float16,int8] [--data FILE]`:
post-training quantization of an export to TFLite, and the size / latency / quality report.

1. The export's model is rebuilt live (rebuild.py: configuration, assets and weights from the
   export alone) and the task's lite signatures (the model without tokenization) are converted
   once per mode: always `float`, then each requested quantization (runtime/lite/convert.py, which
   refuses the known traps with the model and the reason).
2. Each result is a version directory of kind `tflite`: `DIR/<mode>/` with `model.tflite`, the run
   file (vocabularies, labels: tokenization runs outside the TFLite graph) and the task's files
   beside the SavedModel; `textjobs.json` is written last and the directory renamed into place.
   `predict` and `evaluate` take it like any export.
3. The report (optimize_report.py) measures the source SavedModel and every .tflite: bytes, gzip
   bytes, batch-1 latency p50/p90 and batch-32 throughput (raw text in, answer out, tokenization
   included for both kinds), and the task's quality metric on --data with its change from the
   SavedModel; written as report.md, report.json and report.png in DIR, and printed.

DIR must be new or empty: optimize never replaces files it did not write.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from trainers.runtime import storage
from trainers.runtime.artifacts import EXPORT_INFO, SAVED_MODEL, TFLITE
from trainers.runtime.errors import DataError, RunError, report
from trainers.runtime.export import RUN_FILE
from trainers.runtime.lite.convert import MODES, ConversionError, check_int8, check_weights, convert
from trainers.runtime.lite.runner import LITE_FILE
from trainers.runtime.predict import opened_export

CALIBRATION_EXAMPLES = 64  # representative examples; a seq2seq example adds one sample per summary token
_SAVED_MODEL_PARTS = ("saved_model.pb", "variables", "assets", "fingerprint.pb", EXPORT_INFO)


def parse_modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown quantization {unknown}; choose from {', '.join(MODES[1:])}")
    return modes


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainers optimize", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="export root or version directory (local or bucket)")
    p.add_argument("--out", required=True, help="new or empty local directory for the .tflite versions and the report")
    p.add_argument(
        "--quantize",
        type=parse_modes,
        default=["dynamic", "float16"],
        help="comma-separated: dynamic (int8 weights), float16, int8 (calibrated on --data); float is always made",
    )
    p.add_argument(
        "--data", default="", help="labelled file in the task's format: quality, latency inputs, int8 calibration"
    )
    p.add_argument("--calibration", type=int, default=CALIBRATION_EXAMPLES, help="examples int8 calibrates on")
    p.add_argument("--latency-runs", type=int, default=30, help="timed batch-1 calls per artifact")
    return p


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunError(f"--out {out}: exists and is not an empty directory; optimize writes only into a new one")


def _write_version(out: Path, mode: str, content: bytes, version_dir: Path, info: dict, source: str) -> Path:
    final, staging = out / mode, out / f".tmp-{mode}"
    shutil.rmtree(staging, ignore_errors=True)  # ours: a staging name inside our own new --out
    staging.mkdir(parents=True)
    (staging / LITE_FILE).write_bytes(content)
    for item in version_dir.iterdir():  # the task's files beside the SavedModel (labels, run file)
        if item.is_file() and item.name not in _SAVED_MODEL_PARTS:
            shutil.copy2(item, staging / item.name)
    lite_info = {**info, "artifact": TFLITE.name, "quantization": mode, "source": source}
    (staging / EXPORT_INFO).write_text(json.dumps(lite_info, indent=2))  # last: complete with it
    staging.rename(final)
    return final


def _read_data(task, cfg, data: str, cache: Path):
    if not data:
        return None, None
    path = storage.fetch(data, cache / "data")
    return path, task.read_eval_data(cfg, path)


def convert_all(rebuilt, modes: list[str], data, calibration: int, say) -> dict[str, bytes]:
    name = f"{rebuilt.cfg.model_type} ({rebuilt.task.name})"
    functions = rebuilt.run.lite_signatures(rebuilt.model)
    if not functions:
        raise ConversionError(f"{name}: the task offers no signature to convert (lite_signatures)")
    parameters = int(rebuilt.model.count_params())
    converted: dict[str, bytes] = {}
    float_ops: set[str] = set()
    for mode in ["float", *[m for m in modes if m != "float"]]:
        representative = None
        if mode == "int8":
            check_int8(name, float_ops)
            if data is None:
                raise ConversionError(f"{name}: int8 calibrates on representative data: give --data")

            def representative(run=rebuilt.run, model=rebuilt.model):
                return run.lite_calibration(model, data, calibration)

        content = convert(name, rebuilt.model, functions, mode, representative)
        ops = check_weights(name, content, parameters, mode)
        if mode == "float":
            float_ops = ops
        converted[mode] = content
        say(f"{mode}: {len(content):,} bytes, {len(ops)} kinds of ops")
    return converted


def main(argv: list[str], registry) -> int:
    args = parser().parse_args(argv)
    out = Path(args.out)
    try:
        _check_out(out)
        from trainers.runtime.optimize_report import measure_all, write_report
        from trainers.runtime.rebuild import rebuild

        with opened_export(args.model, registry) as (version_dir, task, info, cache):
            if info.get("artifact") != SAVED_MODEL.name:
                raise RunError(
                    f"{args.model}: optimize starts from a SavedModel export, this is {info.get('artifact')!r}"
                )
            say = lambda text: print(f"[optimize] {text}", flush=True)  # noqa: E731
            rebuilt = rebuild(version_dir, registry, say)
            data_path, data = _read_data(task, rebuilt.cfg, args.data, cache)
            if data is not None and not len(data):
                raise DataError(f"{args.data}: no examples")
            converted = convert_all(rebuilt, args.quantize, data, args.calibration, say)
            out.mkdir(parents=True, exist_ok=True)
            artifacts = [("saved_model", version_dir, info)]
            for mode, content in converted.items():
                directory = _write_version(out, mode, content, version_dir, info, args.model)
                artifacts.append((mode, directory, json.loads((directory / EXPORT_INFO).read_text())))
            rows = measure_all(task, rebuilt.cfg, artifacts, data_path, data, args.latency_runs, say)
            text = write_report(out, rows, task, str(args.model))
            print(text, flush=True)
    except RunError as exc:
        return report(exc)
    return 0


__all__ = ["main", "RUN_FILE"]
