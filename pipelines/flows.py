"""The Prefect tasks and flows that drive the dvc.yaml stage graph (the second driver of the same pipeline).

This module owns the tasks (``dvc repro`` / ``pull`` / ``push`` / a run on another machine), the
flows ``ucgan-benchmark`` and ``ucgan-stage``, and the command line that runs the former. What to
run comes from :mod:`pipelines.plan`, how ``dvc`` is run from :mod:`pipelines.dvc_runner`, and the
per-machine setup and checks from :mod:`pipelines.preflight`.

Why DVC underneath: every task runs ``dvc repro <stage>``, so DVC's content hashes decide what is
stale, its cache and remote hold the results, and ``dvc.lock`` records them exactly as a manual
``dvc repro`` would. Prefect adds what DVC lacks: fan-out of the run matrix, retries of transient
failures, schedules, workers on GPU machines and a UI with logs.

``benchmark`` (flow ``ucgan-benchmark``):

1. ``dvc pull`` when a DVC remote is configured (outputs a teammate already computed are fetched,
   not recomputed), and every ``dvc repro`` then runs with ``--pull``: a stage somebody already ran
   with the same command, dependencies and params is restored from DVC's run cache, not rerun;
2. per dataset, the data stages (``prepare@d``, ``validate@d`` and any other ``<stage>@d`` such as
   ``pretrain@d``/``cluster@d``), datasets in parallel;
3. one task ``dvc repro --single-item train@<d>-<m>-<s>`` per dataset x method x seed of
   params.yaml's ``train:`` matrix (and ``train-listed@run<i>`` per entry of ``train.runs``), fanned out; each run's ``evaluate@...`` starts as soon as its
   training is done;
4. ``dvc repro report`` when every run succeeded, then a plain ``dvc repro`` that must find nothing
   left to do (it catches stages this plan does not know about);
5. ``dvc push`` (with the run cache) when a remote is configured, also after failures, so that the
   runs that did succeed are shared; the flow fails at the end naming every failed stage.

With ``stage_deployment`` set, step 3 runs on other machines: each run is a flow run of the
``ucgan-stage`` deployment on a GPU work pool (``dvc repro --pull`` -> ``dvc push --run-cache``, at
this checkout's commit); this flow's own ``dvc repro --pull`` then restores the outputs from the run
cache instead of recomputing them (the run cache is keyed by command, dependencies and params, so
no git commit per run is needed).

Retries: a task is retried when its failure can be transient (DVC's repository lock held by a
parallel ``dvc`` process, network errors on pull/push, a killed process); a stage that exits with
code 2 is a user error from ``ucgan`` (bad params, missing data) and fails at once.

Run locally with no server (Prefect starts a temporary one; set ``PREFECT_HOME`` to a project dir):

    PREFECT_HOME=.prefect python pipelines/flows.py --dataset ring8-1to3 --method wgan --seed 0

Parallelism: ``UCGAN_FLOW_WORKERS`` threads (default 2) run tasks at once on this machine.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script or loaded by Prefect from its entrypoint: make `pipelines` importable
    sys.path.insert(0, str(REPO))

from pipelines.dvc_runner import StageFailed, default_remote, dvc, run_tool, summarize_repro  # noqa: E402
from pipelines.plan import list_stages, make_plan, read_matrix  # noqa: E402
from pipelines.preflight import (  # noqa: E402
    device_of_worker,
    ensure_remote_from_env,
    git_head,
    require_results_leave_the_pod,
)

#: How many tasks run at once on the machine that runs the flow.
FLOW_WORKERS = max(1, int(os.environ.get("UCGAN_FLOW_WORKERS", "2")))


def _retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only failures :func:`pipelines.dvc_runner.classify_failure` calls transient."""
    exc = getattr(state, "data", None)
    return bool(getattr(exc, "transient", True))


# ----------------------------------------------------------------------------- tasks
@task(name="dvc-repro", retries=2, retry_delay_seconds=[10, 60], retry_condition_fn=_retry_if_transient,
      cache_policy=NO_CACHE, task_run_name="repro {label}")
def repro(targets: list[str], repo: str, label: str, single_item: bool = False, force: bool = False,
          pull: bool = False) -> dict[str, Any]:
    """``dvc repro [--single-item] [--pull] targets``. Never cached by Prefect: DVC decides what is
    stale. ``pull`` (when a remote exists) lets DVC fetch inputs and restore run-cache hits."""
    log = get_run_logger()
    args = (["repro"] + (["--single-item"] if single_item else []) + (["--force"] if force else [])
            + (["--pull"] if pull else []) + list(targets))
    log.info("start: dvc %s", " ".join(args))
    _rc, lines, secs = dvc(args, repo, label, logger=log)
    res = {"targets": list(targets), "seconds": round(secs, 1), **summarize_repro(lines)}
    log.info("done in %.1f s: ran %s, unchanged %s, restored from run cache %s", secs,
             res["ran"] or "-", res["skipped"] or "-", res["restored"] or "-")
    return res


@task(name="dvc-pull", retries=3, retry_delay_seconds=[5, 30, 120], retry_condition_fn=_retry_if_transient,
      cache_policy=NO_CACHE)
def pull(repo: str) -> float:
    """Fetch the outputs dvc.lock names (missing objects are fine: those stages get computed)."""
    return dvc(["pull", "--allow-missing"], repo, "pull")[2]


@task(name="dvc-push", retries=3, retry_delay_seconds=[5, 30, 120], retry_condition_fn=_retry_if_transient,
      cache_policy=NO_CACHE)
def push(repo: str) -> float:
    """Share outputs and the run cache (the run cache lets other machines skip identical runs)."""
    return dvc(["push", "--run-cache"], repo, "push")[2]


@task(name="remote-run", retries=1, retry_delay_seconds=[30], cache_policy=NO_CACHE, task_run_name="remote {label}")
def remote_run(deployment: str, stages: list[str], label: str, commit: str | None) -> dict[str, Any]:
    """Run stages on a worker of the GPU pool through the ``ucgan-stage`` deployment.

    Returns a task summary shaped like :func:`repro`'s (the flow collects both the same way); the
    stages' outputs come back later through the run cache, so nothing is listed as ran here."""
    from prefect.deployments import run_deployment

    t0 = time.perf_counter()
    fr = run_deployment(name=deployment, parameters={"stages": stages, "commit": commit}, timeout=None)
    if not fr.state or not fr.state.is_completed():
        raise StageFailed(f"{deployment} {stages}", 1, [f"flow run {fr.id} ended {fr.state.name if fr.state else '?'}"], True)
    return {"targets": list(stages), "flow_run": str(fr.id), "ran": [], "skipped": [], "restored": [],
            "seconds": round(time.perf_counter() - t0, 1)}


# ----------------------------------------------------------------------------- flows
@flow(name="ucgan-benchmark", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=FLOW_WORKERS))
def benchmark(
    repo: str = ".",
    datasets: list[str] | None = None,
    methods: list[str] | None = None,
    seeds: list[int] | None = None,
    pull_first: bool = True,
    push_after: bool = True,
    force_train: bool = False,
    stage_deployment: str | None = None,
) -> dict[str, Any]:
    """Run the benchmark's DVC stages: data per dataset, one training (then evaluation) per
    dataset x method x seed of params.yaml (optionally filtered), the report, pull/push.

    Pull/push use the repository's default DVC remote (``dvc remote add -d``); without one the
    flow runs purely locally. Returns a summary (stages ran / unchanged / restored, failures,
    seconds) that is also attached to the flow run as a table artifact.
    """
    log = get_run_logger()
    t_start = time.perf_counter()
    repo = str(Path(repo).resolve())
    ensure_remote_from_env(repo)
    require_results_leave_the_pod(repo)
    all_d, all_m, all_s, listed = read_matrix(repo)
    plan = make_plan(list_stages(repo), all_d, all_m, all_s, datasets, methods, seeds, listed)
    remote = default_remote(repo)
    log.info("plan: %d dataset(s) %s, %d run(s), report %s; DVC remote: %s; %d parallel task(s)%s",
             len(plan.data), list(plan.data), len(plan.runs), plan.report or "none", remote or "none (no pull/push)",
             FLOW_WORKERS, f"; training on deployment {stage_deployment}" if stage_deployment else "")
    results: list[dict[str, Any]] = []
    failed: list[str] = []

    def collect(fut: Any, label: str) -> bool:
        fut.wait()
        state = fut.state
        if state.is_completed():
            results.append({"label": label, **fut.result()})
            return True
        failed.append(label)
        err = fut.result(raise_on_failure=False)
        log.error("%s failed: %s", label, err)
        return False

    if remote and pull_first:
        pull.submit(repo).result()
    rp = bool(remote)

    # 1. data stages, datasets in parallel
    data_futs = {d: repro.submit(st, repo, f"data {d}", pull=rp) for d, st in plan.data.items() if st}
    ok_data = {d for d, f in data_futs.items() if collect(f, f"data {d}")} | {d for d, st in plan.data.items() if not st}
    runs = [r for r in plan.runs if r[0] in ok_data]
    for d, m, s in plan.runs:
        if d not in ok_data:
            failed.append(f"{plan.train(d, m, s)} (skipped: data of {d} failed)")

    # 2. training fan-out; each evaluation starts when its training is done
    if stage_deployment and runs:
        if not remote:
            raise RuntimeError("stage_deployment needs a default DVC remote: workers return results through it")
        push.submit(repo).result()  # workers restore the data stages from this run cache
        commit = git_head(repo)
        rfuts = {remote_run.submit(stage_deployment, [plan.train(*r), plan.evaluate(*r)], f"{r[0]}-{r[1]}-{r[2]}", commit): r
                 for r in runs}
        done = [rfuts[f] for f in as_completed(list(rfuts)) if collect(f, f"remote {'-'.join(map(str, rfuts[f]))}")]
        if done:
            # Every result comes back through the run cache in ONE `dvc repro --pull evaluate@...`
            # call (trainings restored as its upstream): one DVC process and one repository lock,
            # instead of 2 x runs calls queueing for that lock.
            targets = [plan.evaluate(*r) for r in done]
            collect(repro.submit(targets, repo, f"restore {len(done)} run(s)", pull=rp), f"restore {len(done)} run(s)")
        runs = []
    train_futs = {repro.submit([plan.train(*r)], repo, plan.train(*r), single_item=True, force=force_train, pull=rp): r
                  for r in runs}
    total = len(train_futs)
    eval_futs: dict[Any, tuple[str, str, int]] = {}
    for i, fut in enumerate(as_completed(list(train_futs)), 1):
        r = train_futs[fut]
        if collect(fut, plan.train(*r)):
            log.info("progress: %d/%d trainings finished", i, total)
            eval_futs[repro.submit([plan.evaluate(*r)], repo, plan.evaluate(*r), single_item=True, pull=rp)] = r
    for fut in as_completed(list(eval_futs)):
        collect(fut, plan.evaluate(*eval_futs[fut]))

    # 3. report and the consistency check
    if not failed:
        if plan.report:
            collect(repro.submit(plan.report, repo, "report", single_item=True, pull=rp), "report")
        if plan.complete and not failed:
            fut = repro.submit([], repo, "dvc repro (all)", pull=rp)
            if collect(fut, "dvc repro (all)") and results[-1]["ran"]:
                log.warning("the final `dvc repro` still ran %s: stages outside this flow's plan", results[-1]["ran"])
    else:
        log.warning("report skipped: %d stage(s) failed", len(failed))

    # 4. share
    if remote and push_after:
        try:
            push.submit(repo).result()
        except Exception as exc:  # noqa: BLE001 - a push failure must not hide the stage failures
            failed.append(f"dvc push ({exc})")

    ran = {s for r in results for s in r.get("ran", [])}
    restored = {s for r in results for s in r.get("restored", [])} - ran
    summary = {
        "repo": repo,
        "runs": len(plan.runs),
        "ran": sorted(ran),
        # a stage that ran in its task shows up unchanged in the final check: count it once
        "unchanged": sorted({s for r in results for s in r.get("skipped", [])} - ran - restored),
        "restored": sorted(restored),
        "failed": failed,
        "seconds": round(time.perf_counter() - t_start, 1),
        "report": str(Path(repo) / "reports") if (Path(repo) / "reports" / "summary.csv").is_file() else None,
    }
    _artifacts(results, failed, summary)
    log.info("benchmark finished in %.1f s: %d stage(s) ran, %d unchanged, %d restored, %d failed; report: %s",
             summary["seconds"], len(summary["ran"]), len(summary["unchanged"]), len(summary["restored"]),
             len(failed), summary["report"] or "not built")
    if failed:
        raise RuntimeError(f"{len(failed)} stage(s) failed: {failed}")
    return summary


def _artifacts(results: Sequence[dict[str, Any]], failed: Sequence[str], summary: dict[str, Any]) -> None:
    """Tables in the Prefect UI: what each task did, and the benchmark summary when it exists."""
    import csv

    from prefect.artifacts import create_table_artifact

    rows = [{"task": r["label"], "ran": ", ".join(r.get("ran", [])) or "-",
             "unchanged": len(r.get("skipped", [])), "restored": len(r.get("restored", [])),
             "seconds": r.get("seconds")} for r in results]
    rows += [{"task": f, "ran": "FAILED", "unchanged": 0, "restored": 0, "seconds": None} for f in failed]
    try:
        create_table_artifact(key="ucgan-benchmark-stages", table=rows, description="DVC stages run by this flow")
        if summary.get("report"):
            with open(Path(summary["report"]) / "summary.csv", encoding="utf-8") as f:
                table = list(csv.DictReader(f))[:200]
            if table:
                create_table_artifact(key="ucgan-benchmark-summary", table=table,
                                      description="reports/summary.csv: mean and std over seeds")
    except Exception as exc:  # noqa: BLE001 - artifacts are a convenience, never a reason to fail
        get_run_logger().warning("could not create artifacts: %s", exc)


@flow(name="ucgan-stage", log_prints=True)
def stage_flow(stages: list[str], repo: str = ".", commit: str | None = None, push_after: bool = True) -> dict[str, Any]:
    """Run a few stages on this machine (a GPU worker) at ``commit``: ``dvc repro --pull`` each
    (upstream stages come back from the run cache the benchmark flow pushed), then push outputs
    and run cache. The benchmark flow fans out to it."""
    log = get_run_logger()
    repo = str(Path(repo).resolve())
    device = device_of_worker()
    log.info("device: %s", device["summary"])
    if commit and git_head(repo) != commit:
        # Pods clone shallowly (prefect.yaml's git_clone): fetch the exact commit first; a full clone
        # that already has it just checks it out. Same commit = same run-cache keys as the caller.
        run_tool(["git", "fetch", "--quiet", "--depth", "1", "origin", commit], repo, "git fetch", log)
        rc, lines, _ = run_tool(["git", "checkout", "--quiet", "--detach", commit], repo, "git checkout", log)
        if rc:
            raise StageFailed(f"git checkout {commit}", rc, lines, False)
    remote = ensure_remote_from_env(repo)
    require_results_leave_the_pod(repo)
    # one `dvc repro` for all stages (e.g. train@x and evaluate@x): one DVC start-up and graph build
    out = [repro(list(stages), repo, " + ".join(stages), pull=bool(remote))]
    if remote and push_after:
        push(repo)
    return {"stages": list(stages), "results": out, "device": device}


# ----------------------------------------------------------------------------- command line
def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Run the ucgan benchmark (dvc.yaml stages) as a Prefect flow.")
    ap.add_argument("--repo", default=".", help="repository root (default: .)")
    ap.add_argument("--dataset", action="append", help="only this dataset (repeatable)")
    ap.add_argument("--method", action="append", help="only this method (repeatable)")
    ap.add_argument("--seed", action="append", type=int, help="only this seed (repeatable)")
    ap.add_argument("--no-pull", action="store_true")
    ap.add_argument("--no-push", action="store_true")
    ap.add_argument("--force-train", action="store_true", help="retrain even when DVC finds nothing changed")
    ap.add_argument("--stage-deployment", default=None, help="e.g. ucgan-stage/gpu: train on that deployment's workers")
    a = ap.parse_args(argv)
    state = benchmark(repo=a.repo, datasets=a.dataset, methods=a.method, seeds=a.seed, pull_first=not a.no_pull,
                      push_after=not a.no_push, force_train=a.force_train,
                      stage_deployment=a.stage_deployment, return_state=True)
    if not state.is_completed():
        print(f"benchmark failed: {state.message}", file=sys.stderr)
        return 1
    s = state.result()
    print(f"benchmark done in {s['seconds']} s: ran {len(s['ran'])}, unchanged {len(s['unchanged'])}, "
          f"restored {len(s['restored'])}; report: {s['report'] or 'not built (no report stage)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
