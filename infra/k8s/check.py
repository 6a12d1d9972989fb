"""Offline structural check of the Kubernetes manifests in infra/k8s/ (no cluster, no network).

Why our own: kubeconform/kubeval need schema downloads (or a binary) that CI here cannot fetch. This
checks what a cluster would reject at ``kubectl apply`` time for the kinds we ship, using the
required fields of the Kubernetes API reference, plus the cross references between our files that
no schema can see (a RoleBinding's Role and ServiceAccount exist, every Secret a pod reads is
defined, the worker's service account exists, selectors match their pod labels).

The Prefect base job template (gpu-base-job-template.json) is checked as the Job it becomes: every
``{{ placeholder }}`` must be a declared variable, and the manifest is rendered with the variables'
defaults before the Job checks run.

Usage: ``python infra/k8s/check.py`` (exit 1 and one line per problem when something is wrong).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Iterable

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"
#: apiVersion each kind we ship must use (the stable groups; beta versions are gone from clusters).
API_VERSIONS = {
    "Namespace": "v1", "ServiceAccount": "v1", "Secret": "v1", "ConfigMap": "v1",
    "Role": "rbac.authorization.k8s.io/v1", "RoleBinding": "rbac.authorization.k8s.io/v1",
    "ClusterRole": "rbac.authorization.k8s.io/v1", "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
    "Deployment": "apps/v1", "Job": "batch/v1",
}
NAMESPACED = {"ServiceAccount", "Secret", "ConfigMap", "Role", "RoleBinding", "Deployment", "Job"}
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


def _req(obj: Any, path: str, where: str, out: list[str], typ: type | tuple[type, ...] | None = None) -> Any:
    """The value at dotted ``path`` of ``obj``, recording a problem when it is missing (or mistyped)."""
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur or cur[part] in (None, ""):
            out.append(f"{where}: missing required field {path}")
            return None
        cur = cur[part]
    if typ is not None and not isinstance(cur, typ):
        out.append(f"{where}: {path} must be {getattr(typ, '__name__', typ)}, got {type(cur).__name__}")
        return None
    return cur


def check_pod_spec(spec: Any, where: str, out: list[str]) -> None:
    containers = _req(spec, "containers", where, out, list) or []
    if not containers:
        out.append(f"{where}: spec.containers must list at least one container")
    names = set()
    for i, c in enumerate(containers):
        w = f"{where}.containers[{i}]"
        name = _req(c, "name", w, out, str)
        _req(c, "image", w, out, str)
        if name in names:
            out.append(f"{w}: duplicate container name {name}")
        names.add(name)
        for j, e in enumerate(c.get("env") or []):
            if not isinstance(e, dict) or not _ENV_NAME.match(str(e.get("name", ""))):
                out.append(f"{w}.env[{j}]: needs a valid name")
            elif "value" in e and "valueFrom" in e:
                out.append(f"{w}.env[{j}] ({e['name']}): value and valueFrom exclude each other")
            elif "valueFrom" in e:
                vf = e["valueFrom"]
                if not isinstance(vf, dict) or len(vf) != 1:
                    out.append(f"{w}.env[{j}] ({e['name']}): valueFrom needs exactly one source")
                elif "secretKeyRef" in vf:
                    _req(vf, "secretKeyRef.name", f"{w}.env[{j}]", out, str)
                    _req(vf, "secretKeyRef.key", f"{w}.env[{j}]", out, str)
            elif "value" in e and not isinstance(e["value"], str):
                out.append(f"{w}.env[{j}] ({e['name']}): value must be a string (quote numbers), got {e['value']!r}")
        for j, ef in enumerate(c.get("envFrom") or []):
            refs = [k for k in ("secretRef", "configMapRef") if k in (ef or {})]
            if len(refs) != 1:
                out.append(f"{w}.envFrom[{j}]: needs exactly one of secretRef / configMapRef")
            else:
                _req(ef, f"{refs[0]}.name", f"{w}.envFrom[{j}]", out, str)
        for k in ("limits", "requests"):
            for res, v in ((c.get("resources") or {}).get(k) or {}).items():
                if not isinstance(v, (str, int)) or isinstance(v, bool):
                    out.append(f"{w}.resources.{k}.{res}: must be a quantity, got {v!r}")


def check(doc: dict[str, Any], where: str) -> list[str]:
    """Problems of one manifest (required fields of its kind)."""
    out: list[str] = []
    kind = _req(doc, "kind", where, out, str)
    api = _req(doc, "apiVersion", where, out, str)
    name = _req(doc, "metadata.name", where, out, str)
    if kind is None:
        return out
    where = f"{where} {kind}/{name}"
    if kind in API_VERSIONS and api and api != API_VERSIONS[kind]:
        out.append(f"{where}: apiVersion {api}, expected {API_VERSIONS[kind]}")
    if kind not in API_VERSIONS:
        out.append(f"{where}: kind {kind} is not one this checker knows; add its required fields")
    if name and not _NAME.match(name):
        out.append(f"{where}: metadata.name {name!r} is not a DNS-1123 name")
    if kind in NAMESPACED and not (doc.get("metadata") or {}).get("namespace"):
        out.append(f"{where}: metadata.namespace missing (manifests must not depend on kubectl's current namespace)")
    if kind == "Secret":
        if not (doc.get("data") or doc.get("stringData")):
            out.append(f"{where}: a Secret needs data or stringData")
        for k, v in (doc.get("stringData") or {}).items():
            if not isinstance(v, str):
                out.append(f"{where}: stringData.{k} must be a string, got {v!r}")
    elif kind in ("Role", "ClusterRole"):
        for i, r in enumerate(_req(doc, "rules", where, out, list) or []):
            for f in ("apiGroups", "resources", "verbs"):
                _req(r, f, f"{where}.rules[{i}]", out, list)
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        for f in ("apiGroup", "kind", "name"):
            _req(doc, f"roleRef.{f}", where, out, str)
        for i, s in enumerate(_req(doc, "subjects", where, out, list) or []):
            _req(s, "kind", f"{where}.subjects[{i}]", out, str)
            _req(s, "name", f"{where}.subjects[{i}]", out, str)
            if s.get("kind") == "ServiceAccount":
                _req(s, "namespace", f"{where}.subjects[{i}]", out, str)
    elif kind == "Deployment":
        sel = _req(doc, "spec.selector.matchLabels", where, out, dict) or {}
        labels = ((doc.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
        if any(labels.get(k) != v for k, v in sel.items()):
            out.append(f"{where}: spec.selector.matchLabels {sel} do not match the pod template labels {labels}")
        check_pod_spec(_req(doc, "spec.template.spec", where, out, dict) or {}, where, out)
    elif kind == "Job":
        spec = _req(doc, "spec.template.spec", where, out, dict) or {}
        if spec.get("restartPolicy") not in ("Never", "OnFailure"):
            out.append(f"{where}: a Job's pods need restartPolicy Never or OnFailure, got {spec.get('restartPolicy')!r}")
        check_pod_spec(spec, where, out)
    return out


def render_job_template(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The Job a Prefect base job template becomes with its variables' defaults, and the problems
    of the template itself (placeholders without a declared variable)."""
    t = json.loads(path.read_text(encoding="utf-8"))
    props = t["variables"]["properties"]
    problems = [f"{path.name}: placeholder {{{{ {p} }}}} has no variable in variables.properties"
                for p in sorted(set(_PLACEHOLDER.findall(json.dumps(t["job_configuration"])))) if p not in props]
    # values a worker would substitute: defaults, and typical ones for the per-run fields
    values = {k: v.get("default") for k, v in props.items()}
    values.update(name="ucgan-run", image=values.get("image") or "registry.example.org/ucgan-runner:test",
                  command=["prefect", "flow-run", "execute"], env=[{"name": "PREFECT__FLOW_RUN_ID", "value": "x"}],
                  labels={"app.kubernetes.io/part-of": "ucgan"})

    def fill(o: Any) -> Any:
        if isinstance(o, dict):
            return {k: fill(v) for k, v in o.items()}
        if isinstance(o, list):
            return [fill(v) for v in o]
        if isinstance(o, str):
            m = _PLACEHOLDER.fullmatch(o.strip())
            if m:
                return values.get(m.group(1))
            return _PLACEHOLDER.sub(lambda mm: str(values.get(mm.group(1), "")), o)
        return o

    job = fill(t["job_configuration"]["job_manifest"])
    job.setdefault("metadata", {})["name"] = "ucgan-run-x"  # generateName in the template
    return job, problems


def load_all(root: Path = K8S) -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for p in sorted(root.glob("*.yaml")):
        for i, d in enumerate(yaml.safe_load_all(p.read_text(encoding="utf-8"))):
            if d is not None:
                docs.append((f"{p.name}#{i}", d))
    return docs


def cross_references(docs: Iterable[tuple[str, dict[str, Any]]], job: dict[str, Any] | None) -> list[str]:
    """References between our manifests that schemas cannot check."""
    have = {(d.get("kind"), (d.get("metadata") or {}).get("name")) for _, d in docs}
    out = []
    for where, d in docs:
        if d.get("kind") == "RoleBinding":
            ref = d.get("roleRef") or {}
            if (ref.get("kind"), ref.get("name")) not in have:
                out.append(f"{where}: roleRef {ref.get('kind')}/{ref.get('name')} is not defined in infra/k8s/")
            for s in d.get("subjects") or []:
                if s.get("kind") == "ServiceAccount" and ("ServiceAccount", s.get("name")) not in have:
                    out.append(f"{where}: subject ServiceAccount/{s.get('name')} is not defined")
    pods = [(w, ((d.get("spec") or {}).get("template") or {}).get("spec") or {}) for w, d in docs if d.get("kind") == "Deployment"]
    if job is not None:
        pods.append(("job template", job["spec"]["template"]["spec"]))
    for where, spec in pods:
        sa = spec.get("serviceAccountName")
        if sa and ("ServiceAccount", sa) not in have:
            out.append(f"{where}: serviceAccountName {sa} is not defined in infra/k8s/rbac.yaml")
        for c in spec.get("containers") or []:
            refs = [ef.get("secretRef", {}).get("name") for ef in c.get("envFrom") or []]
            refs += [((e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name") for e in c.get("env") or []]
            for r in filter(None, refs):
                if ("Secret", r) not in have:
                    out.append(f"{where}: Secret {r} is read but not defined (secrets.example.yaml)")
    return out


def problems(root: Path = K8S) -> list[str]:
    docs = load_all(root)
    out = [p for where, d in docs for p in check(d, where)]
    job = None
    tmpl = root / "gpu-base-job-template.json"
    if tmpl.is_file():
        job, tp = render_job_template(tmpl)
        out += tp + check(job, tmpl.name)
    return out + cross_references(docs, job)


if __name__ == "__main__":
    bad = problems()
    for b in bad:
        print("k8s check:", b, file=sys.stderr)
    if not bad:
        print(f"k8s check: {len(load_all())} manifests and the job template are valid")
    sys.exit(1 if bad else 0)
