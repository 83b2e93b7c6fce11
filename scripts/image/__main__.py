"""`make image`, `make push`, `make local-image`: build, push and pin the trainer image."""

from __future__ import annotations

import argparse
import sys
import time

EPILOG = """\
commands:
  build IMAGE   the GPU image from images/trainer/Dockerfile, with Docker where an engine runs,
                else buildah (bud --isolation=chroot); needs Docker Hub for the TensorFlow base
  push IMAGE    push it (registry login first)
  local         the CPU image for the local cluster's real node, without Docker: Debian packages
                (mmdebstrap) + the pinned wheels + trainers/, as an OCI archive named as
                base/kustomization.yaml names the image; cached (the base layer takes minutes once,
                a code change seconds). --output FILE writes the archive (else it is only cached)
  pin REF       write NAME:TAG@sha256:DIGEST into base/kustomization.yaml (the release workflow)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.image",
        description="Build, push and pin the trainer image.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["build", "push", "local", "pin"])
    parser.add_argument("image", nargs="?", default="", help="build/push: registry/name:tag; pin: name:tag@sha256:...")
    parser.add_argument("--engine", choices=["docker", "buildah"], default="", help="build/push: force one")
    parser.add_argument("--from", dest="base", default="", help="build with buildah: a base image in local storage")
    parser.add_argument("--output", default="", help="local: also write the OCI archive to this file")
    args = parser.parse_args(argv)
    if args.command in ("build", "push", "pin") and not args.image:
        parser.error(f"{args.command} needs an image")
    if args.command == "pin":
        from scripts.image.pin import PinError, pin

        try:
            pin(args.image)
        except PinError as exc:
            print(f"image pin: {exc}", file=sys.stderr)
            return 2
        print(f"image pin: base/kustomization.yaml now runs {args.image}")
        return 0
    if args.command == "local":
        return local(args.output)
    from scripts.image import engine

    problem = engine.check_tag(args.image)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    try:
        return engine.run(args.command, args.image, args.engine, args.base)
    except engine.EngineMissing as exc:
        print(f"image: {exc}", file=sys.stderr)
        return 1


def local(output: str) -> int:
    from scripts.image.base_layer import ImageBuildError
    from scripts.image.local import ensure

    started = time.monotonic()
    try:
        image = ensure()
    except ImageBuildError as exc:
        print(f"image local: {exc}", file=sys.stderr)
        return 1
    if output:
        with open(output, "wb") as out:
            image.write_archive(out)
    size = sum(layer.size for layer in image.layers) / 1e9
    print(f"image local: {image.name} {image.digest[:19]} ({size:.2f} GB, {time.monotonic() - started:.0f}s)")
    print("image local: layers " + ", ".join(str(layer.path) for layer in image.layers))
    if output:
        print(f"image local: archive {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
