"""The comparable evaluation protocol on toy data: equal-N ICFID, excluded components, unconditional
methods, k-NN precision/recall, purity, exact rank-sum p-values, Cohen's d and named variants."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import yaml

from ucgan.data.dataset import Split
from ucgan.errors import ConfigError, UcganError
from ucgan.metrics import EvalProfile, evaluate_method
from ucgan.metrics.protocol import (check_extractor_independent, icfid_n, knn_precision_recall, per_class_subsample,
                                    purity)
from ucgan.methods import base_method, get_method
from ucgan.registry import pick_champion
from ucgan import report as R

CENTERS = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])


def _split(counts: list[int], seed: int) -> Split:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts).astype(np.int64)
    x = (CENTERS[y] + rng.standard_normal((len(y), 2)) * 0.05).astype(np.float32)
    return Split(x=x, y=y, manifest={"dataset": "toy3", "modality": "points", "shape": [2], "range": None,
                                     "class_names": ["a", "b", "c"], "content_hash": f"toy3-{seed}-{sum(counts)}"})


class Toy:
    """Component c generates class ``modes[c]``; ``shares`` is its learned mixing."""

    device = torch.device("cpu")
    conditional = True
    min_component_share = 0.0
    representation_name = "x"

    def __init__(self, modes, shares=None, **cls_attrs):
        self.modes = list(modes)
        self.shares = shares
        self.num_components = len(self.modes)
        for k, v in cls_attrs.items():
            setattr(self, k, v)

    def sample(self, n, component=None, generator=None):
        if component is None:
            w = torch.as_tensor(self.shares if self.shares is not None else np.full(self.num_components, 1 / self.num_components))
            comp = torch.multinomial(w.double(), n, replacement=True, generator=generator)
        else:
            comp = torch.full((n,), component)
        c = torch.as_tensor(CENTERS[np.asarray(self.modes)], dtype=torch.float32)[comp]
        return c + torch.randn(n, 2, generator=generator) * 0.05

    def representation(self, x):
        return x

    def mixing(self):
        return self.shares


TRAIN, TEST = _split([300, 200, 100], 0), _split([90, 60, 30], 1)
PROF = EvalProfile(n_fake=600, min_real_per_class=10, attribute_n_per_component=50)


def test_icfid_uses_the_same_n_for_every_method() -> None:
    a = evaluate_method(Toy([0, 1, 2]), TRAIN, TEST, PROF)
    b = evaluate_method(Toy([0, 1, 2, 2, 1]), TRAIN, TEST, PROF)  # more components, same N per component
    assert a["protocol"]["icfid_n_per_class"] == b["protocol"]["icfid_n_per_class"] == 30  # smallest test class
    assert a["n_fake_per_component"] == b["n_fake_per_component"] == 30
    assert a["icfid"] < 0.01 and b["icfid"] < 0.01
    c = evaluate_method(Toy([0, 1, 2]), TRAIN, TEST, EvalProfile(n_fake=600, icfid_n=20, min_real_per_class=10))
    assert c["protocol"]["icfid_n_per_class"] == 20 and c["protocol"]["icfid_n_seed"] == 0
    with pytest.raises(UcganError, match="icfid_n"):  # more than the smallest reference class has
        evaluate_method(Toy([0, 1, 2]), TRAIN, TEST, EvalProfile(icfid_n=95, real_split="test"))


def test_subsample_without_replacement_is_seeded_and_equal_per_class() -> None:
    y = np.repeat([0, 1], [50, 7])
    idx = per_class_subsample(y, 2, 7, seed=3)
    assert len(set(idx.tolist())) == 14 and np.bincount(y[idx]).tolist() == [7, 7]
    assert (idx == per_class_subsample(y, 2, 7, seed=3)).all() and not (idx == per_class_subsample(y, 2, 7, seed=4)).all()
    assert icfid_n([40, 12, 30]) == 12 and icfid_n([40, 12], configured=5) == 5
    with pytest.raises(UcganError):
        icfid_n([1, 30])


def test_components_under_the_minimum_share_are_left_out_of_the_matching() -> None:
    # component 3 duplicates mode 0 with 0.5% of the mass: CGPGAN's rule drops it before matching
    m = Toy([0, 1, 2, 0], shares=[0.5, 0.3, 0.195, 0.005], min_component_share=0.01)
    r = evaluate_method(m, TRAIN, TEST, PROF)
    assert r["protocol"]["components_excluded"] == 1 and r["components_excluded_ids"] == [3]
    assert 3 not in r["assignment"] and r["fid_matrix"][0][3] is None  # infinite = not compared
    keep = evaluate_method(Toy([0, 1, 2, 0], shares=[0.5, 0.3, 0.195, 0.005]), TRAIN, TEST, PROF)
    assert keep["protocol"]["components_excluded"] == 0


def test_unconditional_method_has_no_icfid_and_is_never_champion() -> None:
    wgan_like = Toy([0, 1, 2], conditional=False, name="wgan")
    r = evaluate_method(wgan_like, TRAIN, TEST, PROF)
    assert r["icfid"] is None and "unconditional" in r["icfid_reason"]
    assert r["mixing_l1"] is None and r["protocol"]["icfid_n_per_class"] is None
    assert "attribute_accuracy_independent" not in r and r["fid"] is not None and r["nmi"] is not None
    assert get_method("wgan").conditional is False and get_method("slogan").conditional is True
    rows = [{"method": "wgan", "seed": 0, "icfid": 0.1, "fid": 0.1, "conditional": False},  # even a stale finite ICFID
            {"method": "slogan", "seed": 0, "icfid": 5.0, "fid": 3.0, "conditional": True}]
    assert pick_champion(rows)["method"] == "slogan"
    assert pick_champion(rows[:1]) is None
    recs = [{"dataset": "t", "method": "wgan", "seed": 0, "fid": 1.0, "icfid": None, "conditional": False},
            {"dataset": "t", "method": "slogan", "seed": 0, "fid": 2.0, "icfid": 4.0, "conditional": True}]
    assert R.champions(recs)["t"]["method"] == "slogan"
    md = R.render_markdown("t", {"wgan": recs[:1], "slogan": recs[1:]}, [], recs[1], "", {}, [], "slogan")
    assert "| wgan | 1 | **1** | n/a |" in md


def test_knn_precision_recall_known_answer() -> None:
    real = np.stack([np.arange(10.0), np.zeros(10)], 1)
    far = real + np.array([1000.0, 0.0])
    p, r = knn_precision_recall(real, np.concatenate([real, far]), k=3)
    assert p == pytest.approx(0.5) and r == pytest.approx(1.0)  # half the fakes off the real manifold
    p2, r2 = knn_precision_recall(real, real[:5].copy(), k=3)  # fakes cover only the left half
    assert p2 == pytest.approx(1.0) and r2 < 1.0
    assert knn_precision_recall(real, far, k=3) == (0.0, 0.0)


def test_purity_known_answer() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    assert purity(y, np.array([0, 0, 0, 1, 1, 1])) == 1.0
    assert purity(y, np.array([0, 0, 1, 1, 1, 1])) == pytest.approx(5 / 6)
    assert purity(y, np.zeros(6, dtype=int)) == pytest.approx(0.5)


def test_refusal_names_cause_and_fix() -> None:
    for name in ("infoscc", "lscgan"):
        cls = get_method(name)
        assert "encoder" in cls.consumes and cls.attributes_from == "cluster-stage"
        with pytest.raises(UcganError, match=f"refusing to score {name}.*eval-encoder"):
            check_extractor_independent(cls, "encoder")
        check_extractor_independent(cls, "eval-encoder", "eval-encoder:abc")  # independent: fine
        with pytest.raises(UcganError, match="refusing"):  # same weights under another name
            check_extractor_independent(cls, "eval-encoder", "eval-encoder:abc", consumed_ids=("abc",))
    for name in ("slogan", "wgan", "cgpgan", "scgan", "infogan"):
        assert get_method(name).consumes == ()
        check_extractor_independent(get_method(name), "encoder")


def test_exact_rank_sum_p_values_and_cohens_d() -> None:
    stat, p = R.exact_rank_sum([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert p == pytest.approx(0.1) and stat == 0.0  # 2 / C(6, 3): the floor for 3 vs 3
    assert R.exact_rank_sum([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0])[1] == pytest.approx(2 / 70)
    assert R.min_p_value(3, 3) == pytest.approx(0.1) and R.min_seeds_for_significance() == 4
    assert R.cohens_d([1.0, 2.0, 3.0], [2.0, 3.0, 4.0]) == pytest.approx(-1.0)
    assert R.cohens_d([1.0, 1.0], [1.0, 1.0]) is None


PARAMS = """
data: {datasets: [ring8-1to3]}
train: {datasets: [ring8-1to3], methods: [slogan, slogan+moves, scgan-kK]}
methods:
  slogan:
    default: {lr: 2.0e-4}
    datasets: {ring8-1to3: {u2c_decay_end: 0.2}}
    variants:
      slogan+moves:
        note: moves
        default: {rho_lr_mult: 5.0}
        datasets: {ring8-1to3: {reassign_every: 500}}
  scgan:
    default: {num_components: 100}
    datasets: {ring8-1to3: {num_components: 50}}
    variants:
      scgan-kK: {note: k = classes, default: {num_components: 0}, datasets: {ring8-1to3: {num_components: 0}}}
"""


def test_variant_resolution() -> None:
    from ucgan.stages_params import _check_methods, list_variants, method_config, resolve_method

    raw = yaml.safe_load(PARAMS)
    paper = method_config(raw, "slogan", "ring8-1to3")
    var = method_config(raw, "slogan+moves", "ring8-1to3")
    assert (paper.reassign_every, paper.rho_lr_mult, paper.u2c_decay_end) == (0, 1.0, 0.2)
    assert (var.reassign_every, var.rho_lr_mult, var.u2c_decay_end, var.lr) == (500, 5.0, 0.2, 2.0e-4)
    assert method_config(raw, "slogan+moves", "other").reassign_every == 0  # dataset part only on its dataset
    assert method_config(raw, "scgan", "ring8-1to3").num_components == 50
    assert method_config(raw, "scgan-kK", "ring8-1to3").num_components == 0
    assert resolve_method(raw, "slogan+moves") == ("slogan", "slogan+moves") and resolve_method(raw, "wgan") == ("wgan", None)
    assert base_method("slogan+moves") == "slogan" and base_method("scgan-k50") == "scgan"
    assert list_variants(raw) == {"slogan+moves": ("slogan", "moves"), "scgan-kK": ("scgan", "k = classes")}
    _check_methods(raw["methods"], raw)
    with pytest.raises(ConfigError, match="not declared under methods.slogan.variants"):
        method_config(raw, "slogan+typo", "ring8-1to3")
    with pytest.raises(ConfigError, match="unknown method"):
        base_method("gan+x")
    bad = yaml.safe_load(PARAMS)
    bad["methods"]["scgan"]["variants"]["slogan+x"] = {"default": {}}  # declared under the wrong method
    with pytest.raises(ConfigError, match="variants.slogan\\+x"):
        method_config(bad, "scgan", "ring8-1to3")


def test_repository_params_keep_paper_settings_under_paper_names() -> None:
    from ucgan.stages_params import method_config

    with open("params.yaml") as f:
        raw = yaml.safe_load(f)
    ring, mnist = "ring8-1to3", "mnist5k-2-7to3"
    s = method_config(raw, "slogan", ring)
    assert (s.u2c_floor, s.reassign_every, s.rho_lr_mult) == (0.0, 0, 1.0)
    m = method_config(raw, "slogan", mnist)
    assert (m.rho_lr_mult, m.rho_baseline) == (1.0, False)
    assert method_config(raw, "slogan+moves", ring).reassign_every == 500
    assert method_config(raw, "slogan+moves", mnist).rho_baseline is True
    c = method_config(raw, "cgpgan", mnist)
    assert (c.prior_decay, c.prior_start) == (0.999, 0.3)
    assert method_config(raw, "cgpgan+fastprior", mnist).prior_decay == 0.99
    assert method_config(raw, "scgan", ring).num_components == 50 and method_config(raw, "scgan", mnist).num_components == 100
    assert method_config(raw, "scgan-kK", mnist).num_components == 0
    assert raw["evaluate"]["datasets"][mnist]["extractor"] == "eval-encoder"
    assert not math.isnan(raw["pretrain"]["eval_seed"]) and raw["pretrain"]["eval_seed"] != raw["pretrain"].get("seed", 0)


def test_inception_score_known_answer() -> None:
    from ucgan.metrics.protocol import inception_score

    confident_uniform = np.eye(10)[np.arange(1000) % 10]  # sharp predictions, every class equally often
    assert inception_score(confident_uniform, splits=1)[0] == pytest.approx(10.0, rel=1e-6)
    assert inception_score(np.full((100, 10), 0.1), splits=2)[0] == pytest.approx(1.0)


def test_report_shows_paper_and_variant_rows_and_unlearned_nmi() -> None:
    recs = [{"dataset": "t", "method": "slogan", "base_method": "slogan", "seed": 0, "fid": 1.0, "icfid": 2.0, "nmi": 0.5},
            {"dataset": "t", "method": "slogan+moves", "base_method": "slogan", "variant_note": "moves", "seed": 0,
             "fid": 1.0, "icfid": 1.5, "nmi": 0.6},
            {"dataset": "t", "method": "infoscc", "base_method": "infoscc", "seed": 0, "fid": 1.0, "icfid": 3.0,
             "nmi": 0.9, "attributes_from": "cluster-stage"}]
    by_m = {r["method"]: [r] for r in recs}
    md = R.render_markdown("t", by_m, [], recs[1], "", {}, [], "slogan")
    assert "| slogan | slogan | paper |" in md and "| slogan+moves | slogan | variant: moves |" in md
    assert "| infoscc | 1 | **1** | 3 | 0.9 † |" in md  # shown, marked, and not bold although the highest
    assert "**0.6**" in md
