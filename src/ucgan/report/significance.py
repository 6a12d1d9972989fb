"""Whether one method beats another: the exact Wilcoxon rank-sum test over seeds and Cohen's d.

Why apart: SLOGAN appendix A.4 compares methods this way, and how many seeds a claim needs follows
from the test itself (:func:`min_seeds_for_significance`); the report's text and ``wilcoxon.csv``
both come from :func:`rank_sum_tests`.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

from ..numbers import _num, finite
from .runs import group_runs
from .specs import metrics_present

#: the method tested against every other one (``ucgan report --reference``)
REFERENCE_METHOD = "slogan"
#: the test result shown when either side has fewer than two seeds
NEEDS_SEEDS = "n/a (needs ≥2 seeds)"
#: the significance level the report marks with ``*``
ALPHA = 0.05


def rank_sum_tests(records: Iterable[Mapping[str, Any]], reference: str = REFERENCE_METHOD) -> list[dict[str, Any]]:
    """Wilcoxon rank-sum test of ``reference`` against every other method, per dataset and metric.

    Each row: dataset, metric, reference, method, n_reference, n_method, statistic, p_value and
    ``result`` (text: the p-value and which side is better by median, or :data:`NEEDS_SEEDS`).
    Undefined values (``null`` in the metrics files) are left out of the samples.
    """
    rows = []
    for d, by_m in group_runs(records).items():
        if reference not in by_m:
            continue
        specs = metrics_present(r for lst in by_m.values() for r in lst)
        for spec in specs:
            ref = [f for f in (finite(r.get(spec.key)) for r in by_m[reference]) if f is not None]
            for method, lst in by_m.items():
                if method == reference:
                    continue
                other = [f for f in (finite(r.get(spec.key)) for r in lst) if f is not None]
                row: dict[str, Any] = {"dataset": d, "metric": spec.key, "reference": reference, "method": method,
                                       "n_reference": len(ref), "n_method": len(other),
                                       "statistic": None, "p_value": None, "cohens_d": None,
                                       "min_p_possible": None}
                if len(ref) < 2 or len(other) < 2:
                    row["result"] = NEEDS_SEEDS
                else:
                    stat, p = exact_rank_sum(ref, other)
                    eff = cohens_d(ref, other)
                    floor = min_p_value(len(ref), len(other))
                    row.update(statistic=stat, p_value=p, cohens_d=eff, min_p_possible=floor)
                    med_r, med_o = median(ref), median(other)
                    if med_r == med_o:
                        side = "equal medians"
                    else:
                        ref_better = (med_r < med_o) == (spec.better == "lower")
                        side = f"{reference if ref_better else method} better"
                    d_txt = "" if eff is None else f", d = {_num(eff, 3)}"
                    cap = f"; cannot reach {ALPHA} with {len(ref)} vs {len(other)} seeds" if floor >= ALPHA else ""
                    row["result"] = f"p = {_num(p, 3)}{' *' if p < ALPHA else ''} ({side}{d_txt}{cap})"
                rows.append(row)
    return rows


def exact_rank_sum(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sided Wilcoxon rank-sum (Mann-Whitney U) test: (U of ``a``, p).

    Exact for small samples without ties (the seed counts a benchmark runs, where the normal
    approximation of ``scipy.stats.ranksums`` is too optimistic); scipy's asymptotic test with tie
    correction when values tie (the exact null distribution assumes none) or samples are large.
    """
    from scipy.stats import mannwhitneyu

    ties = len(set(a) | set(b)) < len(a) + len(b)
    method = "asymptotic" if ties or len(a) + len(b) > 40 else "exact"
    res = mannwhitneyu(a, b, alternative="two-sided", method=method)
    return float(res.statistic), float(res.pvalue)


def min_p_value(n1: int, n2: int) -> float:
    """Smallest two-sided p the exact rank-sum test can give with n1 vs n2 values (complete separation):
    2 / C(n1 + n2, n1). 3 vs 3: 0.1, 4 vs 4: 0.029, 5 vs 5: 0.0079."""
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def min_seeds_for_significance(alpha: float = ALPHA) -> int:
    """Seeds per method (equal on both sides) the exact two-sided test needs to be able to reach ``alpha``."""
    n = 2
    while min_p_value(n, n) >= alpha:
        n += 1
    return n


def cohens_d(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Cohen's d of ``a`` minus ``b`` with the pooled sample std (SLOGAN appendix A.4 reports it with
    the rank-sum test); None when both samples are constant."""
    n1, n2 = len(a), len(b)
    if n1 < 2 or n2 < 2:
        return None
    m1, m2 = sum(a) / n1, sum(b) / n2
    v1 = sum((x - m1) ** 2 for x in a) / (n1 - 1)
    v2 = sum((x - m2) ** 2 for x in b) / (n2 - 1)
    pooled = math.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2))
    if pooled == 0:
        return None
    return (m1 - m2) / pooled


def median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
