"""The method contract, checked for every registered method: training steps, sampling per component
in the data's range, assign / features / mixing as base.py documents them, networks and optimisers
declared to the base (what an optimiser updates is saved), and a tensors-only state that
round-trips through ``torch.load(weights_only=True)`` exactly.

The round trip is the one test of it for all methods (the methods' own files test their pieces):
the reloaded state equals the saved one entry by entry, and the reloaded method samples, assigns,
featurises and mixes as the original. Methods with ``needs_encoder`` are reloaded as evaluation
does (attached without the training split: bank, shares and classifier come from the state).

Methods with ``needs_encoder`` get real pretrain/cluster outputs on tiny data (the InfoSCC-GAN tests'
helper); the others a tiny 2-D mixture and 28x28 images.
"""
from __future__ import annotations

import dataclasses
import io
from typing import Any

import numpy as np
import pytest
import torch
from test_infoscc import make_artifacts  # noqa: E402  (same folder; pytest puts it on sys.path)

from ucgan.methods import DataInfo, available, get_method
from ucgan.methods.base import for_inference

CPU = torch.device("cpu")
POINTS = DataInfo("points", (2,), (-1.0, 1.0), 2, "tiny")
IMAGES = DataInfo("image", (1, 28, 28), (0.0, 1.0), 2, "tiny")
SMALL = {"width": 0.125, "latent_dim": 8, "batch_size": 8}
#: per-method keys that keep the tiny runs fast (the methods' own tests cover their options)
TINY = {"infoscc": {"g_channels": 8, "n_basis": 3}, "scgan": {"cluster_samples": 64, "embed_dim": 8},
        "cgpgan": {"num_components": 4}}
#: options that change which networks, optimisers or state a method has: checked as well
VARIANTS = [("cgpgan", "points", {"arch": "paper", "hidden": 16, "depth": 2}),
            ("deliganplus", "points", {"encoder_loss": "u2c", "rho_update": True, "rho_lr": 0.5}),
            ("infogan", "points", {"share_trunk": False, "continuous_codes": 2}),
            ("scgan", "points", {"arch": "paper"})]
CASES = [(n, mod, {}) for n in available() for mod in ("points", "image")] + VARIANTS


def _id(case: tuple[str, str, dict]) -> str:
    name, modality, over = case
    return "-".join([name, modality, *(f"{k}={v}" for k, v in over.items())])


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return {m: make_artifacts(tmp_path_factory.mktemp(m), m) for m in ("points", "image")}


def _build(name: str, modality: str, artifacts, over: dict | None = None, train: bool = True,
           inference: bool = False) -> tuple:
    if inference:  # as evaluation rebuilds a run from model.pt: no optimisers
        with for_inference():
            return _build(name, modality, artifacts, over, train)
    M = get_method(name)
    fields = {f.name for f in dataclasses.fields(M.Config)}
    kw = {k: v for k, v in {**SMALL, **TINY.get(name, {}), **(over or {})}.items() if k in fields}
    torch.manual_seed(0)
    if M.needs_encoder:
        info, res, x, y = artifacts[modality]
        m = M(M.Config(**kw), info, CPU)
        m.attach({**res, "train_x": x, "train_y": y} if train else res)
        return m, info, torch.from_numpy(x[:8])
    info = POINTS if modality == "points" else IMAGES
    lo, hi = info.value_range
    x = (lo + (hi - lo) * torch.rand(64, *info.shape)).numpy()
    m = M(M.Config(**kw), info, CPU)
    m.attach({"train_x": x})
    return m, info, torch.from_numpy(x[:8])


def _assert_same(a: Any, b: Any, path: str = "state") -> None:
    """Exact equality of two nested states: tensors by value, containers by keys, plain data by ==."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b.to(a.device)), path
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            _assert_same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), path
        for i, (u, v) in enumerate(zip(a, b)):
            _assert_same(u, v, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_method_contract(case: tuple[str, str, dict], artifacts) -> None:
    name, modality, over = case
    m, info, real = _build(name, modality, artifacts, over)
    for step in (0, 9):  # the second step is past the schedules' starts (CGPGAN's prior moves)
        out = m.train_step(real, step, 10)
        assert out and all(isinstance(v, torch.Tensor) and v.dim() == 0 and torch.isfinite(v) for v in out.values())

    # declared to the base: the generator is averaged, and every parameter an optimiser updates is saved
    assert set(m.ema_modules()) == {"G"} and m.ema_modules()["G"] is m.modules()["G"]
    saved = {id(p) for mod in m.modules().values() for p in mod.parameters()}
    for key, opt in m.optimizers().items():
        assert all(id(p) in saved for g in opt.param_groups for p in g["params"]), f"optimizer {key}"

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

    # the state round trip
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)  # tensors and plain data only
    m2 = _build(name, modality, artifacts, over, train=False)[0]
    m2.load_state_dict(state)
    _assert_same(state, m2.state_dict())
    m2.eval()
    for c in (None, k - 1):
        g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
        torch.testing.assert_close(m.sample(4, component=c, generator=g1), m2.sample(4, component=c, generator=g2))
    # evaluation's rebuild: the same networks and state without optimisers, the same samples; a step refuses
    m3 = _build(name, modality, artifacts, over, train=False, inference=True)[0]
    assert m3.optimizers() == {}
    m3.load_state_dict(state)
    m3.eval()
    assert set(m3.state_dict()["modules"]) == set(state["modules"])
    for other in (m2, m3):
        g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        torch.testing.assert_close(m.sample(4, generator=g1), other.sample(4, generator=g2))
        pairs = {"assign": (m.assign(real), other.assign(real)), "features": (m.features(real), other.features(real)),
                 "mixing": (m.mixing(), other.mixing())}
        for what, (v1, v2) in pairs.items():
            assert (v1 is None) == (v2 is None), what
            if v1 is not None:
                np.testing.assert_array_equal(np.asarray(v1), np.asarray(v2), err_msg=what)
    m3.train()
    with pytest.raises(RuntimeError, match="loaded for evaluation"):
        m3.train_step(real, 0, 10)


def test_an_evaluation_build_does_not_import_the_compiler() -> None:
    """Why :func:`for_inference` exists: the first torch optimiser of a process imports ``torch._dynamo``
    (a quarter of an evaluate stage's start-up). Checked in a fresh interpreter, where nothing else has."""
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from ucgan.experiment import build_method\n"
        "from ucgan.methods import DataInfo, get_method\n"
        "info = DataInfo('points', (2,), (-1.0, 1.0), 2, 'tiny')\n"
        "cfg = get_method('slogan').Config(width=0.125, latent_dim=8)\n"
        "m = build_method('slogan', cfg, info, torch.device('cpu'), {}, inference=True)\n"
        "assert m.optimizers() == {} and 'torch._dynamo' not in sys.modules, 'inference build'\n"
        "build_method('slogan', cfg, info, torch.device('cpu'), {})\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    # the training build does import it: if torch stops doing so, this test and for_inference can go
    assert out.stdout.strip() == "True"
