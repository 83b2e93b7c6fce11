"""The trainer image without Docker (scripts/image/): the OCI archive, the code layer, the cache keys,
the digest pin the release workflow writes, and which engine `make image` picks.

The base layer (mmdebstrap, minutes) and containerd's import of the whole image are exercised for
real by tests/test_real_node.py, whose pods run this image.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

from scripts.image import base_layer, code_layer, dockerfile, engine, local, oci, pin
from scripts.manifests import KUSTOMIZE, ROOT


def _layer(tmp_path, name: str, files: dict[str, bytes]) -> oci.Layer:
    path = tmp_path / f"{name}.tar"
    with tarfile.open(path, "w") as tar:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return oci.layer_of(path)


def test_the_oci_archive_addresses_every_blob_by_its_digest(tmp_path):
    layers = [_layer(tmp_path, "base", {"etc/os-release": b"bookworm"}), _layer(tmp_path, "code", {"app/x": b"1"})]
    runtime = local.runtime()
    out = io.BytesIO()
    oci.write_archive(out, "registry.example/trainer:1.0", layers, runtime)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        blobs = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert json.loads(blobs["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    [entry] = json.loads(blobs["index.json"])["manifests"]
    assert entry["annotations"]["io.containerd.image.name"] == "registry.example/trainer:1.0"
    for name, data in blobs.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1], f"{name} is not its own digest"
    manifest = json.loads(blobs[f"blobs/sha256/{entry['digest'][7:]}"])
    assert [layer["digest"] for layer in manifest["layers"]] == [layer.digest for layer in layers]
    config = json.loads(blobs[f"blobs/sha256/{manifest['config']['digest'][7:]}"])
    assert config["rootfs"]["diff_ids"] == [layer.digest for layer in layers]
    assert config["config"]["Entrypoint"] == ["python", "-m", "trainers", "train"]
    assert oci.manifest_digest("registry.example/trainer:1.0", layers, runtime) == entry["digest"]
    again = io.BytesIO()
    oci.write_archive(again, "registry.example/trainer:1.0", layers, runtime)
    assert again.getvalue() == out.getvalue(), "the same inputs must give the same archive"


def test_the_local_image_runs_what_the_dockerfile_declares():
    runtime = local.runtime()
    tfjob = yaml.safe_load((ROOT / "base" / "tfjob.yaml").read_text())
    [container] = tfjob["spec"]["tfReplicaSpecs"]["Chief"]["template"]["spec"]["containers"]
    assert runtime.entrypoint == container["command"]
    assert runtime.user == "1000:1000" and runtime.workdir == "/app"
    assert runtime.env["PATH"].startswith("/opt/venv/bin:")
    assert runtime.env["PYTHONUNBUFFERED"] == "1" and runtime.env["TF_CPP_MIN_LOG_LEVEL"] == "2"
    assert local.image_name() == "ghcr.io/example/textjobs-trainer:0.1.0"  # what base/kustomization.yaml names


def test_a_dockerfile_the_reader_cannot_follow_is_named_with_its_line(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text("FROM x\nUSER 1000\nWORKDIR /app\n\nENTRYPOINT python -m trainers\n")
    with pytest.raises(dockerfile.DockerfileError, match=r"Dockerfile:5: ENTRYPOINT must be the exec form"):
        dockerfile.runtime_of(path)
    path.write_text('FROM x\nENV A\nUSER 1\nWORKDIR /\nENTRYPOINT ["a"]\n')
    with pytest.raises(dockerfile.DockerfileError, match=r"Dockerfile:2: ENV needs key=value"):
        dockerfile.runtime_of(path)


@pytest.mark.slow
def test_the_code_layer_is_the_installed_package_and_the_app_and_is_reproducible(tmp_path):
    first = code_layer.build(tmp_path / "one.tar")
    second = code_layer.build(tmp_path / "two.tar")
    assert first.digest == second.digest, "the same sources must give the same layer"
    with tarfile.open(first.path) as tar:
        members = {m.name: m for m in tar.getmembers()}
        site = code_layer.SITE_PACKAGES
        script = tar.extractfile(members["opt/venv/bin/textjobs-train"]).read().decode()
        tar.extractall(tmp_path / "root", filter="data")
    assert f"{site}/trainers/__main__.py" in members and "app/trainers/__main__.py" in members
    assert "app/pyproject.toml" in members and "app/constraints.txt" in members
    samples = {
        name.rsplit("/", 1)[1] for name in members if name.startswith(f"{site}/trainers") and name.endswith(".tsv")
    }
    assert "topics.train.tsv" in samples and "headlines.train.tsv" in samples
    assert any(name.endswith(".dist-info/METADATA") for name in members)
    assert not [name for name in members if "__pycache__" in name]
    assert {(m.uid, m.gid) for m in members.values()} == {(0, 0)}
    assert script.startswith("#!/opt/venv/bin/python\n") and members["opt/venv/bin/textjobs-train"].mode == 0o755
    # The layer's package is complete: it imports from the layer alone (dependencies from this venv).
    probe = "import importlib.metadata as m, trainers.tasks; print(m.version('textjobs-trainers'), trainers.__file__)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "root" / site)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("0.1.0 ") and str(tmp_path / "root") in result.stdout


def _copy_inputs(target):
    for name in ("pyproject.toml", "constraints.txt", "README.md"):
        shutil.copy(ROOT / name, target / name)
    shutil.copytree(ROOT / "trainers", target / "trainers", ignore=shutil.ignore_patterns("__pycache__"))


def test_the_base_layer_is_keyed_by_the_dependencies_and_the_code_layer_by_the_sources(tmp_path):
    _copy_inputs(tmp_path)
    base, code = base_layer.base_key(tmp_path), code_layer.code_key("base", tmp_path)
    (tmp_path / "trainers" / "runtime" / "config.py").write_text("# changed\n", encoding="utf-8")
    assert base_layer.base_key(tmp_path) == base, "a code change must not rebuild the base layer"
    assert code_layer.code_key("base", tmp_path) != code
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(constraints.read_text().replace("absl-py==2.5.1", "absl-py==2.5.0"))
    assert base_layer.base_key(tmp_path) != base, "a new lock must rebuild the base layer"
    assert base_layer.requirements(ROOT / "pyproject.toml")[-2:] == ["tensorflow-cpu==2.21.0", "keras==3.15.1"]


DIGEST = "sha256:" + "ab" * 32


def test_pin_writes_the_pushed_digest_into_the_base_and_kustomize_renders_it(tmp_path):
    from tests.test_policy_overlays import copy_repository

    copy_repository(tmp_path)
    target = tmp_path / "base" / "kustomization.yaml"
    before = target.read_text()
    pin.pin(f"ghcr.io/example/textjobs-trainer:0.2.0@{DIGEST}", target)
    after = target.read_text()
    changed = [line for line in after.splitlines() if line not in before.splitlines()]
    assert changed == ["    newTag: 0.2.0", f"    digest: {DIGEST}"], changed
    assert [line for line in before.splitlines() if line.lstrip().startswith("#")] == [
        line for line in after.splitlines() if line.lstrip().startswith("#")
    ], "comments must survive"
    rendered = subprocess.run(
        [str(KUSTOMIZE), "build", str(tmp_path / "overlays" / "capsule-b")], capture_output=True, text=True, check=True
    ).stdout
    assert f"image: ghcr.io/example/textjobs-trainer:0.2.0@{DIGEST}" in rendered
    pin.pin(f"ghcr.io/example/textjobs-trainer:0.3.0@{DIGEST}", target)  # pinning again replaces, never duplicates
    assert target.read_text().count("digest:") == 1 and "newTag: 0.3.0" in target.read_text()


@pytest.mark.parametrize(
    "reference",
    ["ghcr.io/example/textjobs-trainer:0.2.0", f"ghcr.io/example/textjobs-trainer@{DIGEST}", f"x/y:latest@{DIGEST}"],
)
def test_pin_refuses_a_reference_without_both_a_version_tag_and_a_digest(reference):
    with pytest.raises(pin.PinError):
        pin.parse(reference)
    result = subprocess.run(
        [sys.executable, "-m", "scripts.image", "pin", reference], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 2 and "image pin:" in result.stderr


def _executable(directory, name: str, script: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


def test_make_image_falls_back_to_buildah_when_no_docker_engine_answers(tmp_path, monkeypatch):
    """No Docker engine runs on this machine kind: a docker CLI whose `docker version` fails stands
    for "CLI installed, no daemon", the case the fallback exists for."""
    _executable(tmp_path, "docker", "exit 1")
    _executable(tmp_path, "buildah", "exit 0")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert engine.choose() == "buildah"
    command = engine.build_command("buildah", "ghcr.io/example/textjobs-trainer:0.2.0")
    assert command[:3] == ["buildah", "bud", "--isolation=chroot"] and command[-1] == str(ROOT)
    assert engine.push_command("buildah", "r/i:1") == ["buildah", "push", "r/i:1", "docker://r/i:1"]
    _executable(tmp_path, "docker", "exit 0")
    assert engine.choose() == "docker"  # an engine that answers wins
    (tmp_path / "docker").unlink()
    (tmp_path / "buildah").unlink()
    with pytest.raises(engine.EngineMissing, match="apt-get install -y buildah"):
        engine.choose()
    assert engine.check_tag("ghcr.io/example/textjobs-trainer:latest")
    assert engine.check_tag("ghcr.io/example/textjobs-trainer")
    assert not engine.check_tag("ghcr.io/example/textjobs-trainer:0.2.0")
