"""GPU fan-out on loopback: a Prefect server, two process workers standing in for two GPUs, and the
benchmark flow fanning 4 training runs out to the ``ucgan-stage/gpu`` deployment.

What it proves (the multi-GPU contract of infra/README.md):

* nothing in the deployment names a device: each run sees the ``CUDA_VISIBLE_DEVICES`` of the
  worker that took it (each worker: its own index, ``UCGAN_DEVICE=cpu`` here, ``--limit 1``);
* both workers take work (one run at a time each);
* every result comes back through the DVC run cache into the orchestrator's one report.

The workers run in their own clones of the orchestrator's repository (``UCGAN_REPO``), as GPU hosts
do; the deployment is registered with the documented non-interactive ``prefect --no-prompt deploy``.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]  # 150-210 s on 2 busy cores, ~300 s beside two trainings

SEEDS = [0, 1, 2, 3]
DEVICES = {"gpuA": "0", "gpuB": "1"}


def _api(url: str, path: str, body: dict | None = None) -> Any:
    req = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="GET" if body is None else "POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _start(cmd: list[str], cwd: Path, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, cwd=str(cwd), env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        try:
            os.killpg(p.pid, 15)
            p.wait(timeout=10)
        except Exception:  # noqa: BLE001 - a worker stuck on a dead API ignores SIGTERM
            os.killpg(p.pid, 9)
            p.wait(timeout=10)


def test_two_workers_four_runs_one_report(tmp_path: Path, it: Any, timed: None) -> None:
    t0 = time.perf_counter()
    port = it.free_port()
    url = f"http://127.0.0.1:{port}/api"
    base = it.tool_env(PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false", OMP_NUM_THREADS="1",
                       PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="60", PYTHONUNBUFFERED="1")
    base.pop("PREFECT_API_URL", None)
    base.pop("UCGAN_REPO", None)
    for k in ("CUDA_VISIBLE_DEVICES", "UCGAN_DEVICE"):
        base.pop(k, None)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        server = _start([str(it.VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                        tmp_path, tmp_path / "server.log", {**base, "PREFECT_HOME": str(tmp_path / "server-home")})
        procs.append(server)

        # the orchestrator's repository: the tiny pipeline with 4 seeds, a shared DVC remote, committed
        orch = it.make_tiny_repo(tmp_path / "orch", steps=20)
        params = yaml.safe_load((orch / "params.yaml").read_text(encoding="utf-8"))
        params["train"]["seeds"] = SEEDS
        if isinstance(params.get("pretrain"), dict):  # the encoder is not what this test is about
            params["pretrain"]["epochs"] = 2
        (orch / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
        it.dvc("remote", "add", "-d", "shared", str(tmp_path / "remote"), cwd=orch)
        it.git("add", "-A", cwd=orch)
        it.git("commit", "-q", "-m", "four seeds, shared remote", cwd=orch)
        checkouts = {}
        for name in DEVICES:  # every GPU host has its own checkout at the same commit
            checkouts[name] = tmp_path / f"checkout-{name}"
            it.git("clone", "-q", str(orch), str(checkouts[name]), cwd=tmp_path)
        print(f"\n[timing] repositories ready after {time.perf_counter() - t0:.1f} s")

        it.wait_http(f"{url}/health", 90, server)
        print(f"[timing] prefect server ready after {time.perf_counter() - t0:.1f} s")
        client_env = {**base, "PREFECT_API_URL": url, "PREFECT_HOME": str(tmp_path / "client-home")}
        prefect = str(it.VENV_BIN / "prefect")
        r = subprocess.run([prefect, "work-pool", "create", "ucgan-gpu", "--type", "process"], cwd=orch, env=client_env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        r = subprocess.run([prefect, "--no-prompt", "deploy", "--prefect-file", "pipelines/prefect.yaml", "--name", "gpu"],
                           cwd=orch, env=client_env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and "ucgan-stage/gpu" in r.stdout, r.stdout + r.stderr
        dep = _api(url, "/deployments/name/ucgan-stage/gpu")
        assert "CUDA_VISIBLE_DEVICES" not in json.dumps(dep["job_variables"])  # no device hard-coded

        for name, idx in DEVICES.items():  # one worker per "GPU", one run at a time
            env = {**base, "PREFECT_API_URL": url, "PREFECT_HOME": str(tmp_path / f"home-{name}"),
                   "CUDA_VISIBLE_DEVICES": idx, "UCGAN_DEVICE": "cpu", "UCGAN_REPO": str(checkouts[name]),
                   "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "1"}
            procs.append(_start([prefect, "worker", "start", "--pool", "ucgan-gpu", "--type", "process", "--limit", "1",
                                 "--name", name], checkouts[name], tmp_path / f"worker-{name}.log", env))
        print(f"[timing] workers started after {time.perf_counter() - t0:.1f} s")

        r = subprocess.run([str(it.VENV_BIN / "python"), "pipelines/flows.py", "--repo", ".",
                            "--stage-deployment", "ucgan-stage/gpu"], cwd=orch, env=client_env, capture_output=True,
                           text=True, timeout=480)  # 4 runs of ~45 s on 2 workers, plus pulls, pushes, report
        print(f"[timing] fanned-out benchmark finished after {time.perf_counter() - t0:.1f} s")
        logs = {n: (tmp_path / f"worker-{n}.log").read_text(errors="replace") for n in DEVICES}
        assert r.returncode == 0, (r.stdout[-3000:] + r.stderr[-3000:] + "\n".join(f"--- {n}\n{t[-2000:]}" for n, t in logs.items()))

        # every run of the stage deployment completed, on the device of the worker that took it
        runs = _api(url, "/flow_runs/filter", {"deployments": {"id": {"any_": [dep["id"]]}}, "limit": 50})
        assert len(runs) == len(SEEDS) and all(fr["state_type"] == "COMPLETED" for fr in runs), [fr["state_type"] for fr in runs]
        seen: dict[str, str] = {}
        for fr in runs:
            lines = [x["message"] for x in _api(url, "/logs/filter", {"logs": {"flow_run_id": {"any_": [fr["id"]]}},
                                                                      "limit": 200})]
            devs = {m.group(1) for x in lines for m in [re.search(r"device: CUDA_VISIBLE_DEVICES=(\S+)", x)] if m}
            assert len(devs) == 1, f"flow run {fr['name']} logged devices {devs}"
            # a worker that loses the race for a run logs "Aborted submission": the owner is the other one
            owner = [n for n, t in logs.items()
                     if f"submitting flow run '{fr['id']}'" in t and f"Aborted submission of flow run '{fr['id']}'" not in t]
            assert len(owner) == 1, f"flow run {fr['id']} taken by {owner}"
            assert devs == {DEVICES[owner[0]]}, f"{fr['name']} on worker {owner[0]} saw CUDA_VISIBLE_DEVICES={devs}"
            seen[fr["id"]] = owner[0]
        assert set(seen.values()) == set(DEVICES), f"only {set(seen.values())} took work"

        # results came back through the run cache into one report
        for s in SEEDS:
            assert (orch / "metrics" / it.TINY / f"wgan-s{s}.json").is_file()
        with open(orch / "reports" / "summary.csv", encoding="utf-8") as f:
            import csv

            rows = list(csv.DictReader(f))
        assert len(rows) == 1 and int(rows[0]["n_seeds"]) == len(SEEDS)
        assert "Data and pipelines are up to date" in it.dvc("status", cwd=orch).stdout
        print(f"[timing] fan-out test total {time.perf_counter() - t0:.1f} s; runs per worker: "
              f"{ {n: list(seen.values()).count(n) for n in DEVICES} }")
    finally:
        for p in reversed(procs):
            _stop(p)
