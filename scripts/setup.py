"""Create the project's environment: `.venv` with pinned Python packages, `bin/` with pinned tools.

Idempotent and quick when nothing changed: the venv is re-synced only when pyproject.toml or
constraints.txt changed (a hash stamp records what was installed), and a tool is re-installed only
when `bin/<tool>` is missing or reports another version. Standard library only, because it runs
before the venv exists.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = ROOT / "bin"
STAMP = VENV / ".textjobs-setup"
EXTRAS = "cpu,dev,serve"

# Pinned command-line tools, installed from the Go module proxy.
TOOLS = {
    "kustomize": ("sigs.k8s.io/kustomize/kustomize/v5", "v5.7.1"),
    "kubeconform": ("github.com/yannh/kubeconform/cmd/kubeconform", "v0.7.0"),
    # Secret scanner for `make validate` (working tree) and CI (the whole history).
    "gitleaks": ("github.com/zricethezav/gitleaks/v8", "v8.30.1"),
    # S3 server for tests and `make run ARGS=--s3` (Apache-2.0; MinIO is unmaintained, moto a mock).
    "versitygw": ("github.com/versity/versitygw/cmd/versitygw", "v1.8.0"),
}


def venv_python() -> Path:
    return VENV / "bin" / "python"


def requirements_hash() -> str:
    digest = hashlib.sha256(EXTRAS.encode())
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_venv() -> bool:
    """Return True when the venv had to be (re)synced."""
    wanted = requirements_hash()
    if venv_python().exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return False
    if not venv_python().exists():
        print(f"setup: creating {VENV.relative_to(ROOT)} with {sys.executable}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    print("setup: installing pinned Python packages (about a minute the first time)", flush=True)
    subprocess.run(
        [
            str(venv_python()),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-c",
            str(ROOT / "constraints.txt"),
            "-e",
            f"{ROOT}[{EXTRAS}]",
        ],
        check=True,
    )
    STAMP.write_text(wanted + "\n")
    return True


def tool_version_ok(name: str, module: str, version: str) -> bool:
    """True when bin/<name> exists and was built from module@version.

    `go version -m` reads the module version embedded at build time; the tools' own version
    commands print "development" for `go install` builds.
    """
    path = BIN / name
    if not path.exists():
        return False
    go = shutil.which("go")
    if go is None:
        return True  # cannot check without Go; a binary the user placed there is trusted
    out = subprocess.run([go, "version", "-m", str(path)], capture_output=True, text=True)
    return f"\tmod\t{module.split('/cmd/')[0]}" in out.stdout and f"\t{version}\t" in out.stdout


def ensure_tool(name: str, module: str, version: str) -> bool:
    if tool_version_ok(name, module, version):
        return False
    go = shutil.which("go")
    if go is None:
        raise SystemExit(
            f"setup: {name} {version} is missing from bin/ and Go is not installed.\n"
            f"  Install Go >= 1.26 (https://go.dev/dl/; the local cluster needs it) and re-run `make setup`, or put a\n"
            f"  {name} {version} binary at bin/{name} yourself."
        )
    print(f"setup: go install {module}@{version} -> bin/{name}", flush=True)
    BIN.mkdir(exist_ok=True)
    env = dict(os.environ, GOBIN=str(BIN), CGO_ENABLED="0")
    subprocess.run([go, "install", f"{module}@{version}"], check=True, env=env)
    if not tool_version_ok(name, module, version):
        raise SystemExit(f"setup: bin/{name} does not report version {version} after install")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools-only", action="store_true", help="only install bin/ tools")
    args = parser.parse_args(argv)
    start = time.monotonic()
    changed = False
    if not args.tools_only:
        changed |= ensure_venv()
    for name, (module, version) in TOOLS.items():
        changed |= ensure_tool(name, module, version)
    if changed:
        print(f"setup: done in {time.monotonic() - start:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
