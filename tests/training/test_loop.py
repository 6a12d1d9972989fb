"""The training loop: exact resume, NaN guard, tensors-only checkpoints, EMA, grids."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ucgan.env import seed_everything
from ucgan.errors import DivergenceError
from ucgan.methods import DataInfo, get_method
from ucgan.training import CheckpointMismatch, LoopConfig, LoopHooks, TrainingInterrupted, train

INFO = DataInfo(modality="points", shape=(2,), value_range=(-1.0, 1.0), num_classes=4, dataset="toy")


def _data(n: int = 512) -> np.ndarray:
    rng = np.random.default_rng(0)
    c = np.array([[0.5, 0.5], [-0.5, 0.5], [0.5, -0.5], [-0.5, -0.5]])
    return (c[rng.integers(0, 4, n)] + 0.05 * rng.standard_normal((n, 2))).astype(np.float32)


def _wgan(seed: int = 3):
    seed_everything(seed)
    M = get_method("wgan")
    return M(M.Config(batch_size=16, latent_dim=8, width=0.25, lr=1e-3), INFO, torch.device("cpu"))


LOOP = LoopConfig(steps=30, log_every=5, ckpt_every=10, progress=False, ema_decay=0.9, grid_per_component=4)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    ck = torch.load(path, weights_only=True)
    flat = {f"{k}.{n}": t for k, sd in ck["method_state"]["modules"].items() for n, t in sd.items()}
    flat.update({f"ema.{n}": t for n, t in ck["ema"]["shadow"]["G"].items()})
    return flat


def test_resume_is_bitwise_identical(tmp_path: Path) -> None:
    data = _data()
    train(_wgan(), data, LOOP, 3, tmp_path / "a", tmp_path / "a.ckpt")
    with pytest.raises(TrainingInterrupted, match="checkpoint saved"):
        train(_wgan(), data, LOOP, 3, tmp_path / "b", tmp_path / "b.ckpt", stop_after=17)
    assert (tmp_path / "b.ckpt").is_file()
    res = train(_wgan(), data, LOOP, 3, tmp_path / "b", tmp_path / "b.ckpt")
    assert res.resumed_from == 17
    a, b = _weights(tmp_path / "a/model.pt"), _weights(tmp_path / "b/model.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not (tmp_path / "b.ckpt").exists()  # completed runs drop their resume checkpoint
    for f in ("model.pt", "losses.csv", "train.json", "grids/final.png"):
        assert (tmp_path / "b" / f).is_file()


def test_checkpoint_from_other_config_is_not_resumed(tmp_path: Path) -> None:
    data = _data()
    with pytest.raises(TrainingInterrupted):
        train(_wgan(), data, LOOP, 3, tmp_path / "a", tmp_path / "c.ckpt", fingerprint="one", stop_after=10)
    with pytest.raises(CheckpointMismatch, match=r"another configuration.*--fresh"):
        train(_wgan(), data, LOOP, 3, tmp_path / "a", tmp_path / "c.ckpt", fingerprint="two")
    res = train(_wgan(), data, LOOP, 3, tmp_path / "a", tmp_path / "c.ckpt", fingerprint="two", fresh=True)
    assert res.resumed_from == 0


def test_checkpoint_mismatch_says_what_changed(tmp_path: Path) -> None:
    data = _data()
    with pytest.raises(TrainingInterrupted):
        train(_wgan(), data, LOOP, 3, tmp_path / "a", tmp_path / "c.ckpt", fingerprint="one",
              fingerprint_inputs={"cfg": {"lr": 1e-3, "width": 0.5}, "seed": 3}, stop_after=10)
    with pytest.raises(CheckpointMismatch, match=r"step 10.*changed: cfg\.lr: 0\.001 -> 0\.002\. Re-run with --fresh"):
        train(_wgan(), data, LOOP, 3, tmp_path / "a", tmp_path / "c.ckpt", fingerprint="two",
              fingerprint_inputs={"cfg": {"lr": 2e-3, "width": 0.5}, "seed": 3})
    assert (tmp_path / "c.ckpt").is_file() and not (tmp_path / "a").exists()  # nothing discarded without --fresh


def test_nan_loss_stops_with_clear_message_and_keeps_checkpoint(tmp_path: Path) -> None:
    m = _wgan()
    orig = m.train_step

    def poisoned(real, step, total):
        out = orig(real, step, total)
        if step == 14:
            out["g_loss"] = torch.tensor(float("nan"))
        return out

    m.train_step = poisoned  # type: ignore[method-assign]
    with pytest.raises(DivergenceError, match=r"'g_loss' became nan at step 14 .*last good checkpoint is"):
        train(m, _data(), LOOP, 3, tmp_path / "run", tmp_path / "run.ckpt")
    ck = torch.load(tmp_path / "run.ckpt", weights_only=True)  # tensors-only, written at step 10
    assert ck["step"] == 10
    assert not (tmp_path / "run/model.pt").exists()


def test_sampling_is_fixed_per_seeded_generator() -> None:
    m = _wgan()
    g1 = torch.Generator().manual_seed(5)
    g2 = torch.Generator().manual_seed(5)
    assert torch.equal(m.sample(6, 1, g1), m.sample(6, 1, g2))


def test_ema_rampup_forgets_the_initial_weights() -> None:
    """With the ramp-up a short run's average is not dominated by the random start (0.999^1500 = 22 %)."""
    from ucgan.training import EMA

    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    plain, ramped = EMA({"G": net}, 0.999), EMA({"G": net}, 0.999, rampup=0.05)
    with torch.no_grad():
        net.weight.fill_(1.0)
    for _ in range(1500):
        plain.update()
        ramped.update()
    w_plain = float(plain.shadow["G"]["weight"])
    w_ramped = float(ramped.shadow["G"]["weight"])
    assert abs(w_plain - (1 - 0.999**1500)) < 1e-4  # 0.777: the start still weighs 22 %
    assert w_ramped > 0.999999
    # long runs reach the configured decay; the count survives a state round-trip
    assert ramped.current_decay() < 0.999
    ramped.updates = 10**6
    assert abs(ramped.current_decay() - 0.999) < 1e-12
    other = EMA({"G": net}, 0.999)
    other.load_state_dict(ramped.state_dict())
    assert other.updates == 10**6 and other.rampup == 0.05


def test_hooks_watch_and_stop_the_run_without_patching_it(tmp_path: Path) -> None:
    seen: list[int] = []
    hooks = LoopHooks(progress=lambda step, total, losses: seen.append(step) or None,
                      should_stop=lambda step: step == 7)
    with pytest.raises(TrainingInterrupted, match=r"stopped at step 7/.*stop requested"):
        train(_wgan(), _data(), LOOP, 3, tmp_path / "a", tmp_path / "c.ckpt", hooks=hooks)
    assert seen == list(range(1, 8))
    assert torch.load(tmp_path / "c.ckpt", weights_only=True)["step"] == 7
    with pytest.raises(TrainingInterrupted, match=r"time limit"):
        train(_wgan(), _data(), LOOP, 3, tmp_path / "a", tmp_path / "c.ckpt", hooks=LoopHooks(max_seconds=1e-9))
    res = train(_wgan(), _data(), LOOP, 3, tmp_path / "a", tmp_path / "c.ckpt")
    assert res.resumed_from == 8 and res.steps == LOOP.steps
