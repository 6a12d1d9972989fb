"""Build and load one run: the method object of a (dataset, method, seed) with the pipeline artifacts it
consumes, and a trained run rebuilt from its ``model.pt``.

Why its own module: the train and evaluate stages, the report, the sweeps and the registry all need
"give me the trained method of this run"; keeping that here (below them all) means none of them
imports another's module to get it, so the import graph has no cycle.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import torch

from . import layout
from .errors import UcganError
from .io import require_structure, torch_load
from .methods import DataInfo, Method, base_method, get_method
from .methods.base import for_inference


def pipeline_resources(dataset: str) -> dict[str, Any]:
    """Paths of the pretrain/cluster outputs a method may use (present or not)."""
    return {
        "encoder_path": layout.encoder_dir(dataset) / "encoder.pt",
        "clusters_path": layout.clusters_dir(dataset) / "clusters.npz",
        "classifier_path": layout.clusters_dir(dataset) / "classifier.pt",
    }


def build_method(name: str, cfg: Any, info: DataInfo, device: torch.device, resources: dict[str, Any],
                 *, inference: bool = False) -> Method:
    """The method ``name`` (a paper id or variant id) with the pipeline artifacts it consumes attached.

    ``inference``: build it without optimisers (:func:`ucgan.methods.base.for_inference`), for a run
    that is only sampled, assigned and scored.
    """
    cls = get_method(base_method(name))  # a variant id (slogan+moves) builds its paper method
    if cls.needs_encoder:
        missing = [str(p) for k, p in resources.items() if k.endswith("_path") and not Path(p).is_file()]
        if missing:
            raise UcganError(f"method {name} needs the pretrain/cluster outputs {missing}; run "
                             f"`dvc repro cluster@{info.dataset}` (or `ucgan pretrain` and `ucgan cluster`) first.")
    with for_inference() if inference else contextlib.nullcontext():
        m = cls(cfg, info, device)
        m.attach(resources)  # LSC-GAN builds its G (and G's optimiser) here
    return m


def load_trained(model_dir: str | Path, device: torch.device,
                 resources: dict[str, Any] | None = None) -> tuple[Method, dict[str, Any] | None, dict[str, Any]]:
    """Rebuild a trained method from ``model.pt`` alone (tensors + plain data, weights_only).

    ``model_dir`` is a run folder or a ``.pt`` file; ``resources`` overrides the repository paths of
    the pretrain/cluster outputs (a registry version carries its own copies). The method comes
    without optimisers (it is scored, sampled or served, never trained further: resuming a
    training reads the loop's checkpoint, not ``model.pt``).
    """
    from .config import from_mapping

    path = Path(model_dir)
    model_pt = path if path.suffix == ".pt" else path / "model.pt"
    fix = "re-train it (`ucgan train ...`) or restore it with `dvc checkout`."
    ck = require_structure(torch_load(model_pt, map_location=device), ("meta", "method_state"), model_pt,
                           "trained model", fix)
    meta = require_structure(ck["meta"], ("method", "config", "info"), model_pt, "trained model (meta)", fix)
    cls = get_method(base_method(meta["method"]))
    cfg = from_mapping(cls.Config, meta["config"], f"{model_pt} config")
    i = meta["info"]
    info = DataInfo(modality=i["modality"], shape=tuple(i["shape"]),
                    value_range=None if i["value_range"] is None else tuple(i["value_range"]),
                    num_classes=int(i["num_classes"]), dataset=i.get("dataset", ""))
    res = {**pipeline_resources(info.dataset), **{k: Path(v) for k, v in (resources or {}).items()}}
    m = build_method(meta["method"], cfg, info, device, res, inference=True)
    m.load_state_dict(ck["method_state"])
    m.eval()
    return m, ck.get("ema"), meta
