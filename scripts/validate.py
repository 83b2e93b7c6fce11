"""`make validate`: stop every broken experiment before it merges.

1. Render every kustomization (the root bootstrap, overlays/*, katib/experiments/*) with the
   pinned kustomize.
2. Validate every object with kubeconform -strict against schemas/ (generated from the pinned
   releases by `make schemas`, committed, so this works offline).
3. Apply the policy rules of scripts/policy/: each experiment compared with its reference under
   platform/allowlist.yaml, held to platform/budget.yaml, its pods to Pod Security, its trainer
   configuration to the trainer's own parsers, its directory to what Argo CD may read; and scan the
   working tree for credentials with gitleaks.
4. When a cluster is reachable (the local one from `make cluster-up`, or $KUBECONFIG), a
   server-side dry run of every experiment and Katib trial, and of every replica's pod template as
   a Pod: admission, the operator's webhook and Pod Security `restricted` judge them as they would
   on merge.

Each problem is printed as `<kustomization>: <object>: <field>: <what is wrong>`; the exit code
is 1 when there is any. Broken input of any kind ends in such lines, never in a traceback.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts import dry_run, policy
from scripts.manifests import ROOT, Rendered, kustomizations, render_all
from scripts.policy import platform, services, sources

KUBECONFORM = ROOT / "bin" / "kubeconform"
# Built-in kinds first (no group), then custom resources; see scripts/gen_schemas.py.
SCHEMA_LOCATIONS = (
    "{{ .ResourceKind }}-{{ .ResourceAPIVersion }}.json",
    "{{ .ResourceKind }}-{{ .Group }}-{{ .ResourceAPIVersion }}.json",
)


def kubeconform(rendered: list[Rendered], schemas: Path) -> list[policy.Violation]:
    """One kubeconform run over all renders; failures mapped back to their kustomization."""
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for index, item in enumerate(rendered):
            if item.error:
                continue
            path = Path(tmp) / f"{index}.yaml"
            path.write_text(item.text)
            files[str(path)] = item.name
        if not files:
            return []
        result = subprocess.run(
            [
                str(KUBECONFORM),
                "-strict",
                "-output",
                "json",
                "-n",
                "4",
                *[arg for loc in SCHEMA_LOCATIONS for arg in ("-schema-location", str(schemas / loc))],
                *files,
            ],
            capture_output=True,
            text=True,
        )
    report = json.loads(result.stdout or "{}")
    problems = []
    for resource in report.get("resources", []):
        if resource.get("status") not in ("statusInvalid", "statusError"):
            continue
        where = files.get(resource.get("filename"), resource.get("filename"))
        obj = f"{resource.get('kind')} {resource.get('name')}"
        errors = resource.get("validationErrors") or [{"path": "", "msg": resource.get("msg", "")}]
        for error in errors:
            field = error.get("path", "").strip("/").replace("/", ".") or "(object)"
            problems.append(policy.Violation(where, obj, field, f"schema: {error.get('msg')}"))
    if result.returncode not in (0, 1) and not problems:
        problems.append(policy.Violation("kubeconform", "-", "-", result.stderr.strip() or "failed"))
    return problems


def repository_files(root: Path) -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        return [root / name for name in listed if name and (root / name).is_file()]
    except (subprocess.CalledProcessError, FileNotFoundError):
        skip = {".git", ".venv", "bin", "runs", "__pycache__"}
        return [p for p in root.rglob("*") if p.is_file() and not skip & set(p.relative_to(root).parts)]


def validate(
    root: Path, names: list[str] | None = None, scan: bool = True, server: str = ""
) -> tuple[list[policy.Violation], int, int]:
    """All problems, how many kustomizations, how many objects. Given no names, everything Argo CD
    would sync (and the Katib experiments), whatever the overlay directories hold."""
    problems: list[policy.Violation] = []
    try:
        platform.allowlist(root), platform.budget(root)
    except platform.PlatformDataError as exc:
        file, _, problem = str(exc).partition(": ")
        return [policy.Violation("platform", file, "-", problem)], 0, 0
    if not names:
        _, problems = sources.applications(root)
        names = kustomizations(root)
    # Sources first: a kustomization with a remote reference is not rendered at all, so CI never
    # fetches (or runs) what nobody reviewed.
    refused = {name: sources.check_tree(name, root) for name in names}
    problems += [p for found in refused.values() for p in found]
    problems += policy.check_directories(names, root)
    rendered = render_all([n for n in names if not refused.get(n)], root)
    problems += [policy.Violation(r.name, "kustomize build", "-", r.error) for r in rendered if r.error]
    problems += kubeconform(rendered, ROOT / "schemas")
    problems += policy.check_all(rendered, root)
    problems += services.check_all(rendered, root)  # platform/*: shared services, not experiments
    if scan:
        problems += policy.scan_repository_for_secrets(repository_files(root), root)
    if server and not problems:
        problems += dry_run.check(rendered)
    return problems, len(names), sum(len(r.documents) for r in rendered)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make validate", description=__doc__.splitlines()[0])
    parser.add_argument("kustomizations", nargs="*", help="directories to check (default: all)")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this one)")
    parser.add_argument(
        "--server",
        choices=["auto", "always", "never"],
        default="auto",
        help="server-side dry run: auto = when a cluster is reachable (default), always = fail without one",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    server = dry_run.wanted(args.server)
    try:
        problems, count, objects = validate(args.root.resolve(), args.kustomizations, server=server)
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback (rules are guarded; this is the rest)
        print(f"validate: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for problem in problems:
        print(problem, file=sys.stderr)
    elapsed = time.monotonic() - started
    verdict = f"{len(problems)} problem(s)" if problems else "all valid"
    where = f"; server-side dry run on {server}" if server else "; no cluster, no server-side dry run"
    print(f"validate: {count} kustomizations, {objects} objects, {verdict}{where} ({elapsed:.1f}s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
