"""Self-Conditioned GAN pieces: Hungarian re-matching (Eq. 3), re-clustering, conditioning, steps."""
from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F

from ucgan.methods import DataInfo, get_method
from ucgan.methods.scgan import hungarian_match

torch.set_num_threads(1)
K = 4
POINTS = DataInfo("points", (2,), None, K, "tiny")
CENTERS = torch.tensor([[-4.0, -4.0], [-4.0, 4.0], [4.0, -4.0], [4.0, 4.0]])
BASE = dict(latent_dim=2, embed_dim=8, batch_size=16, recluster_every=2, cluster_samples=400, kmeans_n_init=2)


def _blobs(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % K
    return CENTERS[y] + 0.05 * torch.randn(n, 2, generator=g), y


def _method(**kw):
    cls = get_method("scgan")
    torch.manual_seed(0)
    m = cls(cls.Config(**{**BASE, **kw}), POINTS, torch.device("cpu"))
    m.attach({"train_x": _blobs(400)[0].numpy()})
    return m


def _eq3(mapping: np.ndarray, new: np.ndarray, old: np.ndarray) -> int:
    """Samples the old clusters lose under ``mapping`` (Eq. 3)."""
    return int((mapping[new] != old).sum())


def test_hungarian_recovers_a_hand_made_relabelling() -> None:
    old = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3])
    perm = np.array([2, 3, 1, 0])             # k-means renamed old cluster c to perm[c]
    new = perm[old].copy()
    new[0] = perm[1]                          # two samples really moved
    new[5] = perm[3]
    mapping = hungarian_match(new, old, 4)
    np.testing.assert_array_equal(mapping[perm], np.arange(4))  # mapping = perm^-1
    assert _eq3(mapping, new, old) == 2
    best = min(_eq3(np.array(p), new, old) for p in itertools.permutations(range(4)))
    assert _eq3(mapping, new, old) == best    # optimal over all 24 matchings


def test_hungarian_is_optimal_on_random_partitions() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        old, new = rng.integers(0, 4, 60), rng.integers(0, 4, 60)
        mapping = hungarian_match(new, old, 4)
        assert sorted(mapping) == [0, 1, 2, 3]
        assert _eq3(mapping, new, old) == min(_eq3(np.array(p), new, old) for p in itertools.permutations(range(4)))


def test_first_clustering_and_rematching_keep_labels() -> None:
    m = _method(arch="paper")
    info = m.recluster()                      # k-means++ on the random D: one cluster per blob
    x, y = _blobs(200, seed=1)
    lab = m.labels(x)
    assert info["empty"] == 0 and len(set(lab.tolist())) == K
    for c in range(K):                        # pure clusters
        assert len(set(lab[y == c].tolist())) == 1
    np.testing.assert_allclose(m.mixing(), np.full(K, 0.25), atol=1e-6)
    with torch.no_grad():                     # D moves; the re-clustering must keep every cluster's name
        for p in m.D.parameters():
            p.add_(0.3 * torch.randn_like(p))
    again = m.recluster()
    assert again["lost"] == 0
    assert torch.equal(m.labels(x), lab)


def test_table6_ablations_switch_off_matching_and_old_means() -> None:
    """Without Eq. 3 matching the cluster ids are k-means' own: across re-clusterings from k-means++
    (no Eq. 2 initialisation) some blob changes its name; with both on, none does."""
    x, _ = _blobs(200, seed=1)

    def renamed(**kw: bool) -> int:
        m = _method(arch="paper", **kw)
        m.recluster()
        lab = m.labels(x)
        changes = 0
        for _ in range(6):
            m.recluster()
            changes += int(not torch.equal(m.labels(x), lab))
        return changes

    assert renamed() == 0
    assert renamed(init_from_old=False) == 0  # matched back to the old names
    assert renamed(init_from_old=False, match_clusters=False) > 0


def test_generator_conditioning_uses_unit_norm_embedding() -> None:
    m = _method()
    z = torch.zeros(3, 2)
    y = torch.tensor([0, 1, 2])
    m.G.eval()
    out = m.G(z, y)
    with torch.no_grad():
        m.G.embed.weight.mul_(7.0)            # scaling the table changes nothing: rows are normalised
    torch.testing.assert_close(m.G(z, y), out)
    assert torch.allclose(F.normalize(m.G.embed.weight, dim=1).norm(dim=1), torch.ones(K))


def test_train_steps_batch_shared_and_online() -> None:
    x, _ = _blobs(16, seed=2)
    for kw in (dict(arch="paper"), dict(arch="shared", width=0.1, r1_weight=0.1),
               dict(arch="shared", width=0.1, clustering="online", online_start=1)):
        m = _method(**kw)
        g0 = [p.detach().clone() for p in m.G.parameters()]
        for step in range(3):
            out = m.train_step(x, step, 10)
            assert all(v.dim() == 0 and torch.isfinite(v) for v in out.values())
        assert any(not torch.equal(a, p) for a, p in zip(g0, m.G.parameters()))
        assert m.mixing().sum() == np.float64(1.0) or abs(m.mixing().sum() - 1) < 1e-9
        assert m.sample(5).shape == (5, 2) and m.sample(3, component=1).shape == (3, 2)
        assert m.assign(x).shape == (16,)
    assert m.online


def test_without_attached_data_clusters_the_seen_batches() -> None:
    cls = get_method("scgan")
    m = cls(cls.Config(**{**BASE, "arch": "paper"}), POINTS, torch.device("cpu"))
    x, _ = _blobs(16, seed=3)
    m.train_step(x, 0, 10)
    assert m.clustered and m.last_recluster["n"] == 16


def test_fallback_buffer_grows_with_each_batch_once() -> None:
    cls = get_method("scgan")
    m = cls(cls.Config(**{**BASE, "arch": "paper", "recluster_every": 2}), POINTS, torch.device("cpu"))
    for step in range(3):
        m.train_step(_blobs(16, seed=10 + step)[0], step, 10)
    assert len(m._buffer) == 48 and m.last_recluster["n"] == 48  # step 2 re-clustered all three batches
