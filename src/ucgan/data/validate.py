"""Great Expectations validation of a prepared dataset.

GX validates tables, so each split becomes a per-sample summary table (``label``, ``min``, ``max``,
``finite``) and a real GX suite checks it: labels within the declared set and all present, every
class's share within ``share_tolerance`` of its target share, values within the declared range, all
finite, and the expected row count. A failure raises :class:`~ucgan.errors.DataQualityError` listing
every failed expectation in plain words.
"""
from __future__ import annotations

import dataclasses
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..config import require
from ..errors import DataError, DataQualityError
from ..io import write_json
from .dataset import PREPARED_ROOT, Split, load_split, verify_split_hash


@dataclasses.dataclass(frozen=True)
class ValidateConfig:
    """``validate:`` section of params.yaml."""

    share_tolerance: float = 0.01   # allowed |achieved share - target share| per class
    range_tolerance: float = 1e-6   # slack on the declared value range (float rounding)

    def validate(self, where: str) -> None:
        require(0 <= self.share_tolerance < 1, f"{where}.share_tolerance", "must be in [0, 1)")
        require(self.range_tolerance >= 0, f"{where}.range_tolerance", "must be >= 0")


def summary_table(x: np.ndarray, y: np.ndarray) -> "pandas.DataFrame":  # noqa: F821
    """One row per sample: label, min, max and whether every value is finite."""
    import pandas as pd

    flat = x.reshape(len(x), -1)
    finite = np.isfinite(flat).all(axis=1)
    with np.errstate(invalid="ignore"):
        lo = np.where(finite, np.nanmin(np.where(np.isfinite(flat), flat, np.nan), axis=1), np.nan) if len(x) else np.zeros(0)
        hi = np.where(finite, np.nanmax(np.where(np.isfinite(flat), flat, np.nan), axis=1), np.nan) if len(x) else np.zeros(0)
    return pd.DataFrame({"label": y.astype(np.int64), "min": lo, "max": hi, "finite": finite})


def _expectations(split: Split, name: str, cfg: ValidateConfig) -> list[Any]:
    import great_expectations.expectations as gxe

    m = split.manifest
    k = len(m["class_names"])
    target = np.asarray(m["counts"][name]["target"], dtype=np.float64)
    n = int(target.sum())
    exps: list[Any] = [
        gxe.ExpectTableRowCountToEqual(value=n),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=list(range(k))),
        gxe.ExpectColumnDistinctValuesToEqualSet(column="label", value_set=list(range(k))),
        gxe.ExpectColumnValuesToNotBeNull(column="label"),
        gxe.ExpectColumnValuesToBeInSet(column="finite", value_set=[True]),
    ]
    if m.get("range") is not None:
        lo, hi = m["range"]
        tol = cfg.range_tolerance
        exps += [
            gxe.ExpectColumnValuesToBeBetween(column="min", min_value=lo - tol, max_value=hi + tol),
            gxe.ExpectColumnValuesToBeBetween(column="max", min_value=lo - tol, max_value=hi + tol),
        ]
    shares = target / max(n, 1)
    for c in range(k):
        lo_n = int(np.floor((shares[c] - cfg.share_tolerance) * n))
        hi_n = int(np.ceil((shares[c] + cfg.share_tolerance) * n))
        exps.append(gxe.ExpectTableRowCountToBeBetween(
            min_value=max(lo_n, 0), max_value=hi_n, row_condition=f"label=={c}", condition_parser="pandas",
            meta={"class": c, "target_share": float(shares[c])}))
    return exps


def _describe_failure(r: Any) -> str:
    cfg = r.expectation_config
    kw = cfg.kwargs
    what = cfg.type
    col = kw.get("column")
    res = r.result or {}
    if r.exception_info and r.exception_info.get("raised_exception"):
        return f"- {what}: raised {r.exception_info.get('exception_message')}"
    meta = getattr(cfg, "meta", None) or {}
    if "class" in meta:
        return (f"- {what} where label=={meta['class']}: observed {res.get('observed_value')} rows, expected "
                f"{kw.get('min_value')}..{kw.get('max_value')} (target share {meta['target_share']:.4f}: class ratio off target)")
    if "distinct" in what:
        return f"- {what}({col}): observed {res.get('observed_value')}, expected {kw.get('value_set')}"
    if res.get("unexpected_count"):
        return (f"- {what}({col}): {res['unexpected_count']} bad rows, e.g. "
                f"{res.get('partial_unexpected_list', [])[:5]}")
    return f"- {what}({col or ''}): observed {res.get('observed_value')}, expected {({k: v for k, v in kw.items() if k not in ('batch_id',)})}"


def validate_split(split: Split, name: str, cfg: ValidateConfig) -> dict[str, Any]:
    """Run the GX suite on one split; returns a JSON-able report with every expectation's outcome."""
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        bd = (ctx.data_sources.add_pandas("ucgan").add_dataframe_asset(f"{name}_summary")
              .add_batch_definition_whole_dataframe("whole"))
        suite = ctx.suites.add(gx.ExpectationSuite(name=f"{split.manifest.get('dataset', 'data')}_{name}"))
        for e in _expectations(split, name, cfg):
            suite.add_expectation(e)
        vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=f"vd_{name}", data=bd, suite=suite))
        res = vd.run(batch_parameters={"dataframe": summary_table(split.x, split.y)},
                     result_format={"result_format": "SUMMARY"})
    results = []
    failures = []
    for r in res.results:
        entry = {"expectation": r.expectation_config.type, "kwargs": {k: v for k, v in r.expectation_config.kwargs.items() if k != "batch_id"},
                 "success": bool(r.success), "observed": (r.result or {}).get("observed_value"),
                 "unexpected_count": (r.result or {}).get("unexpected_count")}
        results.append(entry)
        if not r.success:
            failures.append(_describe_failure(r))
    return {"split": name, "success": bool(res.success), "n_rows": int(len(split.y)), "failures": failures, "results": results}


def validate_dataset(dataset: str, cfg: ValidateConfig, root: str | Path = PREPARED_ROOT,
                     report_path: str | Path | None = None) -> dict[str, Any]:
    """Validate both splits; writes the report (on success) and raises on any failed expectation."""
    reports = []
    for s in ("train", "test"):
        split = load_split(dataset, s, root, verify=False)  # GX describes what is wrong with the content...
        rep = validate_split(split, s, cfg)
        try:  # ...and the manifest's hash says whether the file is the one `prepare` wrote
            verify_split_hash(dataset, root, s, split.x, split.y, split.manifest)
        except DataError as exc:
            rep["success"] = False
            rep["failures"].append(f"- content hash: {exc}")
        reports.append(rep)
    report = {"dataset": dataset, "success": all(r["success"] for r in reports), "config": dataclasses.asdict(cfg),
              "splits": {r["split"]: r for r in reports}}
    if not report["success"]:
        lines = [f"[{r['split']}] {f}" for r in reports for f in r["failures"]]
        if report_path is not None:
            failed = Path(report_path).with_suffix(".failed.json")
            write_json(failed, report)
        raise DataQualityError(
            f"dataset {dataset!r} failed validation ({len(lines)} expectation(s)):\n" + "\n".join(lines)
            + f"\nRe-run `ucgan prepare --dataset {dataset}` or fix the spec in params.yaml.")
    if report_path is not None:
        write_json(report_path, report)
    return report
