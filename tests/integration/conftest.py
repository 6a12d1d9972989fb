"""Helpers of the loopback integration tests: tiny repository copies, tools with telemetry off,
free ports, bounded subprocesses, a tiny trained generator.

Each test starts what it needs (an MLflow server, Prefect's test server, DVC remotes in temp
folders) and stops it; nothing reaches beyond 127.0.0.1.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
TELEMETRY_OFF = {
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}
#: The tiny dataset: CGPGAN's four Gaussians (p = .1/.2/.3/.4) with 1,000 train / 500 test points.
TINY = "tiny4"
TINY_SPEC = {"preset": "gauss4", "counts": [100, 200, 300, 400], "test_counts": [50, 100, 150, 200]}
#: Paths of the repository that are outputs or local state, never copied into a tiny repo.
_SKIP_TOP = {"data", "models", "metrics", "reports", "mlruns", "checkpoints", "dvc_plots", ".dvc", "tests",
             "benchmarks", ".prefect", "dvc.lock", ".dvcignore", "results"}


def _stage_inputs_under_skipped_folders() -> set[str]:
    """... except the stages' own inputs there (the report stage reads benchmarks/claims.yaml and
    benchmarks/paper_tables.yaml): read from dvc.yaml, so a new input file is copied without a change here."""
    root = Path(__file__).resolve().parents[2]
    stages = (yaml.safe_load((root / "dvc.yaml").read_text()) or {}).get("stages", {})
    deps = {d for st in stages.values() for d in (st.get("deps") or []) if isinstance(d, str)}
    return {d for d in deps if d.split("/", 1)[0] in _SKIP_TOP and (root / d).is_file()}  # files, not outputs


_KEEP = _stage_inputs_under_skipped_folders()
#: The report stage of dvc.yaml, used only while dvc.yaml has none, so the flow test covers the
#: whole graph either way.
REPORT_STAGE = {
    "cmd": "ucgan report",
    "deps": ["metrics", "models", "src/ucgan/report", "src/ucgan/registry"],
    "params": ["train.datasets", "train.methods", "train.seeds", "tracking"],
    "outs": [{"reports": {"cache": False}}],
}

for _k, _v in TELEMETRY_OFF.items():
    os.environ.setdefault(_k, _v)


def tool_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(TELEMETRY_OFF)
    env["PATH"] = str(VENV_BIN) + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def run(cmd: Sequence[str], cwd: str | Path, timeout: float = 240, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a tool with a time bound; a failure shows the command's output in the assertion."""
    r = subprocess.run(list(cmd), cwd=str(cwd), env=tool_env(**env), capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check and r.returncode:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode} in {cwd}\n--- stdout\n{r.stdout[-4000:]}\n--- stderr\n{r.stderr[-4000:]}")
    return r


def dvc(*args: str, cwd: str | Path, timeout: float = 240, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([str(VENV_BIN / "dvc"), *args], cwd, timeout=timeout, check=check)


def git(*args: str, cwd: str | Path) -> subprocess.CompletedProcess[str]:
    return run(["git", "-c", "user.name=ucgan-test", "-c", "user.email=test@ucgan.invalid", "-c", "init.defaultBranch=main",
                *args], cwd, timeout=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float, proc: subprocess.Popen[Any] | None = None) -> float:
    """Seconds until ``url`` answers 200; fails early when ``proc`` died."""
    import urllib.request

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def tiny_params(base: dict[str, Any], steps: int = 50, tracking: bool = False) -> dict[str, Any]:
    """The repository's params.yaml shrunk to one 2-D dataset x wgan x seed 0 (every other key kept,
    so the strict params check and dvc.yaml's interpolation see the real file's shape)."""
    p = yaml.safe_load(yaml.safe_dump(base))
    p["data"]["datasets"] = [TINY]
    p["data"]["custom"] = {TINY: dict(TINY_SPEC)}
    t = p.setdefault("train", {})
    t.update(datasets=[TINY], methods=["wgan"], seeds=[0], steps=steps, log_every=10, ckpt_every=steps,
             grid_every=0, progress=False, steps_per_dataset={})
    wgan = (p.get("methods") or {}).get("wgan", {})
    p["methods"] = {"wgan": {"default": dict(wgan.get("default") or {})}}
    if "evaluate" in p:
        p["evaluate"]["datasets"] = {}
    p.setdefault("tracking", {})["enabled"] = tracking
    for key, sec in p.items():  # sections added later (pretrain, cluster, ...) that name datasets
        if key in ("data", "train", "methods", "evaluate") or not isinstance(sec, dict):
            continue
        ds = sec.get("datasets")
        if isinstance(ds, list):
            sec["datasets"] = [d for d in ds if d == TINY]
        elif isinstance(ds, dict):
            sec["datasets"] = {k: v for k, v in ds.items() if k == TINY}
    return p


def make_tiny_repo(dest: Path, steps: int = 50, tracking: bool = False, add_report_stage: bool = True) -> Path:
    """A fresh git + DVC repository holding this working tree's code, dvc.yaml and tiny params.

    Copied from the working tree (``git ls-files -co --exclude-standard``), not cloned, so that
    uncommitted changes are what gets tested; outputs and DVC state are left out and ``dvc init``
    starts clean. The stages' ``ucgan`` command is this venv's (editable) install.
    """
    files = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], REPO_ROOT, timeout=30).stdout.split("\0")
    dest.mkdir(parents=True, exist_ok=True)
    for rel in files:
        if not rel or (rel.split("/", 1)[0] in _SKIP_TOP and rel not in _KEEP):
            continue
        src = REPO_ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    base = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    (dest / "params.yaml").write_text(yaml.safe_dump(tiny_params(base, steps, tracking), sort_keys=False), encoding="utf-8")
    if add_report_stage:
        d = yaml.safe_load((dest / "dvc.yaml").read_text(encoding="utf-8"))
        if "report" not in (d.get("stages") or {}):
            d["stages"]["report"] = REPORT_STAGE
            (dest / "dvc.yaml").write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")
    git("init", "-q", cwd=dest)
    dvc("init", "-q", cwd=dest)
    dvc("config", "core.analytics", "false", cwd=dest)
    git("add", "-A", cwd=dest)
    git("commit", "-q", "-m", "tiny benchmark", cwd=dest)
    return dest


@dataclasses.dataclass
class TinyRun:
    model_dir: Path
    metrics: dict[str, Any]


def train_tiny_generator(root: Path, seed: int, icfid: float, steps: int = 20) -> TinyRun:
    """A wgan trained for a few steps on 2-D points, written exactly as the train stage writes it
    (model.pt with meta, grids/final.png), plus hand-made metrics for the registry."""
    import dataclasses as dc

    import numpy as np
    import torch

    from ucgan.config import to_dict
    from ucgan.methods import DataInfo, get_method
    from ucgan.training import LoopConfig, train

    rng = np.random.default_rng(seed)
    centers = np.array([[-1, 2], [0, -2], [1, -1], [2, 1]], dtype=np.float32)
    y = rng.choice(4, size=400, p=[.1, .2, .3, .4])
    x = (centers[y] + 0.3 * rng.standard_normal((400, 2))).astype(np.float32)
    info = DataInfo(modality="points", shape=(2,), value_range=None, num_classes=4, dataset=TINY)
    cls = get_method("wgan")
    cfg = cls.Config(batch_size=32, latent_dim=8, width=0.25)
    torch.manual_seed(seed)
    m = cls(cfg, info, torch.device("cpu"))
    out = root / TINY / f"wgan-s{seed}"
    meta = {"method": "wgan", "dataset": TINY, "seed": seed, "config": to_dict(cfg), "info": dc.asdict(info)}
    train(m, x, LoopConfig(steps=steps, log_every=10, ckpt_every=steps, progress=False), seed, out,
          root / "ckpt" / f"s{seed}.pt", meta=meta)
    metrics = {"dataset": TINY, "method": "wgan", "seed": seed, "fid": icfid / 3, "icfid": icfid,
               "icfid_per_class": [icfid] * 4, "nmi": 0.5, "mixing_l1": 0.4, "extractor": "raw",
               "mixing_true": [.1, .2, .3, .4], "mixing_learned": [.25] * 4}
    return TinyRun(out, metrics)


@pytest.fixture
def it() -> Any:
    """These helpers as a namespace (fixtures need no imports, whatever pytest's import mode)."""
    return sys.modules[__name__]


@pytest.fixture
def timed(request: pytest.FixtureRequest) -> Any:
    """Prints the test's wall time (also visible with ``pytest --durations=0``)."""
    t0 = time.perf_counter()
    yield
    print(f"\n[timing] {request.node.name}: {time.perf_counter() - t0:.1f} s")
