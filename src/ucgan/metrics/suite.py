"""The evaluation suite: one call that turns a trained method into the metrics JSON.

Protocol (the choices the papers leave open are written here, once):

* **Real reference set** (FID, ICFID): the *test* split when every class has at least
  ``profile.min_real_per_class`` samples there, else the *train* split (small or very imbalanced
  test splits make per-class FIDs mostly small-sample bias). ``profile.real_split`` forces one.
  The choice is recorded as ``real_split``.
* **Fakes**: ``n_fake`` samples from the learned mixture (``method.sample(n)``) for FID and the
  mode metrics, and ``n_fake_per_component`` from each component for ICFID. SLOGAN draws a fixed
  number per component (5,000); our default (0) is the size of the largest real class, so no
  matched pair compares fewer fake than real samples. Sampling is seeded (``profile.seed``).
* **ICFID**: SLOGAN Algorithm 2 (greedy in class order) or Hungarian; see :mod:`.fid`.
* **NMI**: on the *test* split, of ``method.assign``; when a method has no assignment rule,
  k-means (k = number of classes, ``n_init`` restarts, one run per ``kmeans_seeds`` entry,
  mean reported) on ``method.features``; neither -> ``null``.
* **Ratios**: true shares are the class shares of the *train* split (what the model saw); learned
  shares come from ``method.mixing()`` (uniform when it returns None: that is what such a method
  assumes), matched by ICFID's assignment; see :class:`.clustering_metrics.MixingError`.
* **Mode metrics** (modality ``points`` with ``centers``/``std`` in the manifest): on the mixture fakes.
* Non-finite numbers (an ICFID with fewer components than classes, starved clusters) are written
  as ``null``: JSON has no infinity.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Literal

import numpy as np
import torch

from ..config import require
from ..data.dataset import Split, content_hash
from ..errors import ConfigError
from .attribute import attribute_accuracy, fit_label_classifier
from .cache import StatsCache
from .clustering_metrics import kmeans_nmi, mixing_error, nmi
from .extractors import FeatureExtractor, build_extractor, resolve_extractor_name
from .fid import icfid_from_matrix
from .frechet import GaussianStats, RunningStats, fid_from_stats, fid_matrix
from .modes import mode_metrics

#: Batch used for sampling/extraction of points and vectors (raw features are cheap).
_CHEAP_BATCH = 4096


@dataclasses.dataclass(frozen=True)
class EvalProfile:
    """How much evaluation to do (``evaluate:`` in params.yaml; CPU profiles use small numbers)."""

    extractor: Literal["auto", "raw", "inception", "encoder"] = "auto"  # auto: inception for images, else raw
    n_fake: int = 0                   # fakes from the mixture for FID; 0 = size of the real reference set
    n_fake_per_component: int = 0     # fakes per component for ICFID; 0 = largest real class
    n_real_max: int = 0               # cap on real samples (random, seeded); 0 = all
    real_split: Literal["auto", "train", "test"] = "auto"
    min_real_per_class: int = 100     # "auto" uses test only if every class has this many there
    matching: Literal["greedy", "hungarian"] = "greedy"
    batch_size: int = 50              # image sampling/feature batch
    kmeans_seeds: tuple[int, ...] = (0,)
    kmeans_n_init: int = 10
    attribute_classifier: Literal["auto", "none"] = "auto"  # auto: fit a label classifier (attribute accuracy)
    attribute_n_per_component: int = 1000  # samples per component for attribute accuracy
    seed: int = 0

    def validate(self, where: str) -> None:
        require(self.n_fake >= 0, f"{where}.n_fake", "must be >= 0 (0 = size of the real set)")
        require(self.n_fake_per_component >= 0, f"{where}.n_fake_per_component", "must be >= 0 (0 = largest real class)")
        require(self.n_fake != 1 and self.n_fake_per_component != 1, where, "n_fake and n_fake_per_component need >= 2 samples for a covariance")
        require(self.n_real_max >= 0, f"{where}.n_real_max", "must be >= 0 (0 = all)")
        require(self.min_real_per_class >= 2, f"{where}.min_real_per_class", "must be >= 2")
        require(self.batch_size > 0, f"{where}.batch_size", "must be positive")
        require(len(self.kmeans_seeds) > 0, f"{where}.kmeans_seeds", "needs at least one seed")
        require(self.kmeans_n_init > 0, f"{where}.kmeans_n_init", "must be positive")
        require(self.attribute_n_per_component > 0, f"{where}.attribute_n_per_component", "must be positive")


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


def _sample_stream(method: Any, n: int, component: int | None, batch: int, gen: torch.Generator):
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
    keep: bool = False,
) -> tuple[GaussianStats, np.ndarray | None]:
    acc = RunningStats()
    kept = []
    for x in _sample_stream(method, n, component, batch, gen):
        acc.update(ext.extract(x))
        if keep:
            kept.append(x.float().cpu().numpy())
    return acc.finalize(), (np.concatenate(kept) if keep else None)


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
def evaluate_method(
    method: Any,
    train: Split,
    test: Split | None,
    profile: EvalProfile = EvalProfile(),
    cache: StatsCache | None = None,
    device: torch.device | str = "cpu",
    encoder: Callable[[torch.Tensor], torch.Tensor] | None = None,
    classifier: Callable[[torch.Tensor], Any] | None = None,
    dataset: str = "",
) -> dict[str, Any]:
    """All metrics of a trained ``method`` (see :mod:`ucgan.methods.base`) as a JSON-ready dict.

    ``encoder`` is required for ``extractor="encoder"``; ``classifier`` (data-range tensors ->
    class scores or ids, trained on labelled real data) gives attribute control accuracy; without
    one, ``profile.attribute_classifier="auto"`` fits :func:`fit_label_classifier` on ``train``.
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

    # ---- real reference set
    split_name, real = choose_real_split(train, test, profile)
    x_real, y_real = real.x, real.y
    subsampled = 0 < profile.n_real_max < len(y_real)
    if subsampled:
        idx = np.sort(np.random.default_rng(profile.seed).choice(len(y_real), profile.n_real_max, replace=False))
        x_real, y_real = x_real[idx], y_real[idx]
    n_real_per_class = np.bincount(y_real, minlength=k)

    ext_name = resolve_extractor_name(profile.extractor, modality)
    image_like = ext_name != "raw"
    batch = profile.batch_size if image_like else max(profile.batch_size, _CHEAP_BATCH)
    ext = build_extractor(ext_name, modality, real.value_range, device=dev, batch_size=batch, encoder=encoder)

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
    real_cls = [
        cache.get_or_compute(
            {**base_key, "class": y},
            lambda y=y: GaussianStats.from_features(real_features()[y_real == y]),
        )
        for y in range(k)
    ]
    feats_holder.clear()
    seconds["real_stats"] = time.perf_counter() - t0

    # ---- fakes
    t0 = time.perf_counter()
    n_fake = profile.n_fake or int(len(y_real))
    n_per = profile.n_fake_per_component or int(max(2, n_real_per_class.max()))
    gen = _generator(method, dev, profile.seed)
    keep_points = modality == "points"
    fake_all, fake_x = _fake_stats(method, ext, n_fake, None, batch, gen, keep=keep_points)
    fake_comp = [_fake_stats(method, ext, n_per, c, batch, gen)[0] for c in range(kc)]
    seconds["fake_stats"] = time.perf_counter() - t0

    # ---- FID / ICFID
    t0 = time.perf_counter()
    fd_dev = str(dev) if dev.type == "cuda" else None
    fid_value = fid_from_stats(real_all, fake_all)
    ic = icfid_from_matrix(fid_matrix(real_cls, fake_comp, device=fd_dev), profile.matching)
    seconds["frechet"] = time.perf_counter() - t0

    result: dict[str, Any] = {
        "extractor": ext.id,
        "preprocessing": ext.preprocessing,
        "real_split": split_name,
        "n_real": int(len(y_real)),
        "n_real_per_class": n_real_per_class.tolist(),
        "n_fake": int(n_fake),
        "n_fake_per_component": int(n_per),
        "num_classes": k,
        "num_components": kc,
        "fid": fid_value,
        "icfid": ic.value,
        "icfid_per_class": ic.per_class,
        "assignment": ic.assignment,
        "matching": ic.matching,
        "fid_matrix": ic.fid_matrix,
    }

    # ---- NMI on the test split
    t0 = time.perf_counter()
    nmi_split = test if test is not None and len(test.y) else train
    mdev = torch.device(getattr(method, "device", dev))
    nb = max(profile.batch_size, 256)
    assigned = _batched(method.assign, nmi_split.x, mdev, nb) if hasattr(method, "assign") else None
    nmi_value, nmi_source, nmi_per_seed = None, None, None
    if assigned is not None:
        nmi_value, nmi_source = nmi(nmi_split.y, np.concatenate(assigned).astype(np.int64)), "assign"
    else:
        feats = _batched(method.features, nmi_split.x, mdev, nb) if hasattr(method, "features") else None
        if feats is not None:
            f = np.concatenate([a.reshape(len(a), -1) for a in feats])
            km = kmeans_nmi(f, nmi_split.y, k, seeds=profile.kmeans_seeds, n_init=profile.kmeans_n_init)
            nmi_value, nmi_source, nmi_per_seed = km.mean, f"kmeans(features, k={k})", km.per_seed
    result.update({"nmi": nmi_value, "nmi_source": nmi_source, "nmi_per_seed": nmi_per_seed,
                   "nmi_split": "test" if nmi_split is test else "train"})
    seconds["nmi"] = time.perf_counter() - t0

    # ---- learned vs true ratios
    mix = method.mixing() if hasattr(method, "mixing") else None
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

    # ---- synthetic mode metrics
    if keep_points and "centers" in train.manifest and fake_x is not None:
        std = train.manifest.get("std_per_dim", train.manifest.get("std"))
        if std is None:
            raise ConfigError("the manifest has 'centers' but no 'std'/'std_per_dim'; re-run `ucgan prepare` for this dataset")
        mm = mode_metrics(fake_x.reshape(len(fake_x), -1), np.asarray(train.manifest["centers"]), std,
                          true_shares=train.class_shares())
        result.update(mm.to_dict())

    # ---- attribute control accuracy
    if classifier is None and profile.attribute_classifier == "auto":
        t0 = time.perf_counter()
        fitted = fit_label_classifier(train, test, seed=profile.seed)
        classifier = fitted
        result.update(attribute_classifier=fitted.kind, attribute_classifier_test_acc=fitted.test_accuracy)
        seconds["attribute_classifier"] = time.perf_counter() - t0
    elif classifier is not None:
        result["attribute_classifier"] = getattr(classifier, "kind", "given")
    if classifier is not None:
        t0 = time.perf_counter()
        cgen = _generator(method, dev, profile.seed + 1)

        def sample_fn(n: int, c: int) -> torch.Tensor:
            with torch.no_grad():
                return method.sample(n, c, cgen).detach()

        aa = attribute_accuracy(classifier, sample_fn, ic.assignment, kc,
                                n_per_component=profile.attribute_n_per_component, batch_size=nb)
        result.update(aa.to_dict())
        seconds["attribute"] = time.perf_counter() - t0

    result["stats_cache"] = {"hits": cache.hits - hits0, "misses": cache.misses - misses0}
    seconds["total"] = time.perf_counter() - t_start
    result["seconds"] = seconds
    return json_safe(result)
