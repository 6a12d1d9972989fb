"""What a flow run sets up and checks on the machine it runs on, before any stage starts.

Owns the DVC remote a pod gets from its environment (:func:`ensure_remote_from_env`), the refusal
to start a pod whose results would die with it (:func:`require_results_leave_the_pod`), the
device a worker hands its runs (:func:`device_of_worker`), and the checkout's commit
(:func:`git_head`). No Prefect here: the checks are testable without it.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from pipelines.dvc_runner import default_remote, dvc_exe, tool_env


def git_head(repo: str) -> str | None:
    """The commit checked out in ``repo``, None outside a git checkout."""
    r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def in_kubernetes() -> bool:
    """True inside a Kubernetes pod (the kubelet sets ``KUBERNETES_SERVICE_HOST`` in every container)."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def ensure_remote_from_env(repo: str | Path) -> str | None:
    """Configure ``$UCGAN_DVC_REMOTE_URL`` as the default DVC remote of this checkout (``--local``:
    nothing committed) when the repository has none; pods get the URL and credentials from the
    ``ucgan-dvc`` Secret. Returns the default remote's name afterwards."""
    have = default_remote(repo)
    url = os.environ.get("UCGAN_DVC_REMOTE_URL", "").strip()
    if have or not url:
        return have
    subprocess.run([dvc_exe(), "remote", "add", "--local", "--default", "--force", "ucgan-env", url], cwd=str(repo),
                   env=tool_env(), check=True, capture_output=True, text=True)
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "").strip()
    if endpoint and url.startswith("s3://"):
        subprocess.run([dvc_exe(), "remote", "modify", "--local", "ucgan-env", "endpointurl", endpoint], cwd=str(repo),
                       env=tool_env(), check=True, capture_output=True, text=True)
    return default_remote(repo)


def tracking_uri_of(repo: str | Path, params_file: str = "params.yaml") -> tuple[bool, str]:
    """(tracking enabled, effective URI) as the stages will see them: ``tracking.uri`` of
    params.yaml, else ``$MLFLOW_TRACKING_URI``, else "" (the local SQLite store)."""
    raw = yaml.safe_load((Path(repo) / params_file).read_text(encoding="utf-8")) or {}
    t = raw.get("tracking") or {}
    uri = str(t.get("uri") or "").strip() or os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    return bool(t.get("enabled", True)), uri


def require_results_leave_the_pod(repo: str | Path) -> None:
    """Fail fast in a pod whose results would vanish with it.

    A pod's file system dies with the pod: MLflow runs in the default SQLite store and DVC outputs
    without a remote are lost, silently, after hours of GPU time. Outside Kubernetes this checks
    nothing (a laptop keeps its files).
    """
    if not in_kubernetes():
        return
    enabled, uri = tracking_uri_of(repo)
    problems: list[str] = []
    if enabled and (not uri or uri.startswith(("sqlite:", "file:")) or "://" not in uri):
        problems.append(f"MLflow tracking URI is {uri or 'unset'}: set MLFLOW_TRACKING_URI (Secret ucgan-tracking) "
                        "to the team's server, e.g. http://mlflow.ucgan.svc:5000")
    if not default_remote(repo):
        problems.append("no DVC remote: set UCGAN_DVC_REMOTE_URL and its credentials (Secret ucgan-dvc), "
                        "or commit a default remote (`dvc remote add -d ...`)")
    if problems:
        raise RuntimeError("this pod's results would be lost when it ends; not starting:\n- " + "\n- ".join(problems)
                           + "\n(see infra/README.md, Kubernetes)")


def device_of_worker() -> dict[str, str]:
    """The device this flow run got from its worker's environment.

    Fan-out uses one process worker per GPU, each started with its own ``CUDA_VISIBLE_DEVICES=<i>``
    (and optionally ``UCGAN_DEVICE``) and ``--limit 1``: the worker passes its environment to the
    runs it starts, and the deployments set no device, so every run lands on its worker's GPU and
    each GPU runs one stage at a time. Logged at the start of every stage run (``device: ...``).
    """
    cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
    dev = os.environ.get("UCGAN_DEVICE", "auto")
    summary = f"CUDA_VISIBLE_DEVICES={cvd if cvd is not None else '(unset: every GPU)'} UCGAN_DEVICE={dev}"
    return {"cuda_visible_devices": cvd or "", "ucgan_device": dev, "summary": summary}
