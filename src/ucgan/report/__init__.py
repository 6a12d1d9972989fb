"""The ``report`` stage: the benchmark's tables, tests, pictures and the registry's champion.

Reads the evaluate stage's ``metrics/<dataset>/<method>-s<seed>.json`` for the run matrix of
params.yaml (``train.datasets x train.methods x train.seeds``, then ``train.runs``) and writes:

* ``reports/summary.csv``: one row per dataset x method, mean and std over seeds of every metric
  (FID, ICFID, NMI, mixing L1 and, for synthetic 2-D mixtures, the mode metrics). Std is the
  sample std (ddof=1) because seeds are a sample of training randomness; with one seed it is empty.
* ``reports/wilcoxon.csv``: SLOGAN (``--reference``) against every other method per metric, the
  Wilcoxon rank-sum (Mann-Whitney U) test over seeds as in SLOGAN appendix A.4, *exact*
  (``scipy.stats.mannwhitneyu(method="exact")``; the normal approximation of ``ranksums`` prints
  p = 0.0495 for 3 seeds against 3, where the exact two-sided test cannot go below p = 0.1), and
  Cohen's d (pooled std) as the effect size. With fewer than two seeds on either side the test is
  not run and the report says "n/a (needs ≥2 seeds)"; the report states how many seeds a
  significance claim needs (:func:`min_seeds_for_significance`).
* ``reports/<dataset>.md``: the tables above, the champion, pictures (samples per method and
  component, learned vs true mixing bars, per-class ICFID bars) under ``reports/figures/``.
* ``reports/plots/<kind>/<dataset>.csv`` and ``reports/plots/losses/``: the same numbers as plot
  data for ``dvc plots show/diff``, one chart per dataset titled with its extractor
  (:mod:`ucgan.plotdata`).

With tracking enabled it also registers every run (idempotent, see :mod:`ucgan.registry`) and moves
the alias ``champion`` of ``ucgan-<dataset>`` to the lowest-ICFID run. Nothing in the written files
depends on the clock, so re-running on unchanged metrics gives identical outputs (clean DVC/git diffs).

The package, by concern: :mod:`.specs` (which metrics, which way is better), :mod:`.runs`
(collecting the metrics files), :mod:`.summary` (mean ± std over seeds), :mod:`.significance`
(rank-sum tests, Cohen's d), :mod:`.champion` (the champion and the registry hook),
:mod:`.datafiles` (CSV and DVC plot data), :mod:`.figures`, :mod:`.markdown` (``<dataset>.md``) and
:mod:`.build` (the stage). The ``ucgan report`` command is :mod:`ucgan.cli.report`. The stages never
import this package (``tests/infra/test_layering.py``).
"""
from __future__ import annotations

from ..numbers import finite, mean_std, stats
from .build import DEFAULT_CLAIMS, DEFAULT_PAPER_TABLES, ReportResult, build_report, run_report
from .champion import champions, registry_hook
from .markdown import render_markdown
from .runs import Runs, load_runs
from .significance import (
    NEEDS_SEEDS,
    REFERENCE_METHOD,
    cohens_d,
    exact_rank_sum,
    min_p_value,
    min_seeds_for_significance,
    rank_sum_tests,
)
from .specs import METRICS, MetricSpec
from .summary import summarize

#: what the stage, the CLI and the tests use; figures, data files and helpers are imported from their module
__all__ = ["DEFAULT_CLAIMS", "DEFAULT_PAPER_TABLES", "METRICS", "NEEDS_SEEDS", "REFERENCE_METHOD", "MetricSpec", "ReportResult", "Runs",
           "build_report", "champions", "cohens_d", "exact_rank_sum", "finite", "load_runs", "mean_std",
           "min_p_value", "min_seeds_for_significance", "rank_sum_tests", "registry_hook", "render_markdown",
           "run_report", "stats", "summarize"]
