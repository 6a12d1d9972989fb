"""(c) Sharing results through DVC: clone A trains and pushes to a (local) remote; clone B pulls into a
group-shared cache directory and ``dvc repro`` recomputes nothing; clone C, checked out *before*
A's results were committed, gets them from the run cache with ``dvc repro --pull`` (how the flow's GPU
fan-out returns results without a git commit per run).
"""
from __future__ import annotations

import hashlib
import stat
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(360)]


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_push_pull_recomputes_nothing(tmp_path: Path, it: Any, monkeypatch: pytest.MonkeyPatch, timed: None) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # tiny MLP: one thread is faster on a busy 2-core box
    stage = f"train@{it.TINY}-wgan-0"
    model = Path("models") / it.TINY / "wgan-s0" / "model.pt"
    remote = tmp_path / "remote"

    a = it.make_tiny_repo(tmp_path / "A", add_report_stage=False)
    it.dvc("remote", "add", "-d", "shared", str(remote), cwd=a)
    it.git("add", ".dvc/config", cwd=a)
    it.git("commit", "-q", "-m", "team remote", cwd=a)
    before = it.git("rev-parse", "HEAD", cwd=a).stdout.strip()

    t0 = time.perf_counter()
    out = it.dvc("repro", stage, cwd=a).stdout
    print(f"\n[timing] clone A: dvc repro {stage} (prepare + 50 steps): {time.perf_counter() - t0:.1f} s")
    assert f"Running stage '{stage}'" in out
    it.git("add", "-A", cwd=a)
    it.git("commit", "-q", "-m", "results", cwd=a)
    push = it.dvc("push", "--run-cache", cwd=a).stdout
    assert "pushed" in push

    # B: a teammate's clone with a group-shared cache directory (infra/dvc/shared-dir.md)
    b = tmp_path / "B"
    it.git("clone", "-q", str(a), str(b), cwd=tmp_path)
    shared = tmp_path / "shared-cache"
    it.dvc("cache", "dir", str(shared), cwd=b)
    it.dvc("config", "cache.shared", "group", cwd=b)
    it.dvc("config", "cache.type", "reflink,hardlink,symlink,copy", cwd=b)
    t0 = time.perf_counter()
    it.dvc("pull", "--with-deps", stage, cwd=b)  # what A computed: the stage and its upstream (not eval-encoder@)
    assert _sha(b / model) == _sha(a / model)
    assert "Data and pipelines are up to date" in it.dvc("status", stage, cwd=b).stdout
    out = it.dvc("repro", stage, cwd=b).stdout
    print(f"[timing] clone B: pull + status + repro: {time.perf_counter() - t0:.1f} s")
    assert "Running stage" not in out and f"Stage '{stage}' didn't change, skipping" in out
    cached = [p for p in shared.rglob("*") if p.is_file()]
    assert cached and all(stat.S_IMODE(p.stat().st_mode) & 0o222 == 0 for p in cached)  # read-only objects
    assert all(p.stat().st_mode & stat.S_ISGID for p in shared.rglob("*") if p.is_dir())  # group inherits

    # C: checked out before A committed dvc.lock; the run cache restores the outputs instead of training
    c = tmp_path / "C"
    it.git("clone", "-q", str(a), str(c), cwd=tmp_path)
    it.git("checkout", "-q", "--detach", before, cwd=c)
    assert not (c / "dvc.lock").exists()
    t0 = time.perf_counter()
    out = it.dvc("repro", "--pull", stage, cwd=c).stdout
    print(f"[timing] clone C: repro --pull: {time.perf_counter() - t0:.1f} s")
    assert f"Stage 'prepare@{it.TINY}' is cached - skipping run" in out
    assert f"Stage '{stage}' is cached - skipping run, checking out outputs" in out
    assert f"Running stage '{stage}'" not in out
    assert _sha(c / model) == _sha(a / model)
