"""Credentials outside a Secret.

Two layers. gitleaks (a maintained scanner with hundreds of provider rules and entropy checks)
scans every file of the working tree, comments included, and CI runs it over the whole history
(`make scan-history`). A structural rule adds what no scanner can know: a credential-named
container env var or ConfigMap key with a literal value belongs in a Secret, however harmless the
value looks.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from scripts.manifests import ROOT, Rendered
from scripts.policy.violation import Violation, describe
from scripts.policy.walk import containers

GITLEAKS = ROOT / "bin" / "gitleaks"
CONFIG = ROOT / ".gitleaks.toml"
CREDENTIAL_NAME = re.compile(r"(passw(or)?d|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credential)", re.I)
# Names that say where a credential is, not what it is.
REFERENCE_NAME = re.compile(r"(_FILE|_PATH|_DIR|Path|File|Dir|APPLICATION_CREDENTIALS)$")


def rule_no_inline_secrets(r: Rendered) -> Iterator[Violation]:
    for doc in r.of_kind("Secret"):
        if doc.get("data") or doc.get("stringData"):
            yield Violation(
                r.name,
                describe(doc),
                "data",
                "secret values never go in Git; reference an existing Secret by name (see components/gcs-key)",
            )


def _looks_like_credential(name: str) -> bool:
    return bool(CREDENTIAL_NAME.search(name)) and not REFERENCE_NAME.search(name)


def rule_credentials_by_reference(r: Rendered) -> Iterator[Violation]:
    for c in containers(r):
        for env in c.spec.get("env") or []:
            if "value" in env and _looks_like_credential(env.get("name", "")):
                yield Violation(
                    r.name,
                    describe(c.pod.job.doc),
                    f"{c.field}.env[{env['name']}].value",
                    "a credential as a literal value; use valueFrom.secretKeyRef to an existing Secret",
                )
    for doc in r.of_kind("ConfigMap"):
        for key in doc.get("data") or {}:
            if _looks_like_credential(key):
                yield Violation(
                    r.name,
                    describe(doc),
                    f"data.{key}",
                    "a credential in a ConfigMap; put it in a Secret and reference it by name",
                )


def gitleaks(*args: str) -> list[dict]:
    """Run gitleaks with the repository's config; its JSON findings."""
    if not GITLEAKS.exists():
        raise FileNotFoundError(f"{GITLEAKS} is missing: run `make setup`")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        config = ["--config", str(CONFIG)] if CONFIG.exists() else []
        result = subprocess.run(
            [
                str(GITLEAKS),
                *args,
                *config,
                "--no-banner",
                "--redact",
                "--exit-code",
                "0",
                "--report-format",
                "json",
                "--report-path",
                str(report),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"gitleaks failed ({result.returncode}): {result.stderr.strip()[-500:]}")
        return json.loads(report.read_text() or "[]")


def _finding(finding: dict, where: str) -> Violation:
    return Violation(
        where,
        f"line {finding.get('StartLine')}",
        finding.get("RuleID", "secret"),
        f"gitleaks: {finding.get('Description', 'possible credential')}; remove it (and rotate it), keep it in a Secret",
    )


def scan_files(files: list[Path], root: Path) -> list[Violation]:
    """gitleaks over exactly these files (the tracked and not-ignored ones), copied to a scratch tree."""
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            target = Path(tmp) / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        findings = gitleaks("dir", tmp)
        return [_finding(f, str(Path(f["File"]).relative_to(tmp))) for f in findings]


def scan_history(root: Path) -> list[Violation]:
    findings = gitleaks("git", str(root), "--log-opts=--all")
    return [_finding(f, f"{f.get('File')} @ {str(f.get('Commit', ''))[:10]}") for f in findings]
