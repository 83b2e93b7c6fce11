"""Credentials outside a Secret.

Two layers. gitleaks (a maintained scanner with hundreds of provider rules and entropy checks)
scans every file of the working tree, comments included, and CI runs it over the whole history
(`make scan-history`). A structural rule adds what no scanner can know: a credential-named
container env var or ConfigMap key with a literal value belongs in a Secret, however harmless the
value looks; and a value that is a credential (key material, a token, a password inside a URL) is
refused wherever a rendered object can carry it: env, command, args, ConfigMap data and
binaryData, annotations and labels.
"""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from scripts.manifests import ROOT, Rendered
from scripts.policy.violation import Violation, describe
from scripts.policy.walk import all_containers as containers
from trainers.runtime import keymatch

GITLEAKS = ROOT / "bin" / "gitleaks"
CONFIG = ROOT / ".gitleaks.toml"
# Credential words, matched in a name folded as trainers/runtime/keymatch.py folds keys (case,
# separators, invisible and look-alike characters removed): AWS_SECRET_ACCESS_KEY,
# aws_secret_access_key, secretKey and Secret-Key all contain "secret".
CREDENTIAL_WORDS = (
    "passw",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "privatekey",
    "credential",
    "authorization",
    "bearer",
    "sessionkey",
    "signingkey",
)
# Names that say where a credential is, not what it is.
REFERENCE_SUFFIXES = ("file", "path", "dir", "applicationcredentials")
# Values that are credentials whatever their name (provider formats gitleaks also knows, kept here
# so that a value in a rendered object is judged even when it is built by kustomize).
CREDENTIAL_VALUES = (
    (re.compile(r"-----(BEGIN|END)\b|KEY-----|\bMII[A-Za-z0-9+/]{60,}"), "key material (PEM)"),
    (re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@]+:[^\s/@]+@"), "a password inside a URL (scheme://user:password@host)"),
    (re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"\b(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}"), "a GitHub token"),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), "a GitLab token"),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), "a Google API key"),
    (re.compile(r"\bya29\.[0-9A-Za-z_-]{20,}"), "a Google OAuth token"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"), "an API secret key"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"), "a JSON web token"),
)
RANDOM_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{32,}")
RANDOM_BITS_PER_CHAR = 4.2  # random base64 of this length has about 4.6-5; words and paths far less


def _looks_like_credential(name: str) -> bool:
    folded = keymatch.fold(name)
    return any(w in folded for w in CREDENTIAL_WORDS) and not folded.endswith(REFERENCE_SUFFIXES)


def _entropy(token: str) -> float:
    counts = [token.count(c) for c in set(token)]
    return -sum(n / len(token) * math.log2(n / len(token)) for n in counts)


def credential_in_value(value: str) -> str | None:
    """What kind of credential `value` holds, or None."""
    for pattern, what in CREDENTIAL_VALUES:
        if pattern.search(value):
            return what
    for token in RANDOM_TOKEN.findall(value):
        mixed = any(c.islower() for c in token) and any(c.isupper() for c in token) and any(c.isdigit() for c in token)
        if mixed and _entropy(token) >= RANDOM_BITS_PER_CHAR:
            return "a random-looking token (an access key or password)"
    return None


def redact(text: str) -> str:
    """`text` with every credential-looking part replaced: reports go to CI logs."""
    for pattern, _ in CREDENTIAL_VALUES:
        text = pattern.sub("<redacted>", text)
    for token in set(RANDOM_TOKEN.findall(text)):
        if credential_in_value(token):
            text = text.replace(token, "<redacted>")
    return text


def rule_no_inline_secrets(r: Rendered) -> Iterator[Violation]:
    for doc in r.of_kind("Secret"):
        if doc.get("data") or doc.get("stringData"):
            yield Violation(
                r.name,
                describe(doc),
                "data",
                "secret values never go in Git; reference an existing Secret by name (see components/gcs-key)",
            )


def _value_problem(value: object) -> str | None:
    what = credential_in_value(str(value)) if value is not None else None
    return f"{what} in Git; keep it in a Secret and reference it (valueFrom.secretKeyRef)" if what else None


def container_problems(c, known: frozenset[str] = frozenset()) -> Iterator[tuple[str, str]]:
    for env in c.spec.get("env") or []:
        name = str(env.get("name", ""))
        where = f"{c.field}.env[{name}]"
        if "value" in env:
            if _looks_like_credential(name) and name not in known:
                yield (
                    f"{where}.value",
                    "a credential as a literal value; use valueFrom.secretKeyRef to an existing Secret",
                )
            problem = _value_problem(env.get("value"))
            if problem:
                yield f"{where}.value", problem
        elif (env.get("valueFrom") or {}).get("configMapKeyRef") and _looks_like_credential(name) and name not in known:
            yield (
                f"{where}.valueFrom.configMapKeyRef",
                "a credential read from a ConfigMap (which is in Git); use secretKeyRef",
            )
    literal = [str(e.get("value")) for e in c.spec.get("env") or [] if "value" in e]
    for parts, what in ((literal, "env values"), ([str(a) for a in c.spec.get("args") or []], "args")):
        joined = credential_in_value("".join(parts)) or credential_in_value("\n".join(parts))
        if joined and not any(credential_in_value(p) for p in parts):
            yield f"{c.field}.{what.split()[0]}", f"{joined} split over several {what}; keep it in a Secret"
    for kind in ("command", "args"):
        items = c.spec.get(kind) or []
        for index, arg in enumerate(items):
            text = str(arg)
            problem = _value_problem(text)
            flag = text.lstrip("-").split("=", 1)
            if not problem and text.startswith("-") and _looks_like_credential(flag[0]) and flag[0] not in known:
                has_value = len(flag) == 2 or (index + 1 < len(items) and not str(items[index + 1]).startswith("-"))
                if has_value:
                    problem = "a credential as a command-line flag (it shows in the process list and logs); read it from a Secret"
            if problem:
                yield f"{c.field}.{kind}[{index}]", problem


def _annotation_problems(value: object, path: str) -> Iterator[tuple[str, str]]:
    """Every `annotations` and `labels` map anywhere in an object (pod templates included)."""
    if isinstance(value, dict):
        for key, child in value.items():
            here = f"{path}.{key}" if path else str(key)
            if key in ("annotations", "labels") and isinstance(child, dict):
                for name, text in child.items():
                    where = f"{here}[{name}]"
                    if _looks_like_credential(str(name)) and key == "annotations":
                        yield where, "a credential-named annotation with a literal value; keep it in a Secret"
                    problem = _value_problem(text)
                    if problem:
                        yield where, problem
            else:
                yield from _annotation_problems(child, here)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            name = child.get("name", index) if isinstance(child, dict) else index
            yield from _annotation_problems(child, f"{path}[{name}]")


def _configmap_problems(doc: dict, known: frozenset[str]) -> Iterator[tuple[str, str]]:
    for key, value in (doc.get("data") or {}).items():
        if _looks_like_credential(str(key)) and key not in known:
            yield f"data.{key}", "a credential in a ConfigMap; put it in a Secret and reference it by name"
        problem = _value_problem(value)
        if problem:
            yield f"data.{key}", problem
    for key, value in (doc.get("binaryData") or {}).items():
        if _looks_like_credential(str(key)):
            yield f"binaryData.{key}", "a credential in a ConfigMap; put it in a Secret and reference it by name"
        try:
            decoded = base64.b64decode(str(value), validate=False).decode("utf-8", errors="replace")
        except (ValueError, TypeError):
            decoded = str(value)
        problem = _value_problem(decoded)
        if problem:
            yield f"binaryData.{key}", problem


def rule_credentials_by_reference(r: Rendered) -> Iterator[Violation]:
    """A credential-named variable, key, flag or annotation with a literal value, or a value that is
    a credential whatever its name, anywhere a rendered object can carry one."""
    known = _trainer_keys()
    for c in containers(r):
        for where, problem in container_problems(c, known):
            yield Violation(r.name, describe(c.pod.job.doc), where, problem)
    for doc in r.of_kind("ConfigMap"):
        for where, problem in _configmap_problems(doc, known):
            yield Violation(r.name, describe(doc), where, problem)
    for doc in r.documents:
        for where, problem in _annotation_problems(doc, ""):
            yield Violation(r.name, describe(doc), where, problem)


def _trainer_keys() -> frozenset[str]:
    """The trainer's own keys are typed configuration (maxTokens is not a token)."""
    from scripts.policy.trainer_config import known_keys

    return known_keys().known


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
