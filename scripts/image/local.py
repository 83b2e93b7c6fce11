"""The trainer image for the local cluster's real node: two cached layers, named as the base names it.

base layer (Debian + Python + pinned wheels, minutes, keyed by the dependencies) + code layer
(trainers/, seconds, keyed by the sources) = an OCI image named exactly as base/kustomization.yaml
names the trainer image, so the manifests run it unchanged. It is the CPU image: the Dockerfile's
GPU base cannot be pulled here, and the node has no GPU. Both layers live in the cache directory
beside the cluster's binaries; older ones are pruned.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import yaml

from scripts.image import base_layer, code_layer, dockerfile, oci
from scripts.localcluster.pins import cache_dir

ROOT = Path(__file__).resolve().parents[2]
BASE_KUSTOMIZATION = ROOT / "base" / "kustomization.yaml"
PLACEHOLDER = "training-image"  # the image name base/tfjob.yaml uses; kustomize replaces it
DEFAULT_PATH = "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
KEEP = {"base": 2, "code": 4}


class BaseLayerMissing(base_layer.ImageBuildError):
    pass


def image_cache() -> Path:
    return cache_dir().parent / "image"


def image_name(kustomization: Path = BASE_KUSTOMIZATION) -> str:
    """`newName:newTag` of the base's `training-image` entry (a digest pin cannot name a local build)."""
    for entry in yaml.safe_load(kustomization.read_text()).get("images", []):
        if entry.get("name") == PLACEHOLDER:
            return f"{entry['newName']}:{entry['newTag']}"
    raise base_layer.ImageBuildError(f"{kustomization}: no `images:` entry for {PLACEHOLDER!r}")


def runtime() -> oci.Runtime:
    entrypoint, env, user, workdir = dockerfile.runtime_of()
    return oci.Runtime(entrypoint, {"PATH": DEFAULT_PATH, **env}, user, workdir)


@dataclass(frozen=True)
class LocalImage:
    name: str
    layers: list[oci.Layer]
    runtime: oci.Runtime

    @property
    def digest(self) -> str:
        return oci.manifest_digest(self.name, self.layers, self.runtime)

    def write_archive(self, out: BinaryIO) -> None:
        oci.write_archive(out, self.name, self.layers, self.runtime)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One build at a time per cache: two checkouts must not build the same layer side by side."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _prune(kind: str, keep: Path) -> None:
    """Remove all but the most recently used KEEP[kind] layers of this kind (`keep` always stays)."""
    used = sorted(image_cache().glob(f"{kind}-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [p for p in used if p != keep][KEEP[kind] - 1 :]:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)


def ensure(build_base: bool = True, root: Path = ROOT) -> LocalImage:
    """The image for this checkout's sources, building what the cache lacks. With build_base False a
    missing base layer raises BaseLayerMissing instead of starting a build of minutes."""
    cache = image_cache()
    with _locked(cache):
        base_dir = cache / f"base-{base_layer.base_key(root)}"
        base = base_layer.load(base_dir)
        if base is None:
            if not build_base:
                raise BaseLayerMissing(
                    f"the trainer image's base layer is not built ({base_dir}); `make local-image` builds it (minutes)"
                )
            shutil.rmtree(base_dir, ignore_errors=True)
            base_dir.mkdir(parents=True)
            started = time.monotonic()
            base = base_layer.build(base_dir, root)
            print(
                f"image: base layer built in {time.monotonic() - started:.0f}s ({base.size / 1e9:.2f} GB)", flush=True
            )
        os.utime(base_dir)
        code_path = cache / f"code-{code_layer.code_key(base.digest, root)}.tar"
        code = oci.layer_of(code_path) if code_path.is_file() else code_layer.build(code_path, root)
        os.utime(code_path)
        _prune("base", base_dir)
        _prune("code", code_path)
    return LocalImage(image_name(root / "base" / "kustomization.yaml"), [base, code], runtime())
