"""Deployments of the benchmark flows, created from code (the same as ``pipelines/prefect.yaml``).

* ``ucgan-benchmark/nightly``: the whole benchmark every night (cron ``0 2 * * *`` UTC, override
  with ``--cron`` or ``UCGAN_NIGHTLY_CRON``) on a work pool (default ``ucgan-gpu``, a *process*
  pool whose worker runs on a GPU machine that has a checkout of this repository). One run at a
  time (``concurrency_limit=1``): two benchmarks in the same checkout would fight over DVC's lock.
* ``ucgan-stage/gpu``: no schedule; the benchmark flow fans training runs out to it
  (``--stage-deployment ucgan-stage/gpu``) so that every GPU worker of the pool takes runs.

Usage (with ``PREFECT_API_URL`` pointing at the team's Prefect server, see infra/README.md)::

    prefect work-pool create ucgan-gpu --type process        # once
    python pipelines/deploy.py deploy --repo /srv/ucgan     # register both deployments
    # one worker per GPU, each with its own device and one run at a time:
    CUDA_VISIBLE_DEVICES=0 prefect worker start --pool ucgan-gpu --limit 1 --name gpu0
    CUDA_VISIBLE_DEVICES=1 prefect worker start --pool ucgan-gpu --limit 1 --name gpu1
    python pipelines/deploy.py serve                         # or: one machine, no worker, no pool

``serve`` runs the schedule inside this process (handy on a single workstation).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: make `pipelines` importable
    sys.path.insert(0, str(REPO))

from pipelines.dvc_runner import TELEMETRY_OFF  # noqa: E402
from pipelines.flows import benchmark, stage_flow  # noqa: E402

NIGHTLY_CRON = os.environ.get("UCGAN_NIGHTLY_CRON", "0 2 * * *")
TIMEZONE = os.environ.get("UCGAN_NIGHTLY_TZ", "UTC")
WORK_POOL = os.environ.get("UCGAN_WORK_POOL", "ucgan-gpu")
BENCHMARK_ENTRYPOINT = "pipelines/flows.py:benchmark"
STAGE_ENTRYPOINT = "pipelines/flows.py:stage_flow"


def job_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of flow runs on workers: telemetry off, one Prefect home per checkout."""
    return {**TELEMETRY_OFF, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "60", **(extra or {})}


def nightly_schedule(cron: str = NIGHTLY_CRON, timezone: str = TIMEZONE) -> Any:
    from prefect.schedules import Cron

    return Cron(cron, timezone=timezone)


def nightly_local(cron: str = NIGHTLY_CRON, timezone: str = TIMEZONE, parameters: dict[str, Any] | None = None) -> Any:
    """The nightly deployment as an object (``RunnerDeployment``) for ``serve`` (no pool needed)."""
    return benchmark.to_deployment(
        name="nightly-local", schedules=[nightly_schedule(cron, timezone)], parameters={"repo": str(REPO), **(parameters or {})},
        tags=["ucgan", "nightly"], description="ucgan benchmark, every night, served by this process",
        concurrency_limit=1)


def deploy_nightly(repo: str | Path = REPO, work_pool: str = WORK_POOL, cron: str = NIGHTLY_CRON,
                   timezone: str = TIMEZONE, parameters: dict[str, Any] | None = None,
                   env: dict[str, str] | None = None) -> Any:
    """Register ``ucgan-benchmark/nightly`` on ``work_pool`` (code from ``repo``, a checkout on the
    worker machine); returns the deployment id."""
    repo = Path(repo).resolve()
    flow_from_src = benchmark.from_source(source=str(repo), entrypoint=BENCHMARK_ENTRYPOINT)
    return flow_from_src.deploy(
        name="nightly", work_pool_name=work_pool, schedules=[nightly_schedule(cron, timezone)],
        parameters={"repo": ".", **(parameters or {})},
        job_variables={"working_dir": str(repo), "env": job_env(env)},
        tags=["ucgan", "nightly"], description="ucgan benchmark: every dataset x method x seed of params.yaml",
        concurrency_limit=1, build=False, push=False, print_next_steps=False, ignore_warnings=True)


def deploy_stage(repo: str | Path = REPO, work_pool: str = WORK_POOL, env: dict[str, str] | None = None) -> Any:
    """Register ``ucgan-stage/gpu``: runs given stages on any worker of the pool."""
    repo = Path(repo).resolve()
    flow_from_src = stage_flow.from_source(source=str(repo), entrypoint=STAGE_ENTRYPOINT)
    return flow_from_src.deploy(
        name="gpu", work_pool_name=work_pool, parameters={"repo": "."},
        # No CUDA_VISIBLE_DEVICES here: a deployment's env overrides the worker's, and would put every
        # fanned-out run on one GPU. Each worker is started with its own GPU (see infra/README.md).
        job_variables={"working_dir": str(repo), "env": job_env(env)},
        tags=["ucgan", "gpu"], description="run some dvc.yaml stages on a GPU worker (pull -> repro -> push)",
        build=False, push=False, print_next_steps=False, ignore_warnings=True)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("deploy", help="register the nightly and stage deployments on a work pool")
    d.add_argument("--repo", default=str(REPO), help="checkout path on the worker machines")
    d.add_argument("--pool", default=WORK_POOL)
    d.add_argument("--cron", default=NIGHTLY_CRON)
    d.add_argument("--timezone", default=TIMEZONE)
    s = sub.add_parser("serve", help="run the nightly schedule in this process (no worker needed)")
    s.add_argument("--cron", default=NIGHTLY_CRON)
    s.add_argument("--timezone", default=TIMEZONE)
    a = ap.parse_args(argv)
    if a.cmd == "deploy":
        nid = deploy_nightly(a.repo, a.pool, a.cron, a.timezone)
        sid = deploy_stage(a.repo, a.pool)
        print(f"deployed ucgan-benchmark/nightly ({nid}, cron '{a.cron}' {a.timezone}) and ucgan-stage/gpu ({sid}) "
              f"on pool {a.pool}; start workers with: prefect worker start --pool {a.pool}")
        return 0
    from prefect import serve

    serve(nightly_local(a.cron, a.timezone))
    return 0


if __name__ == "__main__":
    sys.exit(main())
