"""The trainer image's code layer: what the Dockerfile's COPY and `pip install .` add, in seconds.

The project's own wheel (built by pip from pyproject.toml, so package data and the package list are
the ones `pip install .` would take) is unpacked into the base layer's venv, its console script is
written as pip writes it, and the sources go to /app as the Dockerfile copies them. Entries are
owned by root with fixed times, so the same sources always give the same layer digest.
"""

from __future__ import annotations

import configparser
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from scripts.image.base_layer import PYTHON, ImageBuildError
from scripts.image.oci import Layer, layer_of

ROOT = Path(__file__).resolve().parents[2]
APP = "app"
VENV = "opt/venv"
SITE_PACKAGES = f"{VENV}/lib/python{PYTHON}/site-packages"
APP_FILES = ("constraints.txt", "pyproject.toml", "README.md")
MTIME = 315532800  # 1980-01-01, the earliest time a wheel (zip) can hold
SCRIPT = """#!/opt/venv/bin/python
import sys
from {module} import {function}
if __name__ == "__main__":
    sys.exit({function}())
"""


def source_files(root: Path = ROOT) -> list[Path]:
    """Everything the Dockerfile copies into /app, relative to `root`, without bytecode caches."""
    files = [Path(name) for name in APP_FILES]
    for path in sorted((root / "trainers").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files.append(path.relative_to(root))
    return files


def code_key(base: str, root: Path = ROOT) -> str:
    digest = hashlib.sha256(base.encode())
    for relative in source_files(root):
        digest.update(str(relative).encode() + b"\0" + (root / relative).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_wheel(root: Path, target: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(target), str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wheels = list(target.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        raise ImageBuildError(f"pip wheel of the project failed (exit {result.returncode}):\n{result.stdout[-3000:]}")
    return wheels[0]


class _LayerWriter:
    """Adds files to a layer tar with their parent directories, each once, root-owned, fixed times."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.directories: set[str] = set()

    def _directory(self, path: str) -> None:
        if not path or path in self.directories:
            return
        self._directory(path.rpartition("/")[0])
        info = tarfile.TarInfo(path)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
        self.tar.addfile(info)
        self.directories.add(path)

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._directory(path.rpartition("/")[0])
        info = tarfile.TarInfo(path)
        info.size, info.mode, info.mtime = len(data), mode, MTIME
        self.tar.addfile(info, io.BytesIO(data))


def console_scripts(wheel: zipfile.ZipFile) -> dict[str, str]:
    entry_points = [name for name in wheel.namelist() if name.endswith(".dist-info/entry_points.txt")]
    if not entry_points:
        return {}
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(entry_points[0]).decode())
    return dict(parser["console_scripts"]) if parser.has_section("console_scripts") else {}


def write_layer(out: Path, wheel_path: Path, root: Path = ROOT) -> Layer:
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar, zipfile.ZipFile(wheel_path) as wheel:
        writer = _LayerWriter(tar)
        for name in sorted(wheel.namelist()):
            if not name.endswith("/"):
                writer.file(f"{SITE_PACKAGES}/{name}", wheel.read(name))
        for script, target in sorted(console_scripts(wheel).items()):
            module, _, function = target.partition(":")
            writer.file(f"{VENV}/bin/{script}", SCRIPT.format(module=module, function=function).encode(), 0o755)
        for relative in source_files(root):
            writer.file(f"{APP}/{relative.as_posix()}", (root / relative).read_bytes())
    return layer_of(out)


def build(out: Path, root: Path = ROOT) -> Layer:
    with tempfile.TemporaryDirectory(prefix="textjobs-wheel-") as scratch:
        # Built from a copy: setuptools writes build/ and *.egg-info into the tree it builds.
        source = Path(scratch) / "source"
        for relative in source_files(root):
            (source / relative).parent.mkdir(parents=True, exist_ok=True)
            (source / relative).write_bytes((root / relative).read_bytes())
        wheel = build_wheel(source, Path(scratch))
        partial = out.with_name(out.name + ".partial")
        layer = write_layer(partial, wheel, root)
        partial.rename(out)
    return Layer(out, layer.digest, layer.size)
