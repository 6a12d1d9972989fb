"""What a registered version is called and tagged: model names, the alias, the metric tags.

Why apart: the names and tag values are the registry's contract with everyone who reads it (the
comparison table, the champion rule, a teammate in the MLflow UI); they need no MLflow, so the rule
and the tests use them without a store.
"""
from __future__ import annotations

import hashlib
import math
import os
from typing import Any, Mapping

MODEL_PREFIX = "ucgan-"
CHAMPION_ALIAS = "champion"
ARTIFACT_NAME = "generator"
#: Metrics copied into version tags (the comparison table and the champion rule read them).
METRIC_TAGS = ("icfid", "fid", "nmi", "mixing_l1")
#: Pipeline outputs (pretrain/cluster) that methods with ``needs_encoder`` load in ``attach``;
#: they travel with the version so a registered generator loads away from the repository.
RESOURCE_KEYS = ("encoder_path", "clusters_path", "classifier_path")


def model_name(dataset: str) -> str:
    """Registered-model name of a dataset's generators."""
    return f"{MODEL_PREFIX}{dataset}"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Content hash of ``model.pt``: identifies a version independently of where it was logged."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fmt_tag(value: Any) -> str:
    """Tag text of a metric: full precision, ``null`` for missing/non-finite (JSON's convention)."""
    if value is None or isinstance(value, bool):
        return "null"
    try:
        f = float(value)
    except (TypeError, ValueError):
        return "null"
    return repr(f) if math.isfinite(f) else "null"


def parse_tag(text: str | None) -> float | None:
    """Inverse of :func:`fmt_tag` (``None`` for ``null``, missing or unparsable tags)."""
    if text is None or text in ("", "null", "None"):
        return None
    try:
        f = float(text)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def version_tags(metrics: Mapping[str, Any], model_sha256: str, run_id: str | None) -> dict[str, str]:
    """The tags of one registered version (all strings, as the registry stores them)."""
    tags = {
        "dataset": str(metrics["dataset"]),
        "method": str(metrics["method"]),
        "variant": str((metrics.get("protocol") or {}).get("variant") or metrics["method"]),
        "conditional": "false" if metrics.get("conditional") is False else "true",
        "seed": str(int(metrics["seed"])),
        "extractor": str(metrics.get("extractor", "")),
        "model_sha256": model_sha256,
        "run_id": run_id or "",
    }
    tags.update({k: fmt_tag(metrics.get(k)) for k in METRIC_TAGS})
    return tags
