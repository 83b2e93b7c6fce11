"""No Docker engine runs here, so the Dockerfile is checked statically against what the TFJob runs."""

import re

import yaml

from scripts.manifests import ROOT

DOCKERFILE = (ROOT / "images" / "trainer" / "Dockerfile").read_text()


def instructions(name):
    return [line.split(None, 1)[1] for line in DOCKERFILE.splitlines() if line.startswith(name + " ")]


def test_base_image_is_pinned_tensorflow_gpu():
    [base] = instructions("FROM")
    assert re.fullmatch(r"tensorflow/tensorflow:2\.21\.0-gpu(@sha256:[0-9a-f]{64})?", base)


def test_runs_as_non_root_user():
    users = instructions("USER")
    assert users and users[-1].split(":")[0] not in ("0", "root")


def test_entrypoint_is_what_the_tfjob_runs():
    [entrypoint] = instructions("ENTRYPOINT")
    tfjob = yaml.safe_load((ROOT / "base" / "tfjob.yaml").read_text())
    container = tfjob["spec"]["tfReplicaSpecs"]["Chief"]["template"]["spec"]["containers"][0]
    assert yaml.safe_load(entrypoint) == container["command"] == ["python", "-m", "trainers", "train"]


def test_installs_this_package_with_the_lock_file():
    assert any("constraints.txt" in line and "pip install" in line for line in instructions("RUN"))


def test_every_trainer_package_and_sample_file_goes_into_the_image():
    """`pip install .` finds packages by their __init__.py; a folder without one would be left out."""
    import tomllib

    for folder in {p.parent for p in (ROOT / "trainers").rglob("*.py")}:
        assert (folder / "__init__.py").exists(), f"{folder} has no __init__.py"
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for package, patterns in package_data.items():
        folder = ROOT / package.replace(".", "/")
        assert all(list(folder.glob(pattern)) for pattern in patterns), (package, patterns)
    samples = {p.parent for p in (ROOT / "trainers").rglob("*.tsv")}
    covered = {ROOT / package.replace(".", "/") / "sample_data" for package in package_data}
    assert samples <= covered, samples - covered
