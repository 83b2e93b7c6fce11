"""The Debian packages the real node needs, checked by a file each provides and installed as root.

containerd and runc run the pods, the CNI plugins wire their network, mmdebstrap builds the trainer
image's root filesystem, gcc and libc6-dev compile the static pause binary once. Debian's own
builds, from the same apt the machine already uses (bookworm: containerd 1.6.20, runc 1.1.5,
plugins 1.1.1). CI installs them through `make cluster-build ARGS=node`, which runs as root there.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from scripts.localcluster.build import BuildError

PACKAGES = {
    "containerd": Path("/usr/bin/containerd"),
    "runc": Path("/usr/sbin/runc"),
    "containernetworking-plugins": Path("/usr/lib/cni/bridge"),
    "mmdebstrap": Path("/usr/bin/mmdebstrap"),
    "gcc": Path("/usr/bin/gcc"),
    "libc6-dev": Path("/usr/lib/x86_64-linux-gnu/libc.a"),
}


def missing() -> list[str]:
    return [package for package, provided in PACKAGES.items() if not provided.exists()]


def install_command(packages: list[str]) -> list[str]:
    return ["apt-get", "install", "-y", "--no-install-recommends", *packages]


def ensure(install: bool = True) -> None:
    """Install what is missing when running as root; otherwise say exactly what to run."""
    needed = missing()
    if not needed:
        return
    command = install_command(needed)
    if not install or os.geteuid() != 0:
        raise BuildError(
            f"the real node needs Debian packages {', '.join(needed)}; as root run:\n"
            f"  apt-get update && {' '.join(command)}\n"
            "(or run `make cluster-build ARGS=node` as root). The kwok-only cluster does not need them."
        )
    print(f"cluster build: node: apt-get install {' '.join(needed)}", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for step in (["apt-get", "update", "-q"], command):
        result = subprocess.run(step, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise BuildError(f"{' '.join(step)} failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    still = missing()
    if still:
        raise BuildError(f"installed, yet these are still missing: {still} ({[str(PACKAGES[p]) for p in still]})")
