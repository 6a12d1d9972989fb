"""The registry of params.yaml sections and the one rule for per-dataset settings blocks.

Below :mod:`ucgan.params` on purpose: the modules that own a section (``stages_params``, ``sweeps_config``,
the encoder and cluster configs) register their checks and resolve per-dataset blocks here, so none
of them imports :mod:`ucgan.params`, which imports them to build the typed accessors.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

#: sections other packages add: name -> validator(mapping, full_params) raising ConfigError
SECTION_CHECKS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {}


def settings_key(raw: Mapping[str, Any], dataset: str, keys: Iterable[str]) -> str | None:
    """Which per-dataset settings block applies to ``dataset``: its own, else (for a
    ``data.custom`` dataset built from a preset) the preset's, else none.

    Why: a dataset derived from a paper's dataset (the SLOGAN ring at 1:9 instead of 1:3, MNIST-2 at
    9:1) has that paper's data modality and scale, so it should train, pretrain and evaluate with the
    settings tuned for it, not with the image defaults. Used by every section with per-dataset
    blocks (``methods.*.datasets``, ``pretrain``/``cluster`` ``overrides``, ``evaluate.datasets``).
    """
    keys = set(keys)
    if dataset in keys:
        return dataset
    entry = ((raw.get("data") or {}).get("custom") or {}).get(dataset)
    preset = entry.get("preset") if isinstance(entry, Mapping) else None
    return preset if isinstance(preset, str) and preset in keys else None


def register_section(name: str, check: Callable[[Any, dict[str, Any]], Any]) -> None:
    SECTION_CHECKS[name] = check
