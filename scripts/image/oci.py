"""An OCI image archive from uncompressed layer tars, with the standard library only.

What `ctr images import` (and skopeo, podman, buildah) read: `oci-layout`, `index.json` naming the
image, and content-addressed blobs (the manifest, the image config, each layer). Layers stay
uncompressed: the archive goes straight into containerd on this machine, where gzip would cost
minutes of CPU to save disk nobody downloads. The archive is written as a stream, so it can be
piped into `ctr` without a second copy of a 2 GB layer on disk.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
CHUNK = 1 << 22


@dataclass(frozen=True)
class Layer:
    """An uncompressed layer tar and its digest (for an uncompressed layer, digest == diff_id)."""

    path: Path
    digest: str
    size: int

    def to_json(self) -> dict:
        return {"path": str(self.path), "digest": self.digest, "size": self.size}

    @classmethod
    def from_json(cls, data: dict) -> Layer:
        return cls(Path(data["path"]), data["digest"], int(data["size"]))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def layer_of(path: Path) -> Layer:
    return Layer(path, sha256_file(path), path.stat().st_size)


@dataclass(frozen=True)
class Runtime:
    """What an image runs: the OCI config's `config` block (Docker's ENV, WORKDIR, USER, ENTRYPOINT)."""

    entrypoint: list[str]
    env: dict[str, str]
    user: str
    workdir: str

    def to_config(self) -> dict:
        return {
            "Entrypoint": self.entrypoint,
            "Env": [f"{key}={value}" for key, value in self.env.items()],
            "User": self.user,
            "WorkingDir": self.workdir,
        }


def _blob(data: dict) -> tuple[bytes, str]:
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return raw, "sha256:" + hashlib.sha256(raw).hexdigest()


def documents(name: str, layers: list[Layer], runtime: Runtime) -> dict[str, bytes]:
    """`index.json` and the manifest and config blobs (by digest) of image `name` (registry/repo:tag)."""
    config, config_digest = _blob(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",  # a fixed date: the same inputs give the same digest
            "config": runtime.to_config(),
            "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
        }
    )
    manifest, manifest_digest = _blob(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": LAYER_TYPE, "digest": layer.digest, "size": layer.size} for layer in layers],
        }
    )
    tag = name.rsplit(":", 1)[1]
    index, _ = _blob(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": MANIFEST_TYPE,
                    "digest": manifest_digest,
                    "size": len(manifest),
                    "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag},
                }
            ],
        }
    )
    return {
        "index.json": index,
        f"blobs/sha256/{manifest_digest[7:]}": manifest,
        f"blobs/sha256/{config_digest[7:]}": config,
    }


def manifest_digest(name: str, layers: list[Layer], runtime: Runtime) -> str:
    """The digest containerd will show for the imported image."""
    index = json.loads(documents(name, layers, runtime)["index.json"])
    return index["manifests"][0]["digest"]


def _add(tar: tarfile.TarFile, path: str, data: bytes) -> None:
    info = tarfile.TarInfo(path)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_archive(out: BinaryIO, name: str, layers: list[Layer], runtime: Runtime) -> None:
    """Stream the OCI archive of image `name` into `out` (a file or a pipe)."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        for path, data in documents(name, layers, runtime).items():
            _add(tar, path, data)
        for layer in layers:
            info = tarfile.TarInfo(f"blobs/sha256/{layer.digest[7:]}")
            info.size = layer.size
            with layer.path.open("rb") as blob:
                tar.addfile(info, blob)
