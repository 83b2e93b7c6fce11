"""An experiment may change only what platform/allowlist.yaml lists: judged on the rendered objects.

Each experiment (or Katib search) is rendered beside its reference: the workload's reference
directory (base/, katib/base) with the components the experiment lists from components/ and its
own namePrefix and nameSuffix, i.e. everything the platform owns and nothing the experiment
wrote. Generated names lose their hash suffix on both sides. Then:

- an object the reference does not render, or that the experiment drops, is refused;
- every field where the two differ must match an allowed path for that kind (and an allowed
  value, when the allowlist lists values), whatever the field is: a field nobody thought of is
  refused, not allowed;
- every object is of a kind the workload may render, is named with the experiment's own prefix
  (or suffix), and never takes a name the namespace or the platform shares.

The values themselves are judged by the other rules (budget, images, the trainer's parser).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from scripts.manifests import Rendered, render
from scripts.policy import fieldpath, platform
from scripts.policy.secrets import credential_in_value
from scripts.policy.sources import kustomization_file, try_load_kustomization
from scripts.policy.violation import Violation, describe

# kustomize's name hash: ten characters of its vowel-free encoding (api/hasher: encodeHash).
HASH_SUFFIX = re.compile(r"-[2456789bcdfghkmt]{10}$")
GENERATED_KINDS = ("ConfigMap", "Secret")
FIX = (
    "remove it from the experiment: trainer settings go in its ConfigMap literals; anything else is a "
    "platform change (base/, components/, platform/allowlist.yaml)"
)


def group(doc: dict) -> str:
    api_version = str(doc.get("apiVersion", ""))
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def logical_name(doc: dict) -> str:
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    name = str(metadata.get("name", ""))
    return HASH_SUFFIX.sub("", name) if doc.get("kind") in GENERATED_KINDS else name


def _replace_names(value: object, names: dict[str, str]) -> object:
    if isinstance(value, dict):
        return {k: _replace_names(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_names(v, names) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


def normalized(documents: list[dict]) -> dict[tuple, dict]:
    """Objects by (group, kind, namespace, name), generated names (and references to them) unhashed."""
    names = {
        d["metadata"]["name"]: logical_name(d)
        for d in documents
        if d.get("kind") in GENERATED_KINDS
        and isinstance(d.get("metadata"), dict)
        and isinstance(d["metadata"].get("name"), str)
    }
    out = {}
    for doc in documents:
        doc = _replace_names(doc, names)
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        out[(group(doc), str(doc.get("kind")), str(meta.get("namespace")), str(meta.get("name")))] = doc
    return out


# --- the reference ----------------------------------------------------------------------------


def _components(directory: Path, data: dict, root: Path, workload: platform.Workload) -> list[Path]:
    """The listed components that are the platform's (under components/); others are not part of
    the reference, so whatever they add shows as the experiment's own change."""
    allowed = (root / workload.components).resolve()
    found = []
    listed = data.get("components")
    for entry in listed if isinstance(listed, list) else []:
        target = (directory / str(entry)).resolve()
        if target.is_relative_to(allowed) and kustomization_file(target) is not None:
            found.append(target)
    return found


def reference_kustomization(name: str, root: Path, workload: platform.Workload, at: Path) -> dict:
    """The reference of experiment `name` as a kustomization written in directory `at`."""
    directory = root / name
    data = try_load_kustomization(directory) or {}
    relative = lambda target: os.path.relpath(target, at)  # noqa: E731 (kustomize refuses absolute paths)
    reference: dict = {"resources": [relative((root / workload.reference).resolve())]}
    components = _components(directory, data, root, workload)
    if components:
        reference["components"] = [relative(c) for c in components]
    for key in ("namePrefix", "nameSuffix"):
        if isinstance(data.get(key), str):
            reference[key] = data[key]
    return reference


def render_reference(name: str, root: Path, workload: platform.Workload, cache: dict) -> Rendered:
    scratch = Path(tempfile.mkdtemp(prefix="textjobs-reference-"))
    try:
        kustomization = reference_kustomization(name, root, workload, scratch)
        key = yaml.safe_dump(kustomization, sort_keys=True).replace(str(scratch), "")
        if key not in cache:
            (scratch / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
            cache[key] = render(str(scratch), Path("/"))
        return cache[key]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# --- the comparison ---------------------------------------------------------------------------


def _values(rule: platform.FieldRule, experiment: str) -> list[str]:
    return [v.replace("{name}", experiment) for v in rule.values]


def _rules_for(kind: str, workload: platform.Workload) -> list[platform.FieldRule]:
    return [f for f in workload.fields if fnmatch.fnmatchcase(str(kind), f.kind)]


def _leaf_problem(
    path: fieldpath.Path, value: object, rules: list[platform.FieldRule], experiment: str
) -> tuple[str, bool] | None:
    """None if some rule allows `value` at `path`; else (what is wrong, whether only the value is)."""
    value_problem = None
    for rule in rules:
        if not any(fieldpath.matches(pattern, path) for pattern in rule.paths):
            continue
        allowed = _values(rule, experiment)
        if not allowed or value is fieldpath.MISSING or any(fnmatch.fnmatchcase(str(value), v) for v in allowed):
            return None
        value_problem = f"{_short(value)} is not an allowed value ({', '.join(map(repr, allowed))})"
    return (value_problem, True) if value_problem else ("not a field an experiment may change", False)


def _short(value: object) -> str:
    if credential_in_value(json.dumps(value, default=str)):
        return "(a value that looks like a credential, not shown)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _difference_problem(
    difference: fieldpath.Difference, rules: list[platform.FieldRule], experiment: str
) -> tuple[fieldpath.Path, str] | None:
    before, after = difference.before, difference.after
    if before is fieldpath.MISSING or after is fieldpath.MISSING or type(before) is not type(after):
        # An added or removed subtree: allowed only if every leaf in it is.
        side, verb = (before, "removed") if after is fieldpath.MISSING else (after, "added")
        for path, value in fieldpath.leaves(side, difference.path):
            found = _leaf_problem(path, value if verb == "added" else fieldpath.MISSING, rules, experiment)
            if found:
                problem, value_only = found
                if value_only:  # an allowed field with a value it may not take: name that field
                    return path, f"{verb}: {problem}"
                shown = "" if path == difference.path else f" (at {fieldpath.show(path)})"
                return difference.path, f"{verb}{shown}: {problem}"
        return None
    found = _leaf_problem(difference.path, after, rules, experiment)
    if found is None:
        return None
    return difference.path, f"{_short(before)} in the reference, {_short(after)} here: {found[0]}"


def _pairs(before: dict[tuple, dict], after: dict[tuple, dict]) -> Iterator[tuple[dict | None, dict | None]]:
    """Objects matched by identity; an object renamed by a patch is matched to the one object of
    its kind left on the other side, so the rename is judged as a change of metadata.name."""
    unmatched_before = {k: d for k, d in before.items() if k not in after}
    unmatched_after = {k: d for k, d in after.items() if k not in before}
    for key, doc in after.items():
        if key in before:
            yield before[key], doc
    for key, doc in unmatched_after.items():
        same_kind = [k for k in unmatched_before if k[:3] == key[:3]]
        others = [k for k in unmatched_after if k[:3] == key[:3]]
        if len(same_kind) == 1 and len(others) == 1:
            yield unmatched_before.pop(same_kind[0]), doc
        else:
            yield None, doc
    for doc in unmatched_before.values():
        yield doc, None


def compare(reference: list[dict], rendered: list[dict], workload: platform.Workload, experiment: str):
    """(object, field, problem) for every way `rendered` goes beyond `reference`."""
    for before, doc in _pairs(normalized(reference), normalized(rendered)):
        if doc is None:
            yield (
                describe(before),
                "(object)",
                f"rendered by {workload.reference}/ but dropped by this experiment; keep it",
            )
            continue
        if before is None:
            yield (
                describe(doc),
                "(object)",
                f"not rendered by {workload.reference}/ with the components this experiment lists: an experiment "
                "renders only what those render; remove it (a new kind of object is a new component in components/)",
            )
            continue
        rules = _rules_for(doc.get("kind"), workload)
        for difference in fieldpath.differences(before, doc):
            found = _difference_problem(difference, rules, experiment)
            if found:
                path, problem = found
                yield describe(doc), fieldpath.show(path), f"{problem}; {FIX}"


def prefetch_references(rendered: list[Rendered], root: Path, cache: dict, workers: int = 4) -> None:
    """Render every experiment's reference at once (kustomize runs in parallel, as the renders do)."""
    allowlist = platform.allowlist(root)
    wanted = [(r.name, allowlist.workload_of(r.name)) for r in rendered if not r.error]
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda item: render_reference(item[0], root, item[1], cache), [w for w in wanted if w[1]]))


def rule_only_allowed_changes(r: Rendered, root: Path, cache: dict) -> Iterator[Violation]:
    allowlist = platform.allowlist(root)
    workload = allowlist.workload_of(r.name)
    if workload is None:
        return
    reference = render_reference(r.name, root, workload, cache)
    if reference.error:
        yield Violation(r.name, "reference", "-", f"the reference render failed: {reference.error}")
        return
    for obj, field, problem in compare(reference.documents, r.documents, workload, Path(r.name).name):
        yield Violation(r.name, obj, field, problem)


def rule_kinds_and_names(r: Rendered, root: Path) -> Iterator[Violation]:
    allowlist = platform.allowlist(root)
    workload = allowlist.workload_of(r.name)
    if workload is None:
        return
    experiment = Path(r.name).name
    prefix, suffix = workload.prefix.replace("{name}", experiment), workload.suffix.replace("{name}", experiment)
    kinds = ", ".join(sorted(f"{g or 'core'}/{k}" for g, k in workload.kinds))
    for doc in r.documents:
        obj, name = describe(doc), logical_name(doc)
        if (group(doc), doc.get("kind")) not in workload.kinds:
            yield Violation(
                r.name,
                obj,
                "kind",
                f"{group(doc) or 'core'}/{doc.get('kind')} is not something {workload.directory}/ may render "
                f"(platform/allowlist.yaml: {kinds}); remove it",
            )
        if name in allowlist.reserved_names or str((doc.get("metadata") or {}).get("name")) in allowlist.reserved_names:
            yield Violation(
                r.name,
                obj,
                "metadata.name",
                f"{name!r} is shared by the namespace or the platform (platform/allowlist.yaml: reservedNames); "
                "an experiment never renders it: give the experiment its own name prefix",
            )
        elif not (name.startswith(prefix) and name.endswith(suffix)):
            wanted = " and ".join(f"{w} {v!r}" for w, v in (("start with", prefix), ("end with", suffix)) if v)
            fix = f"namePrefix: {prefix!r}" if prefix else f"nameSuffix: {suffix!r}"
            yield Violation(
                r.name,
                obj,
                "metadata.name",
                f"{name!r} must {wanted} (the directory's name), so no two experiments can render one object; set {fix}",
            )
