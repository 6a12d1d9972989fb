"""(a) MLflow registry against a real ``mlflow server`` on loopback (SQLite store, proxied artifacts):
log + register two generators, idempotent re-registration, champion alias by lowest ICFID, load by
alias without unpickling, sample through the CLI, the pyfunc (models-from-code) path, the comparison
table, and an unreachable server failing fast with TrackingError.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture
def mlflow_server(tmp_path: Path, it: Any) -> Iterator[str]:
    """``mlflow server`` with one worker (starts in ~10 s instead of ~23 s) on a free port."""
    port = it.free_port()
    store = tmp_path / "server"
    store.mkdir()
    log = open(store / "server.log", "w")
    proc = subprocess.Popen(
        [str(it.VENV_BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
         "--artifacts-destination", (store / "artifacts").as_uri(), "--host", "127.0.0.1", "--port", str(port),
         "-w", "1"],
        cwd=store, env=it.tool_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        secs = it.wait_http(url + "/health", 90, proc)
        print(f"\n[timing] mlflow server ready in {secs:.1f} s")
        yield url
    finally:
        with _suppress():
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


class _suppress:
    def __enter__(self) -> None: ...
    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], ProcessLookupError)  # type: ignore[arg-type]


def test_registry_roundtrip_on_server(mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, it: Any,
                                     timed: None) -> None:
    import mlflow
    import numpy as np
    import torch

    from ucgan import registry as R
    from ucgan.cli.registry import registry_group, sample_command
    from ucgan.report import registry_hook
    from ucgan.tracking import TrackingConfig

    monkeypatch.chdir(tmp_path)  # no stray mlruns/ in the repository
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    cfg = TrackingConfig(uri=mlflow_server, experiment="it-registry")
    runs = [it.train_tiny_generator(tmp_path / "models", seed=0, icfid=7.0),
            it.train_tiny_generator(tmp_path / "models", seed=1, icfid=3.0)]

    # the report stage's hook: a champion never registered (evaluated with tracking off) is registered
    # then; otherwise it only moves the alias (the evaluate stage registered every run, once)
    t0 = time.perf_counter()
    hook = registry_hook(cfg, tmp_path / "models")
    recs = [r.metrics for r in runs]
    assert R.registered_version(runs[1].model_dir, it.TINY, cfg) is None
    note = hook(it.TINY, recs[1], recs)
    assert len(R.registry_rows(it.TINY, cfg, all_versions=True)) == 1
    v0 = R.register_generator(runs[0].model_dir, runs[0].metrics, cfg)  # what the evaluate stage does
    assert R.registered_version(runs[0].model_dir, it.TINY, cfg) == v0
    note = hook(it.TINY, recs[1], recs)
    print(f"[timing] register 2 versions + alias twice: {time.perf_counter() - t0:.1f} s")
    assert "@champion` = version" in note
    versions = R.registry_rows(it.TINY, cfg, all_versions=True)
    assert len(versions) == 2
    champ = [v for v in versions if "champion" in v.aliases]
    assert len(champ) == 1 and champ[0].seed == 1 and champ[0].icfid == pytest.approx(3.0)
    assert {v.method for v in versions} == {"wgan"} and all(v.extractor == "raw" for v in versions)

    # idempotent: same model.pt -> same version, metric tags refreshed
    v_again = R.register_generator(runs[0].model_dir, {**runs[0].metrics, "icfid": 6.5}, cfg)
    assert v_again == str(next(v.version for v in versions if v.seed == 0))
    assert len(R.registry_rows(it.TINY, cfg, all_versions=True)) == 2
    assert next(v for v in R.registry_rows(it.TINY, cfg) if v.seed == 0).icfid == pytest.approx(6.5)

    # load by alias: artifacts downloaded over HTTP, model.pt read weights-only, same weights
    method, ema, meta = R.load_generator(f"models:/{R.model_name(it.TINY)}@champion", torch.device("cpu"), cfg)
    assert meta["seed"] == 1 and method.name == "wgan"
    ref_method, _, _ = R.load_generator(str(runs[1].model_dir), torch.device("cpu"))
    a = R.sample_tensor(method, ema, 8, component=2, seed=3)
    b = R.sample_tensor(ref_method, None, 8, component=2, seed=3)
    assert torch.allclose(a, b)

    # the CLI: sample from one component into a PNG, and the comparison table
    out = tmp_path / "grid.png"
    res = CliRunner().invoke(sample_command, ["--params", str(tmp_path / "absent.yaml"), "--model",
                                              f"models:/ucgan-{it.TINY}@champion", "--component", "1", "-n", "64",
                                              "--out", str(out), "--npy", str(tmp_path / "s.npy")])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.load(tmp_path / "s.npy").shape == (64, 2)
    res = CliRunner().invoke(registry_group, ["compare", "--params", str(tmp_path / "absent.yaml"), "--dataset", it.TINY])
    assert res.exit_code == 0, res.output
    assert "champion" in res.output and "mean ± std over seeds" in res.output
    bad = CliRunner().invoke(sample_command, ["--params", str(tmp_path / "absent.yaml"), "--model",
                                              f"models:/ucgan-{it.TINY}@champion", "--component", "9", "--out", str(out)])
    assert bad.exit_code != 0 and "components 0..3" in str(bad.exception)

    # pyfunc (models from code): the stored python_model is the 3-line shim, no pickle in the model
    mlflow.set_tracking_uri(mlflow_server)
    local = Path(mlflow.artifacts.download_artifacts(f"models:/ucgan-{it.TINY}@champion", dst_path=str(tmp_path / "dl")))
    assert not list(local.rglob("*.pkl")) and (local / "registry_model_code.py").is_file()
    assert "python_model.pkl" not in (local / "MLmodel").read_text()
    import pandas as pd

    pm = mlflow.pyfunc.load_model(f"models:/ucgan-{it.TINY}@champion")
    y = pm.predict(pd.DataFrame({"n": [8], "component": [2], "seed": [3]}))
    assert np.allclose(y, a.numpy(), atol=1e-6)


def test_unreachable_server_fails_fast(tmp_path: Path, it: Any, timed: None) -> None:
    from ucgan.errors import TrackingError
    from ucgan.registry import register_generator
    from ucgan.tracking import TrackingConfig

    cfg = TrackingConfig(uri=f"http://127.0.0.1:{it.free_port()}")
    run = it.train_tiny_generator(tmp_path / "models", seed=0, icfid=1.0, steps=10)
    t0 = time.perf_counter()
    with pytest.raises(TrackingError, match="unreachable"):
        register_generator(run.model_dir, run.metrics, cfg)
    assert time.perf_counter() - t0 < 10
