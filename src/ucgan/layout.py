"""Where every artifact of the pipeline lives, and what each stage is called: the one owner of paths.

Why one module: the stages write these paths, ``dvc.yaml`` declares them, and the report, the
registry, the sweeps, the Prefect flow and the tests read them. Spelled out in each, a renamed folder
breaks a reader silently; asked from here, it cannot. A leaf module (pathlib only), so anything may
import it. ``dvc.yaml`` must agree with it (``tests/infra/test_layout.py`` checks that).

Per run (dataset ``d``, method or variant id ``m``, seed ``s``)::

    <train.out_root>/<d>/<m>-s<s>/         model.pt, config.json, train.json, losses.csv, grids/
    <train.checkpoint_root>/<d>/<m>-s<s>.pt  resumable checkpoint (outside DVC's outputs)
    <evaluate.out_root>/<d>/<m>-s<s>.json    metrics

Per dataset::

    models/encoders/<d>/          SimCLR encoder the methods may consume (pretrain stage)
    models/eval-encoders/<d>/     independent evaluation encoder (eval-encoder stage)
    models/clusters/<d>/          k-means attributes + linear classifier (cluster stage)
    checkpoints/<role>/<d>.pt     resumable encoder checkpoints
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

MODELS = Path("models")
CHECKPOINTS = Path("checkpoints")
#: encoder role -> the folder under models/ (``method``: consumed by methods; ``eval``: evaluation only)
ENCODER_ROOTS = {"method": "encoders", "eval": "eval-encoders"}

EncoderRole = Literal["method", "eval"]


def run_name(method: str, seed: int) -> str:
    """``<method>-s<seed>``: the run folder, metrics file and checkpoint stem of one run."""
    return f"{method}-s{int(seed)}"


def run_id(dataset: str, method: str, seed: int) -> str:
    """``<dataset>-<method>-s<seed>``: the MLflow run name of one run."""
    return f"{dataset}-{run_name(method, seed)}"


def run_dir(models_root: str | Path, dataset: str, method: str, seed: int) -> Path:
    return Path(models_root) / dataset / run_name(method, seed)


def checkpoint_path(checkpoint_root: str | Path, dataset: str, method: str, seed: int) -> Path:
    return Path(checkpoint_root) / dataset / f"{run_name(method, seed)}.pt"


def metrics_path(metrics_root: str | Path, dataset: str, method: str, seed: int) -> Path:
    return Path(metrics_root) / dataset / f"{run_name(method, seed)}.json"


def encoder_dir(dataset: str, role: EncoderRole = "method") -> Path:
    return MODELS / ENCODER_ROOTS[role] / dataset


def encoder_checkpoint(dataset: str, role: EncoderRole = "method") -> Path:
    return CHECKPOINTS / ENCODER_ROOTS[role] / f"{dataset}.pt"


def clusters_dir(dataset: str) -> Path:
    return MODELS / "clusters" / dataset


def train_stage(dataset: str, method: str, seed: int, listed_index: int | None = None) -> str:
    """DVC's name of a run's train stage: the matrix's ``train@<d>-<m>-<s>``, or
    ``train-listed@run<i>`` for entry ``i`` of ``train.runs``."""
    return f"train@{dataset}-{method}-{int(seed)}" if listed_index is None else f"train-listed@run{listed_index}"


def evaluate_stage(dataset: str, method: str, seed: int, listed_index: int | None = None) -> str:
    return f"evaluate@{dataset}-{method}-{int(seed)}" if listed_index is None else f"evaluate-listed@run{listed_index}"
