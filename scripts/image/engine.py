"""`make image` / `make push`: the GPU trainer image from images/trainer/Dockerfile.

With a Docker engine, Docker builds and pushes it. Without one (this machine kind, and CI runners
without a daemon), buildah does, as Debian packages it: `buildah bud --isolation=chroot` runs the
Dockerfile's RUN steps in a chroot, with no daemon and no user namespaces. The Dockerfile's base,
tensorflow/tensorflow:2.21.0-gpu, comes from Docker Hub, so either way the build needs that
registry; buildah's `--from` replaces the base with an image already in its storage. Standard library
only: `make image` runs before the venv exists.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "images" / "trainer" / "Dockerfile"
ENGINES = ("docker", "buildah")


class EngineMissing(RuntimeError):
    pass


def docker_engine_running(docker: str) -> bool:
    """The docker CLI alone is not enough: its daemon must answer."""
    try:
        result = subprocess.run([docker, "version", "--format", "{{.Server.Version}}"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def choose(wanted: str = "") -> str:
    """`docker` when it has an engine, else `buildah`; `wanted` forces one."""
    for engine in (wanted,) if wanted else ENGINES:
        tool = shutil.which(engine)
        if tool and (engine != "docker" or docker_engine_running(tool)):
            return engine
    if wanted:
        raise EngineMissing(f"{wanted} is not usable here (not installed, or no Docker engine answers)")
    raise EngineMissing(
        "no Docker engine and no buildah: install Docker, or as root `apt-get install -y buildah` "
        "(builds the Dockerfile without a daemon)"
    )


def build_command(engine: str, image: str, base: str = "") -> list[str]:
    if engine == "docker":
        if base:
            raise EngineMissing("--from (another base image) is a buildah option; Docker builds the Dockerfile's FROM")
        return ["docker", "build", "-f", str(DOCKERFILE), "-t", image, str(ROOT)]
    command = ["buildah", "bud", "--isolation=chroot", "-f", str(DOCKERFILE), "-t", image]
    if base:
        command += ["--from", base]
    return [*command, str(ROOT)]


def push_command(engine: str, image: str) -> list[str]:
    if engine == "docker":
        return ["docker", "push", image]
    return ["buildah", "push", image, f"docker://{image}"]


def check_tag(image: str) -> str:
    """An error message, or "" when `image` carries a version tag (never `latest`)."""
    if image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]:
        return f"image: {image!r} needs a version tag (never latest); the overlays pin one"
    return ""


def run(action: str, image: str, engine: str = "", base: str = "") -> int:
    chosen = choose(engine)
    command = build_command(chosen, image, base) if action == "build" else push_command(chosen, image)
    print(f"image: {action} with {chosen}: {' '.join(command)}", flush=True)
    return subprocess.run(command, cwd=ROOT).returncode
