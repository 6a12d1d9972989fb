"""evaluate_method end to end on a 2-D mixture and tiny images with toy methods (no training)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ucgan.config import from_mapping
from ucgan.data.dataset import Split
from ucgan.errors import ConfigError
from ucgan.metrics import EvalProfile, StatsCache, evaluate_method

CENTERS = np.array([[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5]])
STD = 0.02
SHARES = np.array([0.1, 0.2, 0.3, 0.4])


def _mixture_split(n: int, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), (SHARES * n).astype(int)).astype(np.int64)
    x = (CENTERS[y] + rng.standard_normal((len(y), 2)) * STD).astype(np.float32)
    manifest = {"dataset": "toy", "modality": "points", "shape": [2], "range": None,
                "class_names": [f"m{k}" for k in range(4)], "centers": CENTERS.tolist(), "std": STD,
                "content_hash": f"toy-{seed}-{n}"}
    return Split(x=x, y=y, manifest=manifest)


class ToyMethod:
    """Component c generates mode perm[c]; ``rule`` picks what assign/features return."""

    def __init__(self, perm, mixing=None, rule="assign"):
        self.perm = np.asarray(perm)
        self._mixing = mixing
        self.rule = rule
        self.device = torch.device("cpu")
        self.num_components = len(perm)

    def eval(self):
        return self

    def sample(self, n, component=None, generator=None):
        if component is None:
            w = self._mixing if self._mixing is not None else np.full(self.num_components, 1 / self.num_components)
            comp = torch.multinomial(torch.as_tensor(w, dtype=torch.float64), n, replacement=True, generator=generator)
        else:
            comp = torch.full((n,), component)
        centers = torch.as_tensor(CENTERS[self.perm], dtype=torch.float32)[comp]
        return centers + torch.randn(n, 2, generator=generator) * STD

    def assign(self, x):
        if self.rule != "assign":
            return None
        mode = torch.cdist(x, torch.as_tensor(CENTERS, dtype=torch.float32)).argmin(1)
        inv = torch.as_tensor(np.argsort(self.perm))
        return inv[mode]

    def features(self, x):
        return x if self.rule == "features" else None

    def representation(self, x):
        return None if self.rule == "none" else x

    def mixing(self):
        return self._mixing


PERM = [2, 0, 3, 1]  # component c -> mode PERM[c]
PROFILE = EvalProfile(n_fake=4000, min_real_per_class=20)


def test_oracle_method_on_mixture(tmp_path):
    train, test = _mixture_split(4000, 0), _mixture_split(1000, 1)
    mix = SHARES[PERM]  # component c has the share of its mode
    cache = StatsCache(tmp_path)
    r = evaluate_method(ToyMethod(PERM, mixing=mix), train, test, PROFILE, cache, "cpu")
    json.dumps(r, allow_nan=False)
    assert r["extractor"] == "raw" and r["real_split"] == "test" and r["n_real"] == 1000
    # Algorithm 2: N = smallest test class (100) real samples per class and fakes per component
    assert r["n_real_per_class"] == [100, 200, 300, 400] and r["n_fake_per_component"] == 100
    assert r["protocol"]["icfid_n_per_class"] == 100 and r["protocol"]["components_excluded"] == 0
    assert r["assignment"] == np.argsort(PERM).tolist()
    assert r["icfid"] < 1e-2 and r["fid"] < 1e-3
    assert r["nmi"] == pytest.approx(1.0) and r["nmi_source"].startswith("kmeans")
    assert r["nmi_assignment"] == pytest.approx(1.0) and r["purity"] == pytest.approx(1.0)
    assert r["precision"] > 0.9 and r["recall"] > 0.9 and all(p > 0.8 for p in r["precision_per_class"])
    assert abs(r["kid"]) < 5e-3 and r["kid_subsets"] == 100 and r["kid_subset_size"] == 1000  # unbiased: ~0
    np.testing.assert_allclose(r["mixing_learned"], SHARES)
    assert r["mixing_l1"] == pytest.approx(0.0, abs=1e-12) and r["mixing_assumed_uniform"] is False
    assert r["modes_covered"] == 4 and r["high_quality_share"] > 0.98 and r["reverse_kl"] < 0.01
    assert r["stats_cache"] == {"hits": 0, "misses": 5}
    # the default label classifier (15-NN on points) certifies control of each component
    assert r["attribute_classifier"] == "knn15-raw" and r["attribute_classifier_test_acc"] == 1.0
    assert r["attribute_accuracy_independent"] == 1.0
    assert r["attribute_accuracy_independent_per_component"] == [1.0] * 4
    again = evaluate_method(ToyMethod(PERM, mixing=mix), train, test, PROFILE, cache, "cpu")
    assert again["stats_cache"] == {"hits": 5, "misses": 0}
    assert again["icfid"] == r["icfid"] and again["fid"] == r["fid"]  # seeded sampling + cached stats


def test_kmeans_protocol_uniform_mixing_and_train_fallback():
    train, test = _mixture_split(4000, 0), _mixture_split(100, 1)  # test minority class has 10 < 20
    r = evaluate_method(ToyMethod(PERM, rule="features"), train, test, PROFILE)
    assert r["real_split"] == "train" and r["nmi_source"].startswith("kmeans") and r["nmi"] > 0.99
    assert r["mixing_assumed_uniform"] is True
    np.testing.assert_allclose(r["mixing_learned"], [0.25] * 4)
    assert r["mixing_l1"] == pytest.approx(np.abs(SHARES - 0.25).sum())
    assert r["kid"] > 0.03  # uniform fakes against the 1:2:3:4 truth: KID sees the wrong mixture
    r2 = evaluate_method(ToyMethod(PERM, rule="none"), train, test, PROFILE)
    assert r2["nmi"] is None and r2["nmi_source"] is None and r2["purity"] is None


def test_collapsed_method_and_overcomplete_components():
    train, test = _mixture_split(2000, 0), _mixture_split(1000, 1)
    r = evaluate_method(ToyMethod([0, 1, 2, 3, 3, 3]), train, test, PROFILE)  # 6 components, mode 3 thrice
    assert r["num_components"] == 6 and len(r["fid_matrix"][0]) == 6
    assert r["assignment"][:3] == [0, 1, 2] and r["assignment"][3] in (3, 4, 5)
    assert r["mixing_unmatched"] == pytest.approx(2 / 6)
    assert r["mixing_l1_grouped"] < r["mixing_l1"]
    missing = evaluate_method(ToyMethod([0, 1, 2, 2]), train, test, PROFILE)  # never generates mode 3
    assert missing["icfid"] > 100 * r["icfid"] and missing["modes_covered"] == 3
    # component 3 (a second copy of mode 2) is matched to class 3 by ICFID: its samples are all class 2
    assert missing["attribute_accuracy_independent_per_component"][3] == 0.0
    assert missing["attribute_accuracy_independent"] == 0.75
    off = evaluate_method(ToyMethod(PERM), train, test, EvalProfile(n_fake=400, icfid_n=50,
                                                                    attribute_classifier="none"))
    assert "attribute_accuracy_independent" not in off and "attribute_classifier" not in off
    assert off["protocol"]["icfid_n_per_class"] == 50


def _image_split(n_per: list[int], seed: int) -> Split:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(n_per)), n_per).astype(np.int64)
    x = np.clip(y[:, None, None, None] / 2.0 + rng.uniform(-0.05, 0.05, (len(y), 1, 4, 4)), 0, 1).astype(np.float32)
    return Split(x=x, y=y, manifest={"modality": "image", "shape": [1, 4, 4], "range": [0.0, 1.0],
                                     "class_names": ["a", "b", "c"]})


class ToyImages:
    num_components = 3
    device = torch.device("cpu")

    def sample(self, n, component=None, generator=None):
        c = torch.randint(0, 3, (n,), generator=generator) if component is None else torch.full((n,), component)
        return (c.float() / 2.0).view(n, 1, 1, 1) + (torch.rand(n, 1, 4, 4, generator=generator) - 0.5) * 0.1

    def assign(self, x):
        return (x.mean((1, 2, 3)) * 2).round().long()


def test_images_with_raw_and_encoder_extractors_and_classifier():
    train, test = _image_split([60, 30, 10], 0), _image_split([60, 30, 10], 1)
    prof = EvalProfile(extractor="raw", n_fake=200, min_real_per_class=5, attribute_n_per_component=20)
    clf = lambda x: (x.mean((1, 2, 3)) * 2).round().long()  # noqa: E731
    r = evaluate_method(ToyImages(), train, test, prof, classifier=clf)
    assert r["extractor"] == "raw" and r["assignment"] == [0, 1, 2] and r["nmi_assignment"] == pytest.approx(1.0)
    assert r["nmi"] is None  # no representation: the SLOGAN rule cannot be applied, and it says so
    assert r["attribute_accuracy_independent"] == 1.0 and "modes_covered" not in r
    enc = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    r2 = evaluate_method(ToyImages(), train, test, EvalProfile(extractor="encoder", n_fake=100,
                                                                min_real_per_class=5), encoder=enc)
    assert r2["extractor"].startswith("encoder:") and r2["assignment"] == [0, 1, 2]


def test_profile_from_params_mapping():
    p = from_mapping(EvalProfile, {"matching": "hungarian", "kmeans_seeds": [0, 1, 2], "n_fake": 1000}, "evaluate")
    assert p.kmeans_seeds == (0, 1, 2) and p.matching == "hungarian"
    with pytest.raises(ConfigError):
        from_mapping(EvalProfile, {"matching": "optimal"}, "evaluate")
    with pytest.raises(ConfigError):
        from_mapping(EvalProfile, {"icfid_n": 1}, "evaluate")
