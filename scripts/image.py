"""`make image` / `make push`: build and push the trainer image with Docker."""

from __future__ import annotations

import shutil
import subprocess
import sys

from scripts.manifests import ROOT

DOCKERFILE = ROOT / "images" / "trainer" / "Dockerfile"


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("build", "push"):
        print("usage: python -m scripts.image {build,push} IMAGE", file=sys.stderr)
        return 2
    action, image = argv
    if image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]:
        print(f"image: {image!r} needs a version tag (never latest); the overlays pin one", file=sys.stderr)
        return 2
    docker = shutil.which("docker")
    if docker is None:
        print("image: docker is not installed", file=sys.stderr)
        return 1
    if action == "build":
        command = [docker, "build", "-f", str(DOCKERFILE), "-t", image, str(ROOT)]
    else:
        command = [docker, "push", image]
    return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
