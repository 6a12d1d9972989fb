"""The whole of params.yaml, checked at once before any stage does work.

Every stage calls :func:`load` first, so a typo anywhere (``trian:``, ``ratio: [0, 1]``, an unknown
preset or method) stops the pipeline in a second with a message naming the key, instead of after an
hour of training in a later stage.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

from .config import from_mapping, load_params, require
from .data.presets import resolve_spec
from .data.spec import DatasetSpec
from .data.validate import ValidateConfig
from .errors import ConfigError
from .sections import SECTION_CHECKS, register_section, settings_key  # noqa: F401  (re-exported)
from .tracking import TrackingConfig


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """``data:`` section."""

    root: str = "data/prepared"
    raw_root: str = "data/raw"
    datasets: list[str] = dataclasses.field(default_factory=list)
    custom: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def validate(self, where: str) -> None:
        require(len(set(self.datasets)) == len(self.datasets), f"{where}.datasets", "lists a dataset twice")

    def spec(self, name: str) -> tuple[DatasetSpec, str | None, str]:
        """Resolve a dataset name: a ``custom`` entry, else a preset."""
        entry = self.custom.get(name)
        spec, preset, doc = resolve_spec(name, entry, f"data.custom.{name}" if entry is not None else f"data.datasets[{name}]")
        if spec.source in ("mnist", "fmnist", "cifar10") and "root" not in spec.source_options:
            spec = dataclasses.replace(spec, source_options={**spec.source_options, "root": self.raw_root})
        return spec, preset, doc



KNOWN_TOP = {"data", "validate", "tracking", "device", "profile"}


@dataclasses.dataclass
class Params:
    """The whole params.yaml, checked once by :func:`load`; every stage reads its sections from here.

    Per-dataset settings follow one rule (:func:`settings_key`): a section's base, then the block of
    the dataset (or of the preset it was built from). The section accessors below return the
    resolved, typed config; each was already validated when the file was loaded.
    """

    raw: dict[str, Any]
    data: DataConfig
    validate: ValidateConfig
    tracking: TrackingConfig
    device: str

    @property
    def train(self) -> Any:
        """``train:`` (:class:`ucgan.stages_params.TrainSection`): the runs and the loop settings."""
        from .stages_params import _check_train

        return _check_train(self.raw.get("train"), self.raw)

    @property
    def evaluate(self) -> Any:
        """``evaluate:`` (:class:`ucgan.stages_params.EvaluateSection`)."""
        from .stages_params import EvaluateSection

        return from_mapping(EvaluateSection, self.raw.get("evaluate"), "evaluate")

    def eval_profile(self, dataset: str) -> Any:
        """The resolved evaluation settings of ``dataset`` (:class:`ucgan.metrics.profile.EvalProfile`)."""
        from .stages_params import eval_profile

        return eval_profile(self.raw, dataset)

    def method(self, name: str, dataset: str) -> Any:
        """The resolved hyperparameters of a method or variant id on ``dataset``."""
        from .stages_params import method_config

        return method_config(self.raw, name, dataset)

    def pretrain(self, dataset: str) -> Any:
        """``pretrain:`` resolved for ``dataset`` (:class:`ucgan.encoders.config.PretrainConfig`)."""
        from .encoders.config import load_pretrain_config

        return load_pretrain_config(self.raw, dataset)

    def cluster(self, dataset: str) -> Any:
        """``cluster:`` resolved for ``dataset`` (:class:`ucgan.clustering.config.ClusterConfig`)."""
        from .clustering.config import load_cluster_config

        return load_cluster_config(self.raw, dataset)


def _import_sections() -> None:
    """Modules that own a params section register its check on import.

    Imported by name, statically, so ``infra/stage_deps.py`` sees what checking the file runs: the
    owners import only section *config* code (dataclasses and checks; the method registry for
    ``methods``), never the training loop, the evaluation suite or the report, so that every stage
    checking params.yaml does not depend on all of the package in dvc.yaml.
    """
    # stages_params: train, methods, evaluate, pretrain, cluster; sweeps_config: sweeps (ucgan.sweeps is report code)
    from . import stages_params, sweeps_config  # noqa: F401


def load(path: str | os.PathLike[str] = "params.yaml") -> Params:
    raw = load_params(path)
    _import_sections()
    allowed = KNOWN_TOP | set(SECTION_CHECKS)
    unknown = sorted(set(raw) - allowed)
    if unknown:
        from .config import _suggest

        hint = _suggest(unknown[0], allowed)
        raise ConfigError(f"unknown top-level key {unknown[0]!r} in {path}{hint}; allowed: {sorted(allowed)}")
    data = from_mapping(DataConfig, raw.get("data"), "data")
    for name in data.datasets:  # resolves presets and validates every spec now
        data.spec(name)
    for name in data.custom:
        data.spec(name)
    device = raw.get("device", "auto")
    if not isinstance(device, str):
        raise ConfigError(f"device: expected a string such as auto, cpu or cuda, got {device!r}")
    params = Params(raw=raw, data=data, validate=from_mapping(ValidateConfig, raw.get("validate"), "validate"),
                    tracking=from_mapping(TrackingConfig, raw.get("tracking"), "tracking"), device=device)
    for name, check in SECTION_CHECKS.items():
        check(raw.get(name), raw)
    return params
