"""infra/k8s/ passes the offline schema check, and the check catches the mistakes it claims to."""
from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("ucgan_k8s_check", ROOT / "infra" / "k8s" / "check.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_manifests_pass_the_schema_check():
    k = _tool()
    assert k.problems() == []
    kinds = {d["kind"] for _, d in k.load_all()}
    assert {"Deployment", "Role", "RoleBinding", "ServiceAccount", "Secret", "Namespace"} <= kinds


def test_job_template_reports_home_and_worker_requests_no_gpu():
    k = _tool()
    job, probs = k.render_job_template(ROOT / "infra" / "k8s" / "gpu-base-job-template.json")
    assert probs == []
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert [e["secretRef"]["name"] for e in c["envFrom"]] == ["ucgan-tracking", "ucgan-dvc", "ucgan-git"]
    secrets = {d["metadata"]["name"]: d for _, d in k.load_all() if d["kind"] == "Secret"}
    assert "MLFLOW_TRACKING_URI" in secrets["ucgan-tracking"]["stringData"]
    assert {"UCGAN_DVC_REMOTE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(secrets["ucgan-dvc"]["stringData"])
    assert "UCGAN_GIT_TOKEN" in secrets["ucgan-git"]["stringData"]
    worker = next(d for _, d in k.load_all() if d["kind"] == "Deployment")
    assert "nvidia.com/gpu" not in json.dumps(worker)
    spec = yaml.safe_load((ROOT / "pipelines" / "prefect.yaml").read_text())
    deps = {d["name"]: d for d in spec["deployments"]}
    assert deps["nightly-k8s"]["work_pool"]["job_variables"]["gpu_count"] == 0  # the orchestrator
    assert "gpu_count" not in deps["k8s"]["work_pool"]["job_variables"]           # stage runs: default 1 GPU
    assert "CUDA_VISIBLE_DEVICES" not in json.dumps(spec)


@pytest.mark.parametrize("mutate, expect", [
    (lambda docs: docs["worker-deployment.yaml"][0]["spec"]["template"]["spec"]["containers"][0].pop("image"), "image"),
    (lambda docs: docs["worker-deployment.yaml"][0]["spec"]["selector"]["matchLabels"].update(x="y"), "matchLabels"),
    (lambda docs: docs["rbac.yaml"][3]["roleRef"].update(name="nope"), "roleRef"),
    (lambda docs: docs["rbac.yaml"][2]["rules"][0].pop("verbs"), "verbs"),
    (lambda docs: docs["secrets.example.yaml"].pop(0), "ucgan-tracking"),
    (lambda docs: docs["rbac.yaml"][0]["metadata"].pop("namespace"), "namespace"),
])
def test_check_catches_mistakes(tmp_path, mutate, expect):
    k = _tool()
    src = ROOT / "infra" / "k8s"
    docs = {p.name: [d for d in yaml.safe_load_all(p.read_text()) if d] for p in src.glob("*.yaml")}
    docs = copy.deepcopy(docs)
    mutate(docs)
    for name, ds in docs.items():
        (tmp_path / name).write_text(yaml.safe_dump_all(ds))
    shutil.copy(src / "gpu-base-job-template.json", tmp_path)
    probs = k.problems(tmp_path)
    assert any(expect in p for p in probs), probs


def test_template_placeholder_without_variable_is_caught(tmp_path):
    k = _tool()
    t = json.loads((ROOT / "infra" / "k8s" / "gpu-base-job-template.json").read_text())
    t["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]["priorityClassName"] = "{{ priority }}"
    p = tmp_path / "t.json"
    p.write_text(json.dumps(t))
    assert any("priority" in x for x in k.render_job_template(p)[1])


def test_flow_fails_fast_in_a_pod_without_tracking(tmp_path, monkeypatch):
    root = str(ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    from pipelines import preflight as B

    (tmp_path / "params.yaml").write_text("tracking: {enabled: true, uri: ''}\n")
    monkeypatch.setattr(B, "default_remote", lambda repo: None)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    B.require_results_leave_the_pod(tmp_path)  # a laptop: nothing to check
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    with pytest.raises(RuntimeError, match="MLFLOW_TRACKING_URI") as e:
        B.require_results_leave_the_pod(tmp_path)
    assert "DVC remote" in str(e.value)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    monkeypatch.setattr(B, "default_remote", lambda repo: "shared")
    B.require_results_leave_the_pod(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlruns/mlflow.db")
    with pytest.raises(RuntimeError, match="sqlite"):
        B.require_results_leave_the_pod(tmp_path)
