"""FID and intra-cluster FID (ICFID, SLOGAN Algorithm 2).

ICFID measures unsupervised *conditional* generation: every real class is compared with every
generated cluster (mixture component / discrete code), classes are matched one-to-one to clusters,
and the matched FIDs are averaged. A model that spreads one class over two codes, or never
generates a minority class from any code, gets a high ICFID even when its plain FID is good
(SLOGAN appendix A.6).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Literal, Sequence, Union, cast

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..errors import ConfigError
from .frechet import GaussianStats, fid_from_stats, fid_matrix, frechet_distance_lowrank, lowrank_applicable

Matching = Literal["greedy", "hungarian"]
FeaturesOrStats = Union[np.ndarray, GaussianStats]


@dataclasses.dataclass(frozen=True)
class ICFIDResult:
    """Outcome of :func:`icfid`.

    ``value``: mean FID over the K real classes of their matched cluster. ``per_class[y]``: that FID.
    ``assignment[y]``: index of the cluster matched to class ``y`` (``-1`` when there are fewer
    clusters than classes and ``y`` got none; its FID is then ``inf`` and so is ``value``).
    ``fid_matrix[y, c]``: FID of real class ``y`` vs cluster ``c`` (``inf`` for clusters with < 2 samples).
    """

    value: float
    per_class: np.ndarray
    assignment: np.ndarray
    fid_matrix: np.ndarray
    matching: str = "greedy"

    def to_dict(self) -> dict[str, Any]:
        return {
            "icfid": self.value,
            "icfid_per_class": self.per_class.tolist(),
            "assignment": self.assignment.tolist(),
            "fid_matrix": self.fid_matrix.tolist(),
            "matching": self.matching,
        }


def _as_stats(x: FeaturesOrStats) -> GaussianStats:
    if isinstance(x, GaussianStats):
        return x
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"features must be (N, d) arrays, got shape {arr.shape}")
    if arr.shape[0] == 0:
        return GaussianStats(mu=np.zeros(arr.shape[1]), sigma=None, n=0)
    return GaussianStats.from_features(arr)


def _small_feature_sets(sets: Sequence[FeaturesOrStats]) -> bool:
    """True when all are feature arrays with fewer samples than dimensions (the low-rank route)."""
    if not all(isinstance(x, np.ndarray) and x.ndim == 2 for x in sets):
        return False
    n = [x.shape[0] for x in sets]  # type: ignore[union-attr]
    return lowrank_applicable(min(n), max(n), sets[0].shape[1])  # type: ignore[union-attr]


def fid(real: FeaturesOrStats, fake: FeaturesOrStats) -> float:
    """FID between two feature sets (or their precomputed :class:`GaussianStats`).

    Feature sets smaller than their dimension take the exact low-rank route
    (:func:`~ucgan.metrics.frechet.frechet_distance_lowrank`).
    """
    if _small_feature_sets([real, fake]):
        return frechet_distance_lowrank(real, fake)  # type: ignore[arg-type]
    return fid_from_stats(_as_stats(real), _as_stats(fake))


def match_greedy(d: np.ndarray) -> np.ndarray:
    """SLOGAN Algorithm 2: classes in order 0..K-1 each take the closest remaining cluster.

    Ties go to the lowest cluster index (``argmin``). Starved clusters (``inf``) are taken only when
    nothing finite remains. Classes left without a cluster (K' < K) get ``-1``.
    """
    k, kc = d.shape
    remaining = np.ones(kc, dtype=bool)
    assign = np.full(k, -1, dtype=np.int64)
    for y in range(k):
        if not remaining.any():
            break
        cands = np.flatnonzero(remaining)
        finite = cands[np.isfinite(d[y, cands])]
        # No finite candidate left: the match is forced (lowest remaining index); its FID stays inf.
        c = int(finite[np.argmin(d[y, finite])]) if finite.size else int(cands[0])
        assign[y] = c
        remaining[c] = False
    return assign


def match_hungarian(d: np.ndarray) -> np.ndarray:
    """Minimum-total-FID one-to-one matching (``scipy.optimize.linear_sum_assignment``).

    ``inf`` entries are replaced by a finite value larger than any sum of finite entries so the
    solver (which rejects infeasible matrices) still prefers every finite pairing over a starved one.
    """
    k, kc = d.shape
    finite = np.isfinite(d)
    big = (np.abs(d[finite]).sum() + 1.0) * 10.0 if finite.any() else 1.0
    cost = np.where(finite, d, big)
    rows, cols = linear_sum_assignment(cost)
    assign = np.full(k, -1, dtype=np.int64)
    assign[rows] = cols
    return assign


def icfid_from_matrix(d: np.ndarray, matching: Matching = "greedy") -> ICFIDResult:
    """ICFID from a precomputed FID matrix (rows = real classes, columns = clusters)."""
    d = np.asarray(d, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] == 0:
        raise ValueError(f"FID matrix must be (K classes, K' clusters) with K >= 1, got {d.shape}")
    if matching == "greedy":
        assign = match_greedy(d)
    elif matching == "hungarian":
        assign = match_hungarian(d)
    else:
        raise ConfigError(f"unknown ICFID matching {matching!r}; use 'greedy' (SLOGAN Algorithm 2) or 'hungarian'.")
    per_class = np.array([d[y, c] if c >= 0 else np.inf for y, c in enumerate(assign)], dtype=np.float64)
    return ICFIDResult(
        value=float(per_class.mean()), per_class=per_class, assignment=assign, fid_matrix=d, matching=matching
    )


def icfid(
    real_features_per_class: Sequence[FeaturesOrStats],
    fake_features_per_cluster: Sequence[FeaturesOrStats],
    matching: Matching = "greedy",
    device: "str | None" = None,
) -> ICFIDResult:
    """Intra-cluster FID (SLOGAN Algorithm 2), with the full FID matrix and the class->cluster map.

    Each element is an ``(N, d)`` feature array or its :class:`GaussianStats` (e.g. from the
    statistics cache). More clusters than classes is fine (only K clusters get matched);
    ``matching="hungarian"`` minimises the total FID instead of matching greedily in class order.
    ``device`` (a torch device string) runs the per-pair eigen-solves in torch; ``None`` = NumPy.
    """
    if matching not in ("greedy", "hungarian"):
        raise ConfigError(f"unknown ICFID matching {matching!r}; use 'greedy' (SLOGAN Algorithm 2) or 'hungarian'.")
    if not real_features_per_class or not fake_features_per_cluster:
        raise ValueError("icfid needs at least one real class and one fake cluster")
    sets = [*real_features_per_class, *fake_features_per_cluster]
    if device is None and _small_feature_sets(sets):
        # _small_feature_sets checked that every set is an (N, d) feature array.
        real_x = cast("list[np.ndarray]", list(real_features_per_class))
        fake_x = cast("list[np.ndarray]", list(fake_features_per_cluster))
        d = np.array([[frechet_distance_lowrank(r, f) for f in fake_x] for r in real_x], dtype=np.float64)
        return icfid_from_matrix(d, matching)
    real = [_as_stats(x) for x in real_features_per_class]
    fake = [_as_stats(x) for x in fake_features_per_cluster]
    return icfid_from_matrix(fid_matrix(real, fake, device=device), matching)
