"""Prefect flows that drive the dvc.yaml stage graph (the second driver of the same pipeline).

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

    PREFECT_HOME=.prefect python pipelines/benchmark.py --dataset ring8-1to3 --method wgan --seed 0

Parallelism: ``UCGAN_FLOW_WORKERS`` threads (default 2) run tasks at once on this machine.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from ucgan import layout

#: Telemetry of every tool this flow starts is off (also set by the Makefile; repeated here because
#: workers and deployments do not go through the Makefile).
TELEMETRY_OFF = {
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}
for _k, _v in TELEMETRY_OFF.items():
    os.environ.setdefault(_k, _v)

#: Stage families that are not per-dataset data preparation.
RUN_STAGES = ("train", "evaluate", "train-listed", "evaluate-listed", "report")
#: How many tasks run at once on the machine that runs the flow.
FLOW_WORKERS = max(1, int(os.environ.get("UCGAN_FLOW_WORKERS", "2")))
#: Lines of tool output kept for the error message of a failed task.
TAIL_LINES = 40

_RAN = re.compile(r"Running stage '([^']+)'")
_SKIPPED = re.compile(r"Stage '([^']+)' didn't change, skipping")
_RESTORED = re.compile(r"Stage '([^']+)' is cached - skipping run, checking out outputs")
_USER_ERROR = re.compile(r"exited with 2\b")
#: Failures worth a retry even when ucgan exits 2 (TrackingError): DVC's repository lock held by a
#: parallel dvc, SQLite busy with a parallel stage's MLflow write, a tracking server restarting.
_TRANSIENT_MARKERS = ("Unable to acquire lock", "database is locked", "is unreachable")
#: DVC's messages for a broken dvc.yaml/params.yaml: the same on every retry.
_DEFINITION_ERRORS = ("overlap and are thus in the same tracked directory", "failed to parse",
                      "Did not find expected", "is not a valid", "already tracked by SCM", "cannot be a dependency")


class StageFailed(RuntimeError):
    """A ``dvc`` command failed; ``transient`` says whether retrying can help."""

    def __init__(self, what: str, rc: int, tail: Sequence[str], transient: bool) -> None:
        self.what, self.rc, self.tail, self.transient = what, rc, list(tail), transient
        kind = "transient, will be retried" if transient else "not retried: fix the cause first"
        super().__init__(f"{what} failed (exit {rc}; {kind}). Last output:\n" + "\n".join(self.tail[-15:]))


def classify_failure(rc: int, lines: Sequence[str]) -> bool:
    """True when a failed ``dvc`` call may succeed on retry.

    ``ucgan`` exits 2 on user errors (:class:`ucgan.errors.UcganError`: bad params, missing data,
    unknown method): DVC reports ``exited with 2`` and retrying would only repeat the message; so
    do DVC's own errors about a broken pipeline definition. Everything else (lock contention,
    network, OOM kills, CUDA hiccups, a busy SQLite store) is worth another try.
    """
    text = "\n".join(lines)
    if any(m in text for m in _TRANSIENT_MARKERS):  # also when ucgan reported them as exit 2
        return True
    if _USER_ERROR.search(text) or any(m in text for m in _DEFINITION_ERRORS):
        return False
    return rc != 0


def _retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only failures :func:`classify_failure` calls transient."""
    exc = getattr(state, "data", None)
    return bool(getattr(exc, "transient", True))


# ----------------------------------------------------------------------------- tools
def tool_env() -> dict[str, str]:
    """Environment of spawned tools: telemetry off, unbuffered Python, and this interpreter's
    ``bin`` first on PATH so ``dvc`` and the stages' ``ucgan`` commands come from the same venv."""
    env = dict(os.environ)
    env.update(TELEMETRY_OFF)
    env["PYTHONUNBUFFERED"] = "1"
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def dvc_exe() -> str:
    cand = Path(sys.executable).parent / "dvc"
    if cand.is_file():
        return str(cand)
    found = shutil.which("dvc")
    if not found:
        raise RuntimeError("dvc is not installed in this environment (pip install -e . installs it)")
    return found


def _split_lines(chunks: Iterable[bytes]) -> Iterable[str]:
    """Lines of a byte stream, split on \\n *and* \\r: progress bars (tqdm) redraw with \\r and
    would otherwise arrive as one endless line."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        parts = re.split(rb"[\r\n]", buf)
        buf = parts.pop()
        for p in parts:
            yield p.decode("utf-8", "replace")
    if buf:
        yield buf.decode("utf-8", "replace")


def run_tool(args: Sequence[str], cwd: str | Path, label: str, logger: Any = None,
             timeout: float | None = None) -> tuple[int, list[str], float]:
    """Run a command, streaming its output line by line into the Prefect log (that is the
    progress a user watches in the UI); returns (exit code, all lines, seconds)."""
    log = logger or get_run_logger()
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(args), cwd=str(cwd), env=tool_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    lines: list[str] = []
    assert proc.stdout is not None
    try:
        for line in _split_lines(iter(lambda: proc.stdout.read1(65536), b"")):  # type: ignore[union-attr]
            line = line.rstrip()
            if line.strip():
                lines.append(line)
                log.info("[%s] %s", label, line)
        rc = proc.wait(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return rc, lines, time.perf_counter() - t0


def dvc(args: Sequence[str], repo: str | Path, label: str | None = None, check: bool = True,
        logger: Any = None) -> tuple[int, list[str], float]:
    """``dvc <args>`` in ``repo``; raises :class:`StageFailed` on failure when ``check``."""
    what = label or "dvc " + " ".join(args)
    rc, lines, secs = run_tool([dvc_exe(), *args], repo, what, logger)
    if rc and check:
        raise StageFailed(f"dvc {' '.join(args)}", rc, lines[-TAIL_LINES:], classify_failure(rc, lines))
    return rc, lines, secs


def dvc_quiet(args: Sequence[str], repo: str | Path) -> subprocess.CompletedProcess[str]:
    """A short read-only ``dvc`` query (not logged line by line)."""
    return subprocess.run([dvc_exe(), *args], cwd=str(repo), env=tool_env(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


# ----------------------------------------------------------------------------- plan
def list_stages(repo: str | Path) -> list[str]:
    """Stage names as DVC expands them (``train@ring8-1to3-wgan-0``)."""
    r = dvc_quiet(["stage", "list", "--name-only"], repo)
    if r.returncode:
        raise StageFailed("dvc stage list", r.returncode, (r.stdout + r.stderr).splitlines()[-TAIL_LINES:], False)
    return [s.strip() for s in r.stdout.splitlines() if s.strip()]


def default_remote(repo: str | Path) -> str | None:
    """Name of the default DVC remote, None when there is none (then pull/push are skipped)."""
    r = dvc_quiet(["remote", "default"], repo)
    name = r.stdout.strip()
    return name if r.returncode == 0 and name else None


def read_matrix(repo: str | Path, params_file: str = "params.yaml"
                ) -> tuple[list[str], list[str], list[int], list[tuple[str, str, int]]]:
    """``train.datasets/methods/seeds`` and ``train.runs`` of params.yaml: what dvc.yaml's matrices expand."""
    p = Path(repo) / params_file
    raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    t = raw.get("train") or {}
    listed = [(str(r["dataset"]), str(r["method"]), int(r.get("seed", 0))) for r in (t.get("runs") or [])]
    seeds = t.get("seeds")
    return (list(t.get("datasets") or []), list(t.get("methods") or []),
            [int(s) for s in (seeds if seeds is not None else [0])], listed)


@dataclasses.dataclass
class Plan:
    """Which stages the benchmark runs, in waves."""

    data: dict[str, list[str]]            # dataset -> its data stages (prepare@d, validate@d, ...)
    runs: list[tuple[str, str, int]]      # (dataset, method, seed)
    report: list[str]                     # report stage(s), if dvc.yaml has any
    complete: bool                        # the whole matrix (no filter): the final full repro is meaningful
    listed: dict[tuple[str, str, int], int] = dataclasses.field(default_factory=dict)  # train.runs -> index

    def train(self, d: str, m: str, s: int) -> str:
        return layout.train_stage(d, m, s, self.listed.get((d, m, s)))

    def evaluate(self, d: str, m: str, s: int) -> str:
        return layout.evaluate_stage(d, m, s, self.listed.get((d, m, s)))


def make_plan(stages: Sequence[str], datasets: Sequence[str], methods: Sequence[str], seeds: Sequence[int],
              only_datasets: Sequence[str] | None = None, only_methods: Sequence[str] | None = None,
              only_seeds: Sequence[int] | None = None, listed: Sequence[tuple[str, str, int]] = ()) -> Plan:
    """The runs (the matrix, then ``train.runs``; optionally filtered) checked against the stages
    dvc.yaml really has."""
    listed_ds = [r[0] for r in listed]
    for name, sel, full in (("dataset", only_datasets, list(datasets) + listed_ds),
                            ("method", only_methods, list(methods) + [r[1] for r in listed]),
                            ("seed", only_seeds, list(seeds) + [r[2] for r in listed])):
        extra = [x for x in (sel or []) if x not in full]
        if extra:
            raise ValueError(f"{name} {extra[0]!r} is not in params.yaml's train matrix or train.runs {sorted(set(full))}")

    def keep(d: str, m: str, s: int) -> bool:
        return (not only_datasets or d in only_datasets) and (not only_methods or m in only_methods) and \
            (not only_seeds or s in only_seeds)

    runs = [(d, m, s) for d in datasets for m in methods for s in seeds if keep(d, m, s)]
    runs += [r for r in listed if keep(*r)]
    have = set(stages)
    plan = Plan(data={}, runs=runs, report=[s for s in stages if s == "report" or s.startswith("report@")],
                complete=not (only_datasets or only_methods or only_seeds),
                listed={r: i for i, r in enumerate(listed)})
    missing = [n for d, m, s in runs for n in (plan.train(d, m, s), plan.evaluate(d, m, s)) if n not in have]
    if missing:
        raise ValueError(f"dvc.yaml has no stage {missing[0]!r} (`dvc stage list` shows the names); the train/evaluate "
                         "matrix in dvc.yaml must expand train.datasets x train.methods x train.seeds, and "
                         "train-listed/evaluate-listed the list train.runs")
    for d in dict.fromkeys(r[0] for r in runs):
        plan.data[d] = [s for s in stages if s.endswith(f"@{d}") and s.split("@", 1)[0] not in RUN_STAGES]
    return plan


def _summarize(lines: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"ran": [], "skipped": [], "restored": []}
    for line in lines:
        for key, rx in (("ran", _RAN), ("skipped", _SKIPPED), ("restored", _RESTORED)):
            m = rx.search(line)
            if m:
                out[key].append(m.group(1))
    return out


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
    res = {"targets": list(targets), "seconds": round(secs, 1), **_summarize(lines)}
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


def _git_head(repo: str) -> str | None:
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
    problems = []
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
        commit = _git_head(repo)
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
    eval_futs = {}
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
    if commit and _git_head(repo) != commit:
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
