"""Which metrics the report shows, in what order, under what label, and which way is better.

Why apart: the summary table, the CSV columns, the significance tests and the figures all walk the
same list (:data:`METRICS`); a metric added here appears everywhere, in the same place.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping

#: Metrics that are undefined for an unconditional generator (no components): shown as "n/a".
CONDITIONAL_ONLY = ("icfid", "mixing_l1", "mixing_l1_grouped", "attribute_accuracy_independent",
                    "attribute_control_accuracy")


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """One metric of the report: the key in the metrics files, the table label, which way is better."""

    key: str
    label: str
    better: str  # "lower" | "higher"


#: Metrics the report aggregates, in table order; mode metrics only appear when present.
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("fid", "FID", "lower"),
    MetricSpec("icfid", "ICFID", "lower"),
    MetricSpec("nmi", "NMI", "higher"),
    MetricSpec("nmi_assignment", "NMI (own assignment)", "higher"),
    MetricSpec("purity", "purity", "higher"),
    MetricSpec("precision", "precision", "higher"),
    MetricSpec("recall", "recall", "higher"),
    MetricSpec("mixing_l1", "mixing L1", "lower"),
    MetricSpec("mixing_l1_grouped", "mixing L1 (grouped)", "lower"),
    MetricSpec("attribute_accuracy_independent", "class agreement", "higher"),
    MetricSpec("attribute_control_accuracy", "attribute control acc. (own classifier)", "higher"),
    MetricSpec("inception_score", "IS", "higher"),
    MetricSpec("modes_covered", "modes covered", "higher"),
    MetricSpec("high_quality_share", "high-quality share", "higher"),
    MetricSpec("reverse_kl", "reverse KL", "lower"),
    MetricSpec("reverse_kl_uniform", "reverse KL (uniform)", "lower"),
)


def metrics_present(records: Iterable[Mapping[str, Any]]) -> list[MetricSpec]:
    """The metrics at least one record has a value for (mode metrics only for 2-D mixtures)."""
    recs = list(records)
    return [m for m in METRICS if any(m.key in r for r in recs)]
