"""The pod sandbox ("pause") image for the real node, built here from Kubernetes' own source.

containerd starts every pod with a sandbox image, normally pulled from registry.k8s.io, which this
machine cannot reach. Kubernetes' build/pause/linux/pause.c (in the pinned k8s.io/kubernetes module
the control plane is built from) is compiled statically with Debian's gcc exactly as its Makefile
does, and packed as a one-layer image the way its Dockerfile does (/pause, user 65535). Cached.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from scripts.image.oci import Layer, Runtime, layer_of
from scripts.localcluster.build import BuildError, module_download
from scripts.localcluster.pins import KUBERNETES, cache_dir

NAME = "textjobs.local/pause"


def source_dir() -> Path:
    return Path(module_download("k8s.io/kubernetes", KUBERNETES)["Dir"]) / "build" / "pause"


def tag(source: Path) -> str:
    match = re.search(r"^TAG \?= (\S+)$", (source / "Makefile").read_text(), re.M)
    if match is None:
        raise BuildError(f"{source / 'Makefile'}: no `TAG ?=` line to version the pause image by")
    return match[1]


RUNTIME = Runtime(entrypoint=["/pause"], env={}, user="65535:65535", workdir="/")


def image(build: bool = True) -> tuple[str, Layer]:
    """(image name, its one layer), compiling pause.c the first time."""
    source = source_dir()
    version = tag(source)
    directory = cache_dir() / f"pause-{version}-{KUBERNETES}"
    stamp = directory / "layer.json"
    if stamp.exists():
        return f"{NAME}:{version}", Layer.from_json(json.loads(stamp.read_text()))
    if not build:
        raise BuildError("the pause image is not built; `make cluster-build ARGS=node` builds it")
    gcc = shutil.which("gcc")
    if gcc is None:
        raise BuildError(
            "gcc is not installed (needed once for the pause image); as root: apt-get install -y gcc libc6-dev"
        )
    staging = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    binary = staging / "pause"
    compile_ = [gcc, "-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{version}-textjobs"]
    result = subprocess.run(
        [*compile_, "-o", str(binary), str(source / "linux" / "pause.c")], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise BuildError(f"compiling pause.c failed (static libc: apt-get install -y libc6-dev):\n{result.stderr}")
    subprocess.run(["strip", str(binary)], check=True)
    with tarfile.open(staging / "layer.tar", "w") as tar:
        info = tar.gettarinfo(str(binary), arcname="pause")
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        with binary.open("rb") as f:
            tar.addfile(info, f)
    built = layer_of(staging / "layer.tar")
    layer = Layer(directory / "layer.tar", built.digest, built.size)  # the path it has once renamed
    (staging / "layer.json").write_text(json.dumps(layer.to_json()))
    shutil.rmtree(directory, ignore_errors=True)
    staging.rename(directory)
    return f"{NAME}:{version}", layer
