"""The run directory: what interrupted writes leave is recognised and cleaned, nothing else."""

from types import SimpleNamespace

from trainers.runtime.rundir import Run, is_leftover

LEFTOVERS = [
    "checkpoints/ckpt-10_temp/part-00000-of-00001.data-00000-of-00001",  # TensorFlow's sharded save
    "checkpoints/checkpoint.tmp3f2a9c",  # TensorFlow's atomic write of the state file
    "checkpoints/.tmp-remote-state/checkpoint",
    "export/.tmp-1795538000/saved_model.pb",  # an export staged but never renamed
    "metrics.json.tmp",
    ".tmp-best.weights.h5",
    "data/bucket/train.tsv.partial",
]
KEPT = [
    "checkpoints/checkpoint",
    "checkpoints/ckpt-5.index",
    "checkpoints/ckpt-5.data-00000-of-00001",
    "export/1795538000/saved_model.pb",
    "export/1795538000/variables/variables.index",
    "metrics.json",
    "vocab.json",
    "best.weights.h5",
    "logs/events.out.tfevents.1795538000.host.123.0.v2",
    "notes.tmpl",
]


def test_leftover_names():
    assert all(any(is_leftover(part) for part in name.split("/")) for name in LEFTOVERS)
    assert not any(is_leftover(part) for name in KEPT for part in name.split("/"))


def test_clean_leftovers_removes_exactly_the_interrupted_writes(tmp_path):
    for name in LEFTOVERS + KEPT:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    cfg = SimpleNamespace(model_dir=str(tmp_path), export_dir=str(tmp_path / "export"), scratch_dir="", run_name="r")
    removed = Run(cfg, "local", "vocab.json").clean_leftovers()
    assert removed
    remaining = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert remaining == sorted(KEPT)
