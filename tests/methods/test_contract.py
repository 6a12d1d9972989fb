"""The method contract, checked for every registered method: one training step, sampling per
component in the data's range, assign / features / mixing as base.py documents them, and a
tensors-only state that round-trips through ``torch.load(weights_only=True)``.

Methods with ``needs_encoder`` get real pretrain/cluster outputs on tiny data (the InfoSCC-GAN tests'
helper); the others a tiny 2-D mixture and 28x28 images.
"""
from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import torch
from test_infoscc import make_artifacts  # noqa: E402  (same folder; pytest puts it on sys.path)

from ucgan.methods import DataInfo, available, get_method

CPU = torch.device("cpu")
POINTS = DataInfo("points", (2,), (-1.0, 1.0), 2, "tiny")
IMAGES = DataInfo("image", (1, 28, 28), (0.0, 1.0), 2, "tiny")
SMALL = {"width": 0.125, "latent_dim": 8, "batch_size": 8}
#: per-method keys that keep the tiny runs fast (the methods' own tests cover their options)
TINY = {"infoscc": {"g_channels": 8, "n_basis": 3}, "scgan": {"cluster_samples": 64, "embed_dim": 8},
        "cgpgan": {"num_components": 4}}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return {m: make_artifacts(tmp_path_factory.mktemp(m), m) for m in ("points", "image")}


def _build(name: str, modality: str, artifacts) -> tuple:
    M = get_method(name)
    fields = {f.name for f in dataclasses.fields(M.Config)}
    kw = {k: v for k, v in {**SMALL, **TINY.get(name, {})}.items() if k in fields}
    torch.manual_seed(0)
    if M.needs_encoder:
        info, res, x, y = artifacts[modality]
        m = M(M.Config(**kw), info, CPU)
        m.attach({**res, "train_x": x, "train_y": y})
        return m, info, torch.from_numpy(x[:8]), res, x, y
    info = POINTS if modality == "points" else IMAGES
    lo, hi = info.value_range
    x = (lo + (hi - lo) * torch.rand(64, *info.shape)).numpy()
    m = M(M.Config(**kw), info, CPU)
    m.attach({"train_x": x})
    return m, info, torch.from_numpy(x[:8]), {}, x, None


@pytest.mark.parametrize("modality", ["points", "image"])
@pytest.mark.parametrize("name", available())
def test_method_contract(name: str, modality: str, artifacts) -> None:
    m, info, real, res, x, y = _build(name, modality, artifacts)
    out = m.train_step(real, 0, 10)
    assert out and all(isinstance(v, torch.Tensor) and v.dim() == 0 and torch.isfinite(v) for v in out.values())
    m.eval()
    k = m.num_components
    lo, hi = info.value_range
    for c in range(k):
        s = m.sample(3, component=c, generator=torch.Generator().manual_seed(c))
        assert s.shape == (3, *info.shape) and bool(((s >= lo) & (s <= hi)).all()), f"component {c}"
    assert m.sample(5, generator=torch.Generator().manual_seed(0)).shape == (5, *info.shape)
    a, f = m.assign(real), m.features(real)
    assert a is not None or f is not None, "evaluation needs assign or features for NMI"
    if a is not None:
        assert a.shape == (8,) and a.dtype == torch.long and 0 <= int(a.min()) and int(a.max()) < k
    if f is not None:
        assert f.dim() == 2 and f.shape[0] == 8 and bool(torch.isfinite(f).all())
    mix = m.mixing()
    if mix is not None:
        mix = np.asarray(mix)
        assert mix.shape == (k,) and (mix >= 0).all() and np.isclose(mix.sum(), 1.0)

    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)  # tensors and plain data only
    m2 = _build(name, modality, artifacts)[0]
    m2.load_state_dict(state)
    m2.eval()
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    torch.testing.assert_close(m.sample(4, component=k - 1, generator=g1), m2.sample(4, component=k - 1, generator=g2))
