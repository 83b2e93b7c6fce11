"""The trainer image's base layer without Docker: Debian from its packages, the pinned wheels offline.

mmdebstrap (Debian's package) builds bookworm `minbase` with Debian's python3.11 (the Python the
project supports), then, in the new root filesystem, a venv at /opt/venv into which the wheels of
every pinned dependency are installed offline (`pip wheel -c constraints.txt` on this machine
first, with the shared pip cache), the user 1000 the Dockerfile creates, and /app. The output is
one uncompressed tar, which is the layer. It changes only with the dependencies, so it is cached
under a hash of them (base_key) and code changes rebuild only the small code layer.

mmdebstrap needs root (it runs the hooks in a chroot). Measured here: wheels about 40 s with a
warm pip cache, mmdebstrap about 200 s, 1.9 GB (TensorFlow alone is 1.3 GB).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from scripts.image.oci import Layer, layer_of

ROOT = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
PYTHON = "3.11"  # bookworm's python3; the wheels must be built for the same version
DEBIAN_PACKAGES = ("python3", "python3-venv", "ca-certificates")
EXTRA = "cpu"  # tensorflow-cpu: the local node has no GPU
USER_ID = 1000
# Bump when the recipe below changes in a way the hashed inputs do not show.
RECIPE_VERSION = 1


class ImageBuildError(RuntimeError):
    pass


def requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The package's runtime dependencies and its `cpu` extra, exactly as pyproject.toml pins them."""
    project = tomllib.loads(pyproject.read_text())["project"]
    return [*project["dependencies"], *project["optional-dependencies"][EXTRA]]


def base_key(root: Path = ROOT) -> str:
    """What decides the base layer: the recipe, the direct requirements and the full lock."""
    digest = hashlib.sha256()
    recipe = {"recipe": RECIPE_VERSION, "suite": SUITE, "packages": DEBIAN_PACKAGES, "user": USER_ID}
    digest.update(json.dumps(recipe, sort_keys=True).encode())
    digest.update("\n".join(requirements(root / "pyproject.toml")).encode())
    digest.update((root / "constraints.txt").read_bytes())
    return digest.hexdigest()[:16]


def check_tools() -> None:
    missing = [tool for tool in ("mmdebstrap",) if shutil.which(tool) is None]
    if missing:
        raise ImageBuildError(
            f"{', '.join(missing)} is not installed; as root: apt-get install -y mmdebstrap "
            "(`make cluster-build ARGS=node` installs it when run as root)"
        )
    if os.geteuid() != 0:
        raise ImageBuildError("building the image's root filesystem needs root (mmdebstrap --mode=root runs a chroot)")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if version != PYTHON:
        raise ImageBuildError(f"the wheels must be built by Python {PYTHON} (the image's), not {version}")


def build_wheels(target: Path, root: Path = ROOT) -> None:
    """Wheels of every pinned dependency into `target`, with requirements.txt and constraints.txt beside them."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "requirements.txt").write_text("\n".join(requirements(root / "pyproject.toml")) + "\n")
    shutil.copyfile(root / "constraints.txt", target / "constraints.txt")
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(target)]
    command += ["-c", str(target / "constraints.txt"), "-r", str(target / "requirements.txt")]
    _run(command, "pip wheel")


def mmdebstrap_command(wheels: Path, out: Path) -> list[str]:
    pip = (
        "/opt/venv/bin/pip install --no-index --no-cache-dir --find-links /tmp/wheels"
        " -c /tmp/wheels/constraints.txt -r /tmp/wheels/requirements.txt"
    )
    hooks = [
        'mkdir -p "$1/tmp/wheels"',
        f"sync-in {wheels} /tmp/wheels",
        'chroot "$1" python3 -m venv /opt/venv',
        f'chroot "$1" {pip}',
        f'chroot "$1" useradd --uid {USER_ID} --create-home --shell /usr/sbin/nologin trainer',
        'mkdir -p "$1/app"',
        'rm -rf "$1/tmp/wheels" "$1/root/.cache" "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*',
    ]
    command = ["mmdebstrap", "--mode=root", "--variant=minbase", "--format=tar", "--quiet"]
    command.append(f"--include={','.join(DEBIAN_PACKAGES)}")
    # Documentation and translations are a tenth of a minimal system and nothing in a pod reads them.
    for pattern in ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*"):
        command.append(f"--dpkgopt=path-exclude={pattern}")
    command.append("--dpkgopt=path-include=/usr/share/locale/locale.alias")
    command += [f"--customize-hook={hook}" for hook in hooks]
    # No mirror: mmdebstrap uses deb.debian.org and adds the updates and security suites for a stable release.
    return [*command, SUITE, str(out)]


def build(directory: Path, root: Path = ROOT) -> Layer:
    """Build the base layer into `directory` (layer.tar + layer.json); returns it."""
    check_tools()
    wheels = directory / "wheels"
    staging = directory / "layer.tar.partial"
    print(f"image: base layer {directory.name}: pip wheel -c constraints.txt ({len(requirements())} pins)", flush=True)
    build_wheels(wheels, root)
    print(
        f"image: base layer {directory.name}: mmdebstrap {SUITE} minbase + python{PYTHON} + wheels (minutes)",
        flush=True,
    )
    try:
        _run(mmdebstrap_command(wheels, staging), "mmdebstrap")
        staging.rename(directory / "layer.tar")
    finally:
        staging.unlink(missing_ok=True)
        shutil.rmtree(wheels, ignore_errors=True)
    layer = layer_of(directory / "layer.tar")
    (directory / "layer.json").write_text(json.dumps({**layer.to_json(), "python": PYTHON}, indent=1))
    return layer


def load(directory: Path) -> Layer | None:
    """The base layer built earlier in `directory`, if it is complete."""
    try:
        layer = Layer.from_json(json.loads((directory / "layer.json").read_text()))
    except (OSError, ValueError, KeyError):
        return None
    if not layer.path.is_file() or layer.path.stat().st_size != layer.size:
        return None
    return layer


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-25:])
        raise ImageBuildError(f"{what} failed (exit {result.returncode}):\n{tail}")
