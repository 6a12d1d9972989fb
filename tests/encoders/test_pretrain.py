"""End-to-end tests of the pretrain stage on tiny synthetic prepared datasets (tracking off)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ucgan.encoders import simclr
from ucgan.encoders.config import PretrainConfig
from ucgan.encoders.simclr import load_encoder, pretrain
from ucgan.io import save_npz, write_json
from ucgan.tracking import TrackingConfig

OFF = TrackingConfig(enabled=False)


def _write_dataset(root: Path, name: str, modality: str, shape: tuple[int, ...], n: int = 64,
                   value_range=(-1.0, 1.0), k: int = 2) -> None:
    """Tiny prepared dataset following the ucgan.data.dataset contract: class-dependent means."""
    rng = np.random.default_rng(0)
    d = root / name
    d.mkdir(parents=True)
    for split, m in (("train", n), ("test", n // 2)):
        y = np.arange(m) % k
        x = rng.normal(0, 0.3, size=(m, *shape)) + (y[:, None] * 2 - 1).reshape(-1, *[1] * len(shape)) * 0.5
        if value_range is not None:
            x = np.clip(x, *value_range)
        save_npz(d / f"{split}.npz", x=x.astype(np.float32), y=y.astype(np.int64))
    write_json(d / "manifest.json", {"dataset": name, "modality": modality, "shape": list(shape),
                                     "range": list(value_range) if value_range else None,
                                     "class_names": [f"c{i}" for i in range(k)]})


@pytest.fixture()
def image_root(tmp_path):
    _write_dataset(tmp_path / "prep", "tiny", "image", (1, 8, 8))
    return tmp_path / "prep"


def _cfg(**kw) -> PretrainConfig:
    base = dict(epochs=2, batch_size=16, proj_hidden_dim=32, proj_dim=16, width=4, probe=True)
    base.update(kw)
    return PretrainConfig(**base)


def test_pretrain_end_to_end_images(image_root, tmp_path):
    out = tmp_path / "enc"
    m = pretrain("tiny", _cfg(), image_root, out, "cpu", OFF, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["embeddings.npz", "encoder.pt", "loss.csv", "metrics.json"]
    assert m["epochs_done"] == 2 and m["steps"] == 8 and m["backbone"] == "small_cnn"
    assert json.loads((out / "metrics.json").read_text())["steps"] == 8
    lines = (out / "loss.csv").read_text().splitlines()
    assert lines[0] == "step,loss" and len(lines) == 9
    obj = torch.load(out / "encoder.pt", weights_only=True)   # tensors + plain data only
    assert obj["meta"]["backbone"] == "small_cnn" and obj["meta"]["shape"] == [1, 8, 8]
    emb = np.load(out / "embeddings.npz")
    assert emb["train_h"].shape == (64, 16) and emb["train_z"].shape == (64, 16) and emb["test_y"].shape == (32,)
    # load_encoder applies the training normalisation itself: data-range input -> the same features
    enc = load_encoder(out / "encoder.pt")
    x = torch.as_tensor(np.load(image_root / "tiny" / "test.npz")["x"])
    assert torch.allclose(enc(x), torch.as_tensor(emb["test_h"]), atol=1e-5)
    proj = load_encoder(out / "encoder.pt", output="projection")
    assert torch.allclose(proj(x), torch.as_tensor(emb["test_z"]), atol=1e-5)
    # frozen, but differentiable w.r.t. its input (InfoSCC-GAN's classification regulariser)
    xg = x[:4].clone().requires_grad_(True)
    enc(xg).sum().backward()
    assert xg.grad is not None and all(not p.requires_grad for p in enc.parameters())


def test_pretrain_points_and_random_alexnet(tmp_path):
    root = tmp_path / "prep"
    _write_dataset(root, "pts", "points", (2,), n=128, value_range=None)
    m = pretrain("pts", _cfg(epochs=1, batch_size=64, width=16), root, tmp_path / "p", "cpu", OFF, progress=False)
    assert m["backbone"] == "mlp" and m["steps"] == 2
    _write_dataset(root, "img", "image", (1, 8, 8))
    m = pretrain("img", _cfg(backbone="alexnet_random"), root, tmp_path / "a", "cpu", OFF, progress=False)
    assert m["steps"] == 0 and m["feature_dim"] == 4 * 4 * 1 * 1
    emb = np.load(tmp_path / "a" / "embeddings.npz")
    assert "train_z" not in emb.files
    with pytest.raises(Exception, match="no projection head"):
        load_encoder(tmp_path / "a" / "encoder.pt", output="projection")


def test_resume_reproduces_uninterrupted_run(image_root, tmp_path, monkeypatch):
    cfg = _cfg(epochs=3, checkpoint_every=1, probe=False)
    pretrain("tiny", cfg, image_root, tmp_path / "full", "cpu", OFF, progress=False, ckpt_path=tmp_path / "full.pt")

    real_save = simclr._save_ckpt

    def save_then_crash(path, fp, enc, opt, g, state):
        real_save(path, fp, enc, opt, g, state)
        if state.epoch == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(simclr, "_save_ckpt", save_then_crash)
    out, ckpt = tmp_path / "resumed", tmp_path / "ckpts" / "resumed.pt"
    with pytest.raises(KeyboardInterrupt):
        pretrain("tiny", cfg, image_root, out, "cpu", OFF, progress=False, ckpt_path=ckpt)
    assert not out.exists() and ckpt.is_file()  # no partial outputs; the resume state lives outside them
    monkeypatch.setattr(simclr, "_save_ckpt", real_save)
    m = pretrain("tiny", cfg, image_root, out, "cpu", OFF, progress=False, ckpt_path=ckpt)
    assert m["resumed_from_epoch"] == 2 and not ckpt.exists()
    assert (out / "loss.csv").read_text() == (tmp_path / "full" / "loss.csv").read_text()
    a, b = np.load(out / "embeddings.npz"), np.load(tmp_path / "full" / "embeddings.npz")
    assert np.allclose(a["test_h"], b["test_h"], atol=1e-5)


@pytest.mark.parametrize("stop_after", [6, 8])  # inside epoch 2 (4 steps an epoch), and at its end
def test_a_stop_request_checkpoints_after_the_step_and_resumes_exactly(image_root, tmp_path, stop_after):
    """SIGINT/SIGTERM (simulated by ``stop_after``) end pretraining after the current step, not the epoch:
    the checkpoint carries the epoch's order and progress, so the resumed run equals the uninterrupted one."""
    cfg = _cfg(epochs=3, checkpoint_every=0, probe=False)
    pretrain("tiny", cfg, image_root, tmp_path / "full", "cpu", OFF, progress=False, ckpt_path=tmp_path / "full.pt")
    out, ckpt = tmp_path / "resumed", tmp_path / "resumed.pt"
    with pytest.raises(simclr.PretrainInterrupted, match=f"stopped at step {stop_after}/12 .*Re-run the same command"):
        pretrain("tiny", cfg, image_root, out, "cpu", OFF, progress=False, ckpt_path=ckpt, stop_after=stop_after)
    assert not out.exists() and ckpt.is_file()
    m = pretrain("tiny", cfg, image_root, out, "cpu", OFF, progress=False, ckpt_path=ckpt)
    assert m["resumed_from_epoch"] == stop_after // 4 and m["steps"] == 12 and not ckpt.exists()
    assert (out / "loss.csv").read_text() == (tmp_path / "full" / "loss.csv").read_text()
    a, b = np.load(out / "embeddings.npz"), np.load(tmp_path / "full" / "embeddings.npz")
    assert np.allclose(a["test_h"], b["test_h"], atol=1e-5)


def test_stop_request_catches_the_signal_and_restores_the_handlers():
    import os
    import signal

    from ucgan.stopping import StopRequest

    before = signal.getsignal(signal.SIGTERM)
    with StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.signum == signal.SIGTERM and stop.name == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is before


def test_checkpoint_with_other_config_is_not_reused(image_root, tmp_path, monkeypatch):
    out, ckpt = tmp_path / "enc", tmp_path / "enc.pt"
    monkeypatch.setattr(simclr, "_save_ckpt", _crash_after(simclr._save_ckpt))
    with pytest.raises(KeyboardInterrupt):
        pretrain("tiny", _cfg(epochs=3, checkpoint_every=1), image_root, out, "cpu", OFF, progress=False, ckpt_path=ckpt)
    monkeypatch.undo()
    m = pretrain("tiny", _cfg(epochs=3, lr=1e-3), image_root, out, "cpu", OFF, progress=False, ckpt_path=ckpt)
    assert m["resumed_from_epoch"] == 0 and m["steps"] == 12


def _crash_after(save):
    def f(*args):
        save(*args)
        raise KeyboardInterrupt
    return f


def test_failure_leaves_no_outputs(image_root, tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(simclr, "embed", boom)
    with pytest.raises(RuntimeError):
        pretrain("tiny", _cfg(epochs=1), image_root, tmp_path / "enc", "cpu", OFF, progress=False)
    assert not (tmp_path / "enc").exists() or not any((tmp_path / "enc").iterdir())


def test_missing_dataset_is_a_data_error(tmp_path):
    from ucgan.errors import DataError

    with pytest.raises(DataError, match="ucgan prepare"):
        pretrain("nope", _cfg(), tmp_path, tmp_path / "o", "cpu", OFF, progress=False)
