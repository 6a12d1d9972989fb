"""(b) The Prefect benchmark flow end to end on the smallest pipeline, under Prefect's test harness
(a temporary API server on loopback), plus the nightly deployment: its schedule object and the
deployment as the server stores it after ``deploy`` to a process work pool.

The tiny pipeline: one 2-D dataset (1,000 points), wgan, seed 0, 50 steps, in a fresh git + DVC
copy of this working tree with a local DVC remote, so the flow's pull -> stages -> push path runs.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

# Prefect reads PREFECT_HOME when first imported: keep its files out of ~/.prefect (CI sets it too).
os.environ.setdefault("PREFECT_HOME", str(Path(tempfile.gettempdir()) / "ucgan-it-prefect-home"))
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    t0 = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=60):
        print(f"\n[timing] prefect test server ready in {time.perf_counter() - t0:.1f} s")
        yield


def _import(*names: str) -> tuple[Any, ...]:
    from importlib import import_module

    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    return tuple(import_module(n) for n in names)


@pytest.fixture(scope="module")
def pipelines() -> Any:
    """The flows module and the deployments module."""
    return _import("pipelines.flows", "pipelines.deploy")


@pytest.fixture(scope="module")
def planning() -> Any:
    """The plan and the dvc runner: importable without Prefect."""
    return _import("pipelines.plan", "pipelines.dvc_runner")


def test_benchmark_flow_end_to_end(harness: None, pipelines: Any, tmp_path: Path, it: Any,
                                   monkeypatch: pytest.MonkeyPatch, timed: None) -> None:
    flows, _ = pipelines
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # tiny MLP: one thread is faster on a busy 2-core box
    repo = it.make_tiny_repo(tmp_path / "repo")
    remote = tmp_path / "remote"
    it.dvc("remote", "add", "-d", "shared", str(remote), cwd=repo)

    t0 = time.perf_counter()
    state = flows.benchmark(repo=str(repo), return_state=True)
    print(f"[timing] flow run (tiny pipeline): {time.perf_counter() - t0:.1f} s")
    assert state.is_completed(), state.message
    s = state.result()
    stage = f"train@{it.TINY}-wgan-0"
    assert stage in s["ran"] and f"evaluate@{it.TINY}-wgan-0" in s["ran"] and f"prepare@{it.TINY}" in s["ran"]
    assert not s["failed"]
    metrics = repo / "metrics" / it.TINY / "wgan-s0.json"
    assert metrics.is_file() and (repo / "models" / it.TINY / "wgan-s0" / "model.pt").is_file()
    assert s["report"] and (repo / "reports" / "summary.csv").is_file() and (repo / "reports" / f"{it.TINY}.md").is_file()
    # the final `dvc repro` found nothing left, and DVC agrees
    assert "Data and pipelines are up to date" in it.dvc("status", cwd=repo).stdout
    # pushed to the remote: the cache objects and the run cache
    assert any(remote.rglob("*")), "dvc push left the remote empty"
    assert (remote / "runs").is_dir()


def test_retry_policy_and_plan(planning: Any) -> None:
    plan_mod, runner = planning
    assert runner.classify_failure(1, ["ERROR: Unable to acquire lock. Most likely another DVC process is running"])
    assert not runner.classify_failure(1, ["ERROR: failed to reproduce 'train@x-wgan-0': failed to run: ucgan train ..., exited with 2"])
    assert runner.classify_failure(1, ["ERROR: failed to reproduce 'train@x-wgan-0': failed to run: ucgan train ..., exited with -9"])
    assert runner.classify_failure(1, ["error: MLflow tracking server http://x is unreachable (...)", "exited with 2"])
    assert not runner.classify_failure(255, ["ERROR: The output paths:", "overlap and are thus in the same tracked directory."])
    stages = ["prepare@a", "validate@a", "pretrain@a", "prepare@a-2", "train@a-wgan-0", "train@a-wgan-1",
              "evaluate@a-wgan-0", "evaluate@a-wgan-1", "report"]
    plan = plan_mod.make_plan(stages, ["a"], ["wgan"], [0, 1])
    assert plan.data == {"a": ["prepare@a", "validate@a", "pretrain@a"]} and plan.report == ["report"]
    assert plan.runs == [("a", "wgan", 0), ("a", "wgan", 1)] and plan.complete
    sub = plan_mod.make_plan(stages, ["a"], ["wgan"], [0, 1], only_seeds=[1])
    assert sub.runs == [("a", "wgan", 1)] and not sub.complete
    with pytest.raises(ValueError, match="train@a-slogan-0"):
        plan_mod.make_plan(stages, ["a"], ["wgan", "slogan"], [0])
    assert list(runner._split_lines([b"a\rb", b"\nc\n", b"d"])) == ["a", "b", "c", "d"]


def test_plan_covers_listed_runs(planning: Any, tmp_path: Path) -> None:
    """train.runs fan out like the matrix, under dvc.yaml's train-listed@run<i> names."""
    plan_mod, _ = planning
    (tmp_path / "params.yaml").write_text(
        "train: {datasets: [a, b], methods: [], seeds: [],\n"
        "        runs: [{dataset: b, method: scgan, seed: 0}, {dataset: b, method: scgan, seed: 2, steps: 9}]}\n")
    d, m, s, listed = plan_mod.read_matrix(tmp_path)
    assert (d, m, s, listed) == (["a", "b"], [], [], [("b", "scgan", 0), ("b", "scgan", 2)])
    stages = ["prepare@b", "train-listed@run0", "train-listed@run1", "evaluate-listed@run0", "evaluate-listed@run1", "report"]
    plan = plan_mod.make_plan(stages, d, m, s, listed=listed)
    assert plan.runs == listed and plan.data == {"b": ["prepare@b"]}
    assert [plan.train(*r) for r in plan.runs] == ["train-listed@run0", "train-listed@run1"]
    assert plan.evaluate("b", "scgan", 2) == "evaluate-listed@run1"
    only = plan_mod.make_plan(stages, d, m, s, only_seeds=[2], listed=listed)
    assert only.runs == [("b", "scgan", 2)] and not only.complete
    with pytest.raises(ValueError, match="train-listed@run1"):
        plan_mod.make_plan(stages[:2] + stages[3:], d, m, s, listed=listed)


def test_nightly_deployment_has_cron(harness: None, pipelines: Any, tmp_path: Path, timed: None) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    _, deploy = pipelines
    local = deploy.nightly_local()
    assert local.schedules[0].schedule.cron == "0 2 * * *" and local.schedules[0].schedule.timezone == "UTC"
    assert local.concurrency_limit == 1

    root = Path(__file__).resolve().parents[2]
    gpu_template = json.loads((root / "infra" / "k8s" / "gpu-base-job-template.json").read_text())
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name="ucgan-it-pool", type="process"))
        # the server accepts the GPU template (placeholders match declared variables)
        k8s = client.create_work_pool(WorkPoolCreate(name="ucgan-it-k8s", type="kubernetes",
                                                     base_job_template=gpu_template))
        limits = k8s.base_job_template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert limits["nvidia.com/gpu"] == "{{ gpu_count }}"
        assert k8s.base_job_template["variables"]["properties"]["gpu_count"]["default"] == 1
    dep_id = deploy.deploy_nightly(repo=deploy.REPO, work_pool="ucgan-it-pool", cron="30 3 * * *")
    with get_client(sync_client=True) as client:
        dep = client.read_deployment(dep_id)
        assert dep.name == "nightly" and dep.work_pool_name == "ucgan-it-pool"
        assert [s.schedule.cron for s in dep.schedules] == ["30 3 * * *"] and all(s.active for s in dep.schedules)
        assert dep.entrypoint == "pipelines/flows.py:benchmark"
        assert dep.job_variables["env"]["DVC_NO_ANALYTICS"] == "1"
        fl = client.read_flow(dep.flow_id)
        assert fl.name == "ucgan-benchmark"


def test_prefect_yaml_deploys(harness: None, pipelines: Any, it: Any, tmp_path: Path, timed: None) -> None:
    """`prefect deploy --prefect-file pipelines/prefect.yaml` (the documented command) against the
    test server: the nightly deployment lands with its cron, the pull step keeps $UCGAN_REPO."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.settings import PREFECT_API_URL

    root = Path(__file__).resolve().parents[2]
    with get_client(sync_client=True) as client:  # the documented first step: the pool exists
        client.create_work_pool(WorkPoolCreate(name="ucgan-gpu", type="process"))
    env = {"PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_HOME": str(tmp_path / "home")}
    r = it.run([str(it.VENV_BIN / "prefect"), "--no-prompt", "deploy", "--prefect-file", "pipelines/prefect.yaml",
                "--name", "nightly", "--name", "gpu"], root, timeout=120, **env)
    assert "ucgan-benchmark/nightly" in r.stdout, r.stdout
    with get_client(sync_client=True) as client:
        dep = client.read_deployment_by_name("ucgan-benchmark/nightly")
        assert [s.schedule.cron for s in dep.schedules] == ["0 2 * * *"] and dep.work_pool_name == "ucgan-gpu"
        assert dep.pull_steps == [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $UCGAN_REPO }}"}}]
        assert client.read_deployment_by_name("ucgan-stage/gpu").parameters == {"repo": "."}


def test_prefect_yaml_is_consistent(pipelines: Any) -> None:
    """pipelines/prefect.yaml parses, points at real flows, and schedules the nightly run."""
    import yaml

    root = Path(__file__).resolve().parents[2]
    spec = yaml.safe_load((root / "pipelines" / "prefect.yaml").read_text(encoding="utf-8"))
    deps = {d["name"]: d for d in spec["deployments"]}
    assert deps["nightly"]["schedules"][0]["cron"] == "0 2 * * *"
    flows, _ = pipelines
    for d in deps.values():
        path, fn = d["entrypoint"].split(":")
        assert path == "pipelines/flows.py" and (root / path).is_file() and hasattr(flows, fn)
        assert d["work_pool"]["job_variables"]["env"]["DO_NOT_TRACK"] == "1"


def test_k8s_deployments_request_no_gpu_for_the_orchestrator(harness: None, pipelines: Any, it: Any, tmp_path: Path,
                                                             timed: None) -> None:
    """The documented Kubernetes deploy (non-interactive): the orchestrator asks for 0 GPUs, stage
    runs keep the pool's default of 1, and the git token stays a run-time placeholder (from the pod's
    Secret), never a value stored in the deployment."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.settings import PREFECT_API_URL

    root = Path(__file__).resolve().parents[2]
    template = json.loads((root / "infra" / "k8s" / "gpu-base-job-template.json").read_text())
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name="ucgan-k8s-gpu", type="kubernetes", base_job_template=template))
        except Exception:  # noqa: BLE001 - created by an earlier test of this module
            pass
    env = {"PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_HOME": str(tmp_path / "home"),
           "UCGAN_GIT_URL": "https://git.example.org/ucgan.git", "UCGAN_IMAGE": "registry.example.org/ucgan-runner:abc"}
    r = it.run([str(it.VENV_BIN / "prefect"), "--no-prompt", "deploy", "--prefect-file", "pipelines/prefect.yaml",
                "--name", "nightly-k8s", "--name", "k8s"], root, timeout=120, **env)
    assert "ucgan-benchmark/nightly-k8s" in r.stdout, r.stdout
    with get_client(sync_client=True) as client:
        orch = client.read_deployment_by_name("ucgan-benchmark/nightly-k8s")
        stage = client.read_deployment_by_name("ucgan-stage/k8s")
    assert orch.job_variables["gpu_count"] == 0 and "gpu_count" not in stage.job_variables
    assert orch.job_variables["image"] == "registry.example.org/ucgan-runner:abc"
    clone = orch.pull_steps[0]["prefect.deployments.steps.git_clone"]
    assert clone["repository"] == "https://git.example.org/ucgan.git"
    assert clone["access_token"] == "{{ $UCGAN_GIT_TOKEN }}"
    assert "CUDA_VISIBLE_DEVICES" not in json.dumps(stage.job_variables)
