"""The evaluation suite: one call that turns a trained method into the metrics JSON.

Protocol (the choices the papers leave open are written here, once):

* **Real reference set** (FID, ICFID): the *test* split when every class has at least
  ``profile.min_real_per_class`` samples there, else the *train* split (small or very imbalanced
  test splits make per-class FIDs mostly small-sample bias). ``profile.real_split`` forces one.
  The choice is recorded as ``real_split``.
* **Extractor**: never one the method consumed (:func:`.protocol.check_extractor_independent`
  refuses, naming the fix); the id is ``protocol.extractor``.
* **Fakes**: ``n_fake`` samples from the learned mixture (``method.sample(n)``) for FID, k-NN
  precision/recall and the mode metrics. Sampling is seeded (``profile.seed``).
* **ICFID** (SLOGAN Algorithm 2): N real samples per class (drawn without replacement from the
  reference split, seed ``profile.seed``) and N fakes per component, N = ``icfid_n`` or the smallest
  test-class count, so every method on a dataset is compared on the same N
  (``protocol.icfid_n_per_class``). Components whose learned share is under the method's
  ``min_component_share`` (CGPGAN: 1%) are left out of the matching (``protocol.components_excluded``).
  Greedy in class order or Hungarian; see :mod:`.fid`. Unconditional methods (WGAN) have no
  components: ``icfid`` is ``null`` with ``icfid_reason``, and so are the mixing error and the
  attribute accuracies.
* **NMI** (SLOGAN §4.3): on the *test* split, k-means (k = number of classes, ``kmeans_n_init``
  restarts, one run per ``kmeans_seeds`` entry, mean reported) on ``method.representation`` (E,
  Q, or D's penultimate pre-activation; ``protocol.nmi_representation``). ``purity`` is on the same
  clustering. The method's own assignment rule gives ``nmi_assignment``/``purity_assignment``.
  Methods whose attributes come from the cluster stage say so (``attributes_from``).
* **Ratios**: true shares are the class shares of the *train* split (what the model saw); learned
  shares come from ``method.mixing()`` (uniform when it returns None: that is what such a method
  assumes), matched by ICFID's assignment; see :class:`.clustering_metrics.MixingError`.
* **Mode metrics** (modality ``points`` with ``centers``/``std`` in the manifest): on the mixture fakes.
* Non-finite numbers (an ICFID with fewer components than classes, starved clusters) are written
  as ``null``: JSON has no infinity.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any, Callable, Iterator, cast

import numpy as np
import torch

from ..data.dataset import Split, content_hash
from ..errors import ConfigError
from .attribute import attribute_accuracy, fit_label_classifier, predict_ids
from .cache import StatsCache
from .clustering_metrics import kmeans_labels, mixing_error, nmi
from .extractors import FeatureExtractor, build_extractor, resolve_extractor_name
from .fid import icfid_from_matrix
from .kid import kid
from .frechet import GaussianStats, RunningStats, fid_from_stats, fid_matrix
from .modes import mode_metrics
from .profile import EvalProfile
from .protocol import (check_extractor_independent, icfid_n, inception_score, knn_precision_recall,
                       per_class_subsample, purity)

#: Batch used for sampling/extraction of points and vectors (raw features are cheap).
_CHEAP_BATCH = 4096


# ---------------------------------------------------------------------------- helpers
def json_safe(v: Any) -> Any:
    """JSON-safe copy: floats that are inf/nan -> None, arrays -> lists (recursively)."""
    if isinstance(v, dict):
        return {k: json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if isinstance(v, np.ndarray):
        return json_safe(v.tolist())
    if isinstance(v, (np.floating, float)):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def choose_real_split(train: Split, test: Split | None, profile: EvalProfile) -> tuple[str, Split]:
    """The real reference split for FID/ICFID (see the module docstring)."""
    if profile.real_split == "train" or test is None or len(test.y) == 0:
        return "train", train
    if profile.real_split == "test":
        return "test", test
    counts = np.bincount(test.y, minlength=test.num_classes)
    return ("test", test) if counts.min() >= profile.min_real_per_class else ("train", train)


def real_reference(train: Split, test: Split | None, profile: EvalProfile) -> tuple[str, Split, np.ndarray, np.ndarray, bool]:
    """The real set every score compares against: the chosen split, subsampled to
    ``evaluate.n_real_max`` with ``evaluate.seed`` (sorted indices, so the order is the split's).
    Returns ``(split_name, split, x, y, subsampled)``. One function so that ``ucgan evaluate`` and
    the ``ucgan fid --ref`` statistics cache under the same key."""
    split_name, real = choose_real_split(train, test, profile)
    x_real, y_real = real.x, real.y
    subsampled = 0 < profile.n_real_max < len(y_real)
    if subsampled:
        idx = np.sort(np.random.default_rng(profile.seed).choice(len(y_real), profile.n_real_max, replace=False))
        x_real, y_real = x_real[idx], y_real[idx]
    return split_name, real, x_real, y_real, subsampled


def _sample_stream(
    method: Any, n: int, component: int | None, batch: int, gen: torch.Generator
) -> Iterator[torch.Tensor]:
    done = 0
    while done < n:
        b = min(batch, n - done)
        with torch.no_grad():
            x = method.sample(b, component, gen)
        if len(x) != b:
            raise RuntimeError(f"{type(method).__name__}.sample({b}) returned {len(x)} samples")
        yield x.detach()
        done += b


def _fake_stats(
    method: Any, ext: FeatureExtractor, n: int, component: int | None, batch: int, gen: torch.Generator,
    keep: bool = False, keep_features: int = 0, progress: bool = False,
) -> tuple[GaussianStats, np.ndarray | None, np.ndarray | None]:
    """Streaming statistics of ``n`` fakes; optionally the raw samples and the first ``keep_features`` features."""
    import sys

    from tqdm.auto import tqdm

    acc = RunningStats()
    kept, feats = [], []
    n_feats = 0
    tty = sys.stderr.isatty()  # under DVC/CI logs: a line every 30 s, not a live bar
    what = "fakes" if component is None else f"fakes c{component}"
    with tqdm(total=n, desc=what, unit="img", unit_scale=True, disable=not progress or n < 1000,
              mininterval=0.5 if tty else 30.0, dynamic_ncols=tty, leave=False) as bar:
        for x in _sample_stream(method, n, component, batch, gen):
            f = ext.extract(x)
            acc.update(f)
            bar.update(len(x))
            if keep:
                kept.append(x.float().cpu().numpy())
            if n_feats < keep_features:
                feats.append(f[: keep_features - n_feats])
                n_feats += len(feats[-1])
    return (acc.finalize(), np.concatenate(kept) if keep else None,
            np.concatenate(feats) if feats else None)


def _batched(fn: Callable[[torch.Tensor], Any], x: np.ndarray, device: torch.device, batch: int) -> list[Any] | None:
    """Apply ``fn`` batch-wise to numpy data; None as soon as ``fn`` returns None."""
    outs = []
    for s in range(0, len(x), batch):
        with torch.no_grad():
            o = fn(torch.from_numpy(x[s : s + batch]).to(device))
        if o is None:
            return None
        outs.append(o.detach().cpu().numpy() if isinstance(o, torch.Tensor) else np.asarray(o))
    return outs


def _generator(method: Any, fallback: torch.device, seed: int) -> torch.Generator:
    dev = torch.device(getattr(method, "device", fallback))
    g = torch.Generator(device=dev)
    g.manual_seed(int(seed))
    return g


# ---------------------------------------------------------------------------- the suite
def _own_name(method: Any) -> str:
    return str(getattr(method, "name", "") or type(method).__name__)


def evaluate_method(
    method: Any,
    train: Split,
    test: Split | None,
    profile: EvalProfile = EvalProfile(),  # noqa: B008  (frozen dataclass: immutable)
    cache: StatsCache | None = None,
    device: torch.device | str = "cpu",
    encoder: Callable[[torch.Tensor], torch.Tensor] | None = None,
    classifier: Callable[[torch.Tensor], Any] | None = None,
    dataset: str = "",
    variant: str = "",
    consumed_ids: tuple[str, ...] = (),
) -> dict[str, Any]:
    """All metrics of a trained ``method`` (see :mod:`ucgan.methods.base`) as a JSON-ready dict.

    ``encoder`` is required for the ``encoder``/``eval-encoder`` extractors; ``classifier``
    (data-range tensors -> class scores or ids, trained on labelled real data) gives the independent
    attribute accuracy; without one, ``profile.attribute_classifier="auto"`` fits
    :func:`fit_label_classifier` on ``train``. ``variant`` is the run's method or variant id
    (``protocol.variant``); ``consumed_ids`` are fingerprints of networks the method consumed
    (an extractor with the same weights is refused).
    """
    dev = torch.device(device)
    cache = cache if cache is not None else StatsCache(None)
    hits0, misses0 = cache.hits, cache.misses
    t_start = time.perf_counter()
    seconds: dict[str, float] = {}
    if hasattr(method, "eval"):
        method.eval()
    modality = train.modality
    k = train.num_classes
    kc = int(method.num_components)
    if kc < 1:
        raise ConfigError(f"{type(method).__name__} reports {kc} components; it must generate from at least one")
    conditional = bool(getattr(method, "conditional", True))

    # ---- extractor: never one the method consumed
    ext_name = resolve_extractor_name(profile.extractor, modality)
    check_extractor_independent(method, ext_name, variant=variant)
    image_like = ext_name != "raw"
    batch = profile.batch_size if image_like else max(profile.batch_size, _CHEAP_BATCH)
    ext = build_extractor(ext_name, modality, train.value_range, device=dev, batch_size=batch, encoder=encoder)
    check_extractor_independent(method, ext_name, ext.id, consumed_ids, variant=variant)

    # ---- real reference set
    split_name, real, x_real, y_real, subsampled = real_reference(train, test, profile)
    n_real_per_class = np.bincount(y_real, minlength=k)
    # N of Algorithm 2: from the test split's class counts so that it is the same for every method
    test_counts = np.bincount(test.y, minlength=k) if test is not None and len(test.y) else np.bincount(train.y, minlength=k)
    n_icfid = icfid_n(test_counts, profile.icfid_n)
    per_class_idx = per_class_subsample(y_real, k, n_icfid, profile.seed)

    # ---- real statistics (cached across methods and seeds)
    t0 = time.perf_counter()
    data_hash = real.manifest.get("content_hash") or content_hash(real.x, real.y)
    base_key = {
        "dataset": dataset or real.manifest.get("dataset", ""),
        "content_hash": data_hash,
        "split": split_name,
        "subset": {"n": int(len(y_real)), "seed": profile.seed} if subsampled else "all",
        "extractor": ext.id,
        "preprocessing": ext.preprocessing,
    }
    feats_holder: dict[str, np.ndarray] = {}

    def real_features() -> np.ndarray:
        if "f" not in feats_holder:
            feats_holder["f"] = ext.extract(x_real)
        return feats_holder["f"]

    real_all = cache.get_or_compute({**base_key, "class": "all"}, lambda: GaussianStats.from_features(real_features()))
    sub_y = y_real[per_class_idx]

    def real_class_stats(y: int) -> GaussianStats:
        return GaussianStats.from_features(real_features()[per_class_idx[sub_y == y]])

    real_cls = [
        cache.get_or_compute(
            {**base_key, "class": y, "per_class": {"n": n_icfid, "seed": profile.seed}},
            functools.partial(real_class_stats, y),
        )
        for y in range(k)
    ]
    # k-NN precision/recall need the features themselves (a capped, seeded subset)
    pr_rng = np.random.default_rng(profile.seed + 2)
    pr_idx = np.sort(pr_rng.choice(len(y_real), min(len(y_real), profile.pr_n_max), replace=False))
    # reuse the features when the statistics were just computed; else extract only the subset
    real_pr = feats_holder["f"][pr_idx] if "f" in feats_holder else ext.extract(x_real[pr_idx])
    real_pr_y = y_real[pr_idx]
    feats_holder.clear()
    seconds["real_stats"] = time.perf_counter() - t0

    # ---- fakes
    t0 = time.perf_counter()
    n_fake = profile.n_fake or int(len(y_real))
    gen = _generator(method, dev, profile.seed)
    keep_points = modality == "points"
    fake_all, fake_x, fake_pr = _fake_stats(method, ext, n_fake, None, batch, gen, keep=keep_points,
                                           keep_features=profile.pr_n_max, progress=profile.progress)
    mix_raw = method.mixing() if hasattr(method, "mixing") else None
    min_share = float(getattr(method, "min_component_share", 0.0) or 0.0)
    included = list(range(kc))
    if conditional and mix_raw is not None and min_share > 0:
        shares = np.asarray(mix_raw, dtype=np.float64).ravel()
        shares = shares / shares.sum() if shares.sum() > 0 else shares
        included = [c for c in range(kc) if shares[c] >= min_share] or list(range(kc))
    excluded = [c for c in range(kc) if c not in included]
    fake_comp: dict[int, GaussianStats] = {}
    fake_comp_feats: dict[int, np.ndarray | None] = {}
    if conditional:
        for c in included:
            fake_comp[c], _, fake_comp_feats[c] = _fake_stats(method, ext, n_icfid, c, batch, gen,
                                                              keep_features=min(n_icfid, profile.pr_n_max),
                                                              progress=profile.progress)
    seconds["fake_stats"] = time.perf_counter() - t0

    # ---- FID / ICFID
    t0 = time.perf_counter()
    fd_dev = str(dev) if dev.type == "cuda" else None
    fid_value = fid_from_stats(real_all, fake_all)
    result: dict[str, Any] = {
        "extractor": ext.id,
        "preprocessing": ext.preprocessing,
        "real_split": split_name,
        "n_real": int(len(y_real)),
        "n_real_per_class": n_real_per_class.tolist(),
        "n_fake": int(n_fake),
        "n_fake_per_component": int(n_icfid),
        "num_classes": k,
        "num_components": kc,
        "conditional": conditional,
        "attributes_from": str(getattr(method, "attributes_from", "learned")),
        "fid": fid_value,
    }
    if profile.kid_subsets and real_pr is not None and fake_pr is not None and min(len(real_pr), len(fake_pr)) >= 2:
        # unbiased beside FID: comparable across sample sizes (same capped, seeded subsets as precision/recall)
        result.update(kid(real_pr, fake_pr, profile.kid_subset_size, profile.kid_subsets, seed=profile.seed).to_dict())
    ic = None
    if conditional:
        sub = fid_matrix(real_cls, [fake_comp[c] for c in included], device=fd_dev)
        ic_sub = icfid_from_matrix(sub, profile.matching)
        full = np.full((k, kc), np.inf)
        full[:, included] = sub
        assignment = np.array([included[a] if a >= 0 else -1 for a in ic_sub.assignment], dtype=np.int64)
        ic = dataclasses.replace(ic_sub, assignment=assignment, fid_matrix=full)
        result.update({"icfid": ic.value, "icfid_per_class": ic.per_class, "assignment": ic.assignment,
                       "matching": ic.matching, "fid_matrix": ic.fid_matrix, "components_excluded_ids": excluded})
    else:
        result.update({"icfid": None, "icfid_per_class": None, "assignment": None, "matching": None,
                       "fid_matrix": None, "components_excluded_ids": [],
                       "icfid_reason": f"{_own_name(method)} is unconditional: it has no components to match "
                                       "to classes (SLOGAN Table 2 reports N/A)"})
    seconds["frechet"] = time.perf_counter() - t0

    # ---- k-NN precision / recall, overall and per class (matched component vs its class)
    t0 = time.perf_counter()
    pk = profile.knn_k
    prec = rec = None
    if fake_pr is not None and len(real_pr) > pk and len(fake_pr) > pk:
        prec, rec = knn_precision_recall(real_pr, fake_pr, pk)
    prec_cls: list[float | None] = [None] * k
    rec_cls: list[float | None] = [None] * k
    if ic is not None:
        for y, c in enumerate(ic.assignment):
            ry = real_pr[real_pr_y == y]
            fc = fake_comp_feats.get(int(c)) if c >= 0 else None
            if fc is not None and len(ry) > pk and len(fc) > pk:
                prec_cls[y], rec_cls[y] = knn_precision_recall(ry, fc, pk)
    result.update({"precision": prec, "recall": rec, "precision_per_class": prec_cls, "recall_per_class": rec_cls,
                   "knn_k": pk})
    seconds["precision_recall"] = time.perf_counter() - t0

    # ---- Inception Score (only when Inception is the extractor and exposes class probabilities)
    if ext_name == "inception":
        probs_fn = getattr(ext, "class_probabilities", None)
        if probs_fn is None:
            result.update({"inception_score": None, "inception_score_reason":
                           "the offline FID Inception weights give pool3 features only, no class probabilities"})
        else:
            is_gen = _generator(method, dev, profile.seed + 3)
            probs = np.concatenate([probs_fn(x) for x in _sample_stream(method, n_fake, None, batch, is_gen)])
            result["inception_score"], result["inception_score_std"] = inception_score(probs)

    # ---- NMI on the test split (SLOGAN §4.3): k-means on the method's representation
    t0 = time.perf_counter()
    nmi_split = test if test is not None and len(test.y) else train
    mdev = torch.device(getattr(method, "device", dev))
    nb = max(profile.batch_size, 256)
    rep_fn = getattr(method, "representation", None) or getattr(method, "features", None)
    feats = _batched(rep_fn, nmi_split.x, mdev, nb) if rep_fn is not None else None
    nmi_value = purity_value = nmi_per_seed = None
    rep_name = None
    if feats is not None:
        f = np.concatenate([a.reshape(len(a), -1) for a in feats])
        per_seed, pur = [], []
        for s in profile.kmeans_seeds:
            labels = kmeans_labels(f, k, seed=s, n_init=profile.kmeans_n_init)
            per_seed.append(nmi(nmi_split.y, labels))
            pur.append(purity(nmi_split.y, labels))
        nmi_value, nmi_per_seed, purity_value = float(np.mean(per_seed)), per_seed, float(np.mean(pur))
        rep_name = str(getattr(method, "representation_name", "features(x)"))
    assigned = _batched(method.assign, nmi_split.x, mdev, nb) if hasattr(method, "assign") else None
    nmi_assign = purity_assign = None
    if assigned is not None:
        a = np.concatenate(assigned).astype(np.int64)
        nmi_assign, purity_assign = nmi(nmi_split.y, a), purity(nmi_split.y, a)
    result.update({"nmi": nmi_value, "nmi_source": None if rep_name is None else f"kmeans(k={k}) on {rep_name}",
                   "nmi_per_seed": nmi_per_seed, "purity": purity_value,
                   "nmi_assignment": nmi_assign, "purity_assignment": purity_assign,
                   "nmi_split": "test" if nmi_split is test else "train"})
    seconds["nmi"] = time.perf_counter() - t0

    # ---- learned vs true ratios (conditional methods only)
    if conditional and ic is not None:
        mix = mix_raw
        assumed_uniform = mix is None
        mix = np.full(kc, 1.0 / kc) if mix is None else np.asarray(mix, dtype=np.float64).ravel()
        if mix.shape != (kc,) or (mix < 0).any() or not mix.sum() > 0:
            raise ValueError(f"{type(method).__name__}.mixing() must return {kc} non-negative shares, got {mix}")
        mix = mix / mix.sum()  # float32 softmax outputs rarely sum to exactly 1
        me = mixing_error(train.class_shares(), mix, ic.assignment, ic.fid_matrix)
        result.update({
            "mixing_true": me.true,
            "mixing_learned": me.learned,
            "mixing_components": mix,
            "mixing_assumed_uniform": assumed_uniform,
            "mixing_unmatched": me.unmatched,
            "mixing_l1": me.l1,
            "mixing_learned_grouped": me.learned_grouped,
            "mixing_l1_grouped": me.l1_grouped,
        })
    else:
        result.update({"mixing_true": train.class_shares(), "mixing_learned": None, "mixing_l1": None,
                       "mixing_reason": "unconditional: no components, so no learned mixing"})

    # ---- synthetic mode metrics
    if keep_points and "centers" in train.manifest and fake_x is not None:
        std = train.manifest.get("std_per_dim", train.manifest.get("std"))
        if std is None:
            raise ConfigError("the manifest has 'centers' but no 'std'/'std_per_dim'; re-run `ucgan prepare` for this dataset")
        mm = mode_metrics(fake_x.reshape(len(fake_x), -1), np.asarray(train.manifest["centers"]), std,
                          true_shares=train.class_shares())
        result.update(mm.to_dict())

    # ---- attribute accuracy: independent label classifier (neutral name) and the method's own classifier
    if conditional and ic is not None:
        if classifier is None and profile.attribute_classifier == "auto":
            t0 = time.perf_counter()
            fitted = fit_label_classifier(train, test, seed=profile.seed)
            classifier = fitted
            result.update(attribute_classifier=fitted.kind, attribute_classifier_test_acc=fitted.test_accuracy)
            seconds["attribute_classifier"] = time.perf_counter() - t0
        elif classifier is not None:
            result["attribute_classifier"] = getattr(classifier, "kind", "given")
        cgen = _generator(method, dev, profile.seed + 1)

        def sample_fn(n: int, c: int) -> torch.Tensor:
            with torch.no_grad():
                x: torch.Tensor = method.sample(n, c, cgen).detach()
                return x

        if classifier is not None:
            t0 = time.perf_counter()
            aa = attribute_accuracy(classifier, sample_fn, ic.assignment, kc,
                                    n_per_component=profile.attribute_n_per_component, batch_size=nb)
            result.update(aa.to_dict())
            seconds["attribute"] = time.perf_counter() - t0
        if getattr(method, "own_classifier", False) and hasattr(method, "assign"):
            # the papers' definition (InfoSCC-GAN, CGPGAN): the method's own classifier recovers the
            # component each sample was generated from
            accs = []
            for c in included:
                n_left, hits = profile.attribute_n_per_component, 0
                while n_left > 0:
                    b = min(nb, n_left)
                    with torch.no_grad():
                        hits += int((predict_ids(method.assign, sample_fn(b, c).to(mdev)) == c).sum())
                    n_left -= b
                accs.append(hits / profile.attribute_n_per_component)
            result["attribute_control_accuracy"] = float(np.mean(accs)) if accs else None
    elif not conditional:
        result["attribute_reason"] = "unconditional: no components whose attribute could be controlled"

    result["protocol"] = {
        "extractor": ext.id,
        "extractor_independent": True,
        "nmi_representation": rep_name,
        "icfid_n_per_class": None if not conditional else int(n_icfid),
        "icfid_n_seed": int(profile.seed),
        "components_excluded": len(excluded),
        "min_component_share": min_share,
        "variant": variant or _own_name(method),
        "attributes_from": result["attributes_from"],
    }
    result["stats_cache"] = {"hits": cache.hits - hits0, "misses": cache.misses - misses0}
    seconds["total"] = time.perf_counter() - t_start
    result["seconds"] = seconds
    return cast("dict[str, Any]", json_safe(result))
