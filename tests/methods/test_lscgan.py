"""LSC-GAN on tiny nets: Algorithm 1 on hand-made features, the triple coupled loss and its ablation
switches, n generator steps per D step and per-cluster sampling (the state round trip is the shared
contract test's)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from test_infoscc import make_artifacts  # noqa: E402  (same folder; pytest puts it on sys.path)

from ucgan.errors import ConfigError
from ucgan.methods import get_method
from ucgan.methods.lscgan import pair_indices, stratified_bank

torch.set_num_threads(1)
CPU = torch.device("cpu")
TINY = dict(width=0.05, latent_dim=4, batch_size=8)


@pytest.fixture(scope="module")
def image_art(tmp_path_factory):
    return make_artifacts(tmp_path_factory.mktemp("img"), "image")


@pytest.fixture(scope="module")
def points_art(tmp_path_factory):
    return make_artifacts(tmp_path_factory.mktemp("pts"), "points")


def _method(art, train=True, **kw):
    info, res, x, _ = art
    cls = get_method("lscgan")
    torch.manual_seed(0)
    m = cls(cls.Config(**{**TINY, **kw}), info, CPU)
    m.attach({**res, "train_x": x} if train else res)
    return m


def test_pairs_are_true_l1_nearest_and_farthest() -> None:
    f = torch.tensor([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [0.0, 3.0]])
    near, far = pair_indices(f)
    assert near.tolist() == [1, 0, 3, 0]
    assert far.tolist() == [2, 2, 0, 2]
    # L1 and L2 disagree here: (3.5, 0) is L1-nearer to the origin (3.5 < 4), (2, 2) is L2-nearer.
    g = torch.tensor([[0.0, 0.0], [2.0, 2.0], [3.5, 0.0], [9.0, 9.0]])
    near, far = pair_indices(g)
    assert int(near[0]) == 2 and int(far[0]) == 3
    with pytest.raises(ConfigError):
        pair_indices(torch.zeros(1, 2))


def test_feature_bank_keeps_cluster_shares() -> None:
    labels = np.array([0] * 700 + [1] * 250 + [2] * 50)
    rows = stratified_bank(labels, 3, 100)
    assert np.bincount(labels[rows]).tolist() == [70, 25, 5]
    assert stratified_bank(labels, 3, 5000).tolist() == list(range(1000))


def test_image_train_step_triple_loss_and_ablation(image_art) -> None:
    real = torch.as_tensor(image_art[2][:8])
    m = _method(image_art)
    out = m.train_step(real, 0, 4)
    assert {"g_loss", "d_adv", "d_same", "d_diff", "d_loss"} <= set(out)
    assert all(v.dim() == 0 and torch.isfinite(v) for v in out.values())
    no_same = _method(image_art, use_same=False).train_step(real, 0, 4)
    assert "d_same" not in no_same and "d_diff" in no_same
    no_diff = _method(image_art, use_diff=False).train_step(real, 0, 4)
    assert "d_diff" not in no_diff and "d_same" in no_diff


def test_n_generator_steps_per_discriminator_step(points_art) -> None:
    m = _method(points_art, g_steps_per_d=2)
    real = torch.as_tensor(points_art[2][:8])
    d0 = [p.detach().clone() for p in m.D.parameters()]
    out = m.train_step(real, 1, 4)  # odd step: generator only
    assert "d_loss" not in out
    assert all(torch.equal(a, b) for a, b in zip(d0, m.D.parameters()))
    assert "d_loss" in m.train_step(real, 2, 4)


def test_component_samples_use_features_of_that_cluster(points_art) -> None:
    m = _method(points_art)
    latent = m.cfg.latent_dim
    m.G = lambda inp: inp[:, latent:]  # expose the (standardised) condition the generator receives
    for c in range(2):
        cond = m.sample(20, component=c, generator=torch.Generator().manual_seed(c))
        feats = cond * m._std + m._mean
        bank_c = m._bank[m._bank_labels == c]
        assert torch.cdist(feats, bank_c).min(dim=1).values.max() < 1e-4
    np.testing.assert_allclose(m.mixing(), [24 / 36, 12 / 36], atol=1e-6)


