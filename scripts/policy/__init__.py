"""Policy rules every experiment must pass before it can merge: `make validate` runs them.

Per-render rules take one rendered kustomization (and, for those that read platform/, the
repository root); cross-experiment rules take them all. Every Violation names the kustomization,
the object, the field and the fix, so a reviewer can mend an overlay without reading the rule.
A rule that fails on input it did not expect reports that as a problem too: `make validate`
never ends in a traceback.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from scripts.manifests import Rendered
from scripts.policy import (
    allowlist,
    budget,
    experiment_dirs,
    images,
    jobs,
    outputs,
    pod_security,
    pod_wiring,
    project,
    secrets,
    served,
    serving,
    trainer_config,
)
from scripts.policy.violation import Violation

__all__ = ["Violation", "check", "check_all", "check_directories", "scan_repository_for_secrets"]

# rule(render)
RULES = [
    *jobs.RULES,
    *pod_security.RULES,
    *pod_wiring.RULES,
    *trainer_config.RULES,
    *served.RULES,
    images.rule_pinned_images,
    secrets.rule_no_inline_secrets,
    secrets.rule_credentials_by_reference,
    *serving.RULES,
]
# rule(render, repository root): rules that read platform/ (the allowlist, the budget)
ROOT_RULES = [
    *trainer_config.ROOT_RULES,
    *budget.ROOT_RULES,
    outputs.rule_own_run_path,
    images.rule_allowed_registries,
    allowlist.rule_kinds_and_names,
]
# rule(kustomization name, repository root), before rendering: an experiment's directory
DIRECTORY_RULES = [
    experiment_dirs.rule_only_referenced_files,
    experiment_dirs.rule_application_name,
    experiment_dirs.rule_kustomization_shape,
]


def _unique(violations) -> list[Violation]:
    """Chief and Workers share a template, so one mistake can be reported once per replica. No
    report shows a credential (a rule may quote the value it refuses; CI logs are not secret)."""
    return list(dict.fromkeys(Violation(v.where, v.obj, v.field, secrets.redact(v.message)) for v in violations))


def guarded(where: str, rule: Callable, *args) -> list[Violation]:
    """The rule's violations; an exception becomes one violation naming the rule, not a traceback."""
    try:
        return list(rule(*args))
    except Exception as exc:  # noqa: BLE001 - any bug in a rule must still end in one clear line
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return [
            Violation(
                where,
                "policy",
                getattr(rule, "__name__", str(rule)),
                f"could not judge this render ({type(exc).__name__}: {exc} at {Path(frame.filename).name}:{frame.lineno}); "
                "fix the problems reported above, and report this if it stays",
            )
        ]


def check(rendered: Rendered, root: Path | None = None) -> list[Violation]:
    found = [v for rule in RULES for v in guarded(rendered.name, rule, rendered)]
    # ROOT_RULES judge experiments against platform/ (allowlist, budget, registries); the platform's
    # own services are the platform team's and are judged by scripts/policy/services.py.
    if root is not None and not rendered.name.startswith("platform/"):
        found += [v for rule in ROOT_RULES for v in guarded(rendered.name, rule, rendered, root)]
    return _unique(found)


def check_directories(names: Iterable[str], root: Path) -> list[Violation]:
    """Rules on experiment directories (files, names, kustomization fields), before rendering."""
    experiments = [n for n in names if platform_workload(n, root)]
    return _unique(v for name in experiments for rule in DIRECTORY_RULES for v in guarded(name, rule, name, root))


def platform_workload(name: str, root: Path):
    from scripts.policy import platform

    return platform.allowlist(root).workload_of(name)


def check_all(rendered: list[Rendered], root: Path) -> list[Violation]:
    """Every rule on every render, plus the rules across experiments (sources are checked before
    rendering, by scripts/validate.py)."""
    ok = [r for r in rendered if not r.error]
    problems = [v for r in ok for v in check(r, root)]
    cache: dict[str, Rendered] = {}
    references: dict[str, Rendered] = {}
    guarded(".", allowlist.prefetch_references, ok, root, references)
    for r in ok:
        # platform/ holds the platform team's services (judged by scripts/policy/services.py), serving/
        # what serves models (scripts/policy/serving.py): neither is an experiment
        if r.name != "." and not r.name.startswith("platform/") and not serving.is_serving(r.name):
            problems += guarded(r.name, images.rule_image_overrides_match, r, root, cache)
            problems += guarded(r.name, allowlist.rule_only_allowed_changes, r, root, references)
    experiments = [r for r in ok if r.name.startswith("overlays/")]
    served = [r for r in ok if serving.is_serving(r.name)]
    bootstrap = [r for r in ok if r.name == "."]
    problems += guarded("overlays", project.rule_no_shared_objects, experiments + served)
    problems += guarded("overlays", outputs.rule_no_shared_outputs, experiments, root)
    for root_render in bootstrap:
        judged = serving.without_serving_project(root_render)  # the serving project: serving.py
        problems += guarded(".", project.rule_project_whitelist, judged, experiments, root)
        problems += guarded(".", project.rule_restricted_namespace, root_render)
    problems += guarded("serving", serving.check_all, served, experiments, bootstrap, root)
    return _unique(problems)


def scan_repository_for_secrets(files: list[Path], root: Path) -> list[Violation]:
    return secrets.scan_files(files, root)
