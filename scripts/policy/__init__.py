"""Policy rules every experiment must pass before it can merge: `make validate` runs them.

Per-render rules take one rendered kustomization; cross-experiment rules take them all. Every
Violation names the kustomization, the object, the field and the fix, so a reviewer can mend an
overlay without reading the rule.
"""

from __future__ import annotations

from pathlib import Path

from scripts.manifests import Rendered
from scripts.policy import images, jobs, pod_security, pod_wiring, project, secrets, serving, trainer_config
from scripts.policy.violation import Violation

__all__ = ["Violation", "check", "check_all", "scan_repository_for_secrets"]

RULES = [
    *jobs.RULES,
    *pod_security.RULES,
    *pod_wiring.RULES,
    *trainer_config.RULES,
    images.rule_pinned_images,
    secrets.rule_no_inline_secrets,
    secrets.rule_credentials_by_reference,
    *serving.RULES,
]


def _unique(violations) -> list[Violation]:
    """Chief and Workers share a template, so one mistake can be reported once per replica."""
    return list(dict.fromkeys(violations))


def check(rendered: Rendered) -> list[Violation]:
    return _unique(v for rule in RULES for v in rule(rendered))


def check_all(rendered: list[Rendered], root: Path) -> list[Violation]:
    """Every rule on every render, plus the rules across experiments (sources are checked before
    rendering, by scripts/validate.py)."""
    ok = [r for r in rendered if not r.error]
    problems = [v for r in ok for v in check(r)]
    cache: dict[str, Rendered] = {}
    for r in ok:
        if r.name != ".":
            problems += images.rule_image_overrides_match(r, root, cache)
    experiments = [r for r in ok if r.name.startswith("overlays/")]
    served = [r for r in ok if serving.is_serving(r.name)]
    bootstrap = [r for r in ok if r.name == "."]
    problems += project.rule_no_shared_objects(experiments + served)
    for root_render in bootstrap:
        problems += project.rule_project_whitelist(serving.without_serving_project(root_render), experiments)
        problems += project.rule_restricted_namespace(root_render)
    problems += serving.check_all(served, experiments, bootstrap, root)
    return _unique(problems)


def scan_repository_for_secrets(files: list[Path], root: Path) -> list[Violation]:
    return secrets.scan_files(files, root)
