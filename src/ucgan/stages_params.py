"""params.yaml sections of the training/evaluation stages, checked with the rest of the file.

``methods.<name>`` holds ``default`` hyperparameters and per-dataset overrides under
``datasets.<dataset>`` (the papers' appendix settings), merged in that order and checked against the
method's own config dataclass, so a typo in any method block fails every stage up front.

``methods.<name>.variants.<id>`` declares a *named variant*: options that change the paper's
algorithm (``slogan+moves``, ``scgan-kK``) run under their own id, never under the paper's name. A
variant has the same ``default``/``datasets`` layout, applied on top of the paper settings, and a
``note`` saying what it changes. Its id is accepted wherever a method name is (``train.methods``,
``ucgan train --method``), names the run folder and metrics file, and is the MLflow run name,
registry tag and report row.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from .config import from_mapping, require
from .defaults_gap import defaults_id
from .env import MAX_SEED
from .errors import ConfigError
from .loop_config import LoopConfig
from .methods import MethodConfig, available, base_method, get_method
from .sections import register_section, settings_key


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One entry of ``train.runs``: a run outside the cross product (dvc.yaml: ``train-listed@run<i>``).

    Why a list beside the matrix: a reproduction study pairs each claim's dataset with its own
    methods (CGPGAN on ``gauss4``, Self-Conditioned GAN on ``ring8``/``grid25``); the cross product
    of all of them would train every method on every dataset.
    """

    dataset: str = ""
    method: str = ""
    seed: int = 0
    steps: int = 0   # 0 = train.steps_per_dataset / train.steps; e.g. a method that needs longer than the rest


@dataclasses.dataclass(frozen=True)
class TrainSection(LoopConfig):
    """``train:`` — the runs (the matrix dataset x method x seed, plus ``runs``) and the loop settings."""

    datasets: list[str] = dataclasses.field(default_factory=list)
    methods: list[str] = dataclasses.field(default_factory=list)
    seeds: list[int] = dataclasses.field(default_factory=lambda: [0])
    runs: list[RunSpec] = dataclasses.field(default_factory=list)  # listed runs, each dataset in `datasets`
    steps_per_dataset: dict[str, int] = dataclasses.field(default_factory=dict)  # overrides `steps`
    out_root: str = "models"
    checkpoint_root: str = "checkpoints"

    def all_runs(self) -> list[tuple[str, str, int]]:
        """Every run of the stage graph: the matrix (dataset-major, as dvc.yaml expands it), then ``runs``."""
        grid = [(d, m, s) for d in self.datasets for m in self.methods for s in self.seeds]
        return grid + [(r.dataset, r.method, r.seed) for r in self.runs]

    def loop(self, dataset: str, method: str = "", seed: int | None = None) -> LoopConfig:
        """The loop of one run: ``steps`` from the run's own entry in ``runs``, else
        ``steps_per_dataset``, else ``steps``."""
        fields = {f.name for f in dataclasses.fields(LoopConfig)}
        kw = {k: getattr(self, k) for k in fields}
        kw["steps"] = self.steps_per_dataset.get(dataset, self.steps)
        for r in self.runs:
            if (r.dataset, r.method, r.seed) == (dataset, method, seed) and r.steps:
                kw["steps"] = r.steps
        return LoopConfig(**kw)

    def validate(self, where: str) -> None:
        super().validate(where)
        require(all(v > 0 for v in self.steps_per_dataset.values()), f"{where}.steps_per_dataset", "steps must be positive")
        for key in ("datasets", "methods", "seeds"):
            require(len(set(getattr(self, key))) == len(getattr(self, key)), f"{where}.{key}", "lists an entry twice")
        bad = [s for s in self.seeds + [r.seed for r in self.runs] if not 0 <= s <= MAX_SEED]
        require(not bad, f"{where}.seeds", f"seeds must be integers in [0, {MAX_SEED}], got {bad}")
        seen: set[tuple[str, str, int]] = set()
        for i, r in enumerate(self.runs):
            run_key = (r.dataset, r.method, r.seed)
            require(bool(r.dataset) and bool(r.method), f"{where}.runs[{i}]", "needs a dataset and a method")
            require(r.steps >= 0, f"{where}.runs[{i}].steps", "must be >= 0 (0 = the dataset's steps)")
            require(r.dataset in self.datasets, f"{where}.runs[{i}].dataset",
                    f"{r.dataset!r} is not in train.datasets {self.datasets} (its evaluation encoder is built for those)")
            require(run_key not in seen, f"{where}.runs[{i}]", f"lists {r.dataset}/{r.method}/seed {r.seed} twice")
            require(not (r.method in self.methods and r.seed in self.seeds), f"{where}.runs[{i}]",
                    f"{r.dataset}/{r.method}/seed {r.seed} is already in the datasets x methods x seeds matrix; "
                    "remove it from train.runs")
            seen.add(run_key)
        for m in list(self.methods) + [r.method for r in self.runs]:
            try:
                base_method(m)
            except ConfigError:
                raise ConfigError(f"{where}.methods: unknown method {m!r}; available: {', '.join(available())} "
                                  "or a variant declared under methods.<method>.variants") from None


@dataclasses.dataclass(frozen=True)
class VariantBlock:
    """``methods.<method>.variants.<id>``: overrides of the paper settings, and what they change."""

    note: str = ""
    default: dict[str, Any] = dataclasses.field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class MethodBlock:
    default: dict[str, Any] = dataclasses.field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    variants: dict[str, VariantBlock] = dataclasses.field(default_factory=dict)

    def validate(self, where: str) -> None:
        base = where.split(".")[-1]  # where = "methods.<method>"
        for vid in self.variants:
            try:
                ok = base_method(vid) == base and vid != base
            except ConfigError:
                ok = False
            require(ok, f"{where}.variants.{vid}",
                    f"a variant id is {base}+<tag> or {base}-<tag> (the method it is declared under, then a tag)")
            require(vid != defaults_id(base), f"{where}.variants.{vid}",
                    f"{vid} is built in (the default block alone, no per-dataset settings); pick another tag")


def _block(raw_params: Mapping[str, Any], base: str) -> MethodBlock:
    return from_mapping(MethodBlock, (raw_params.get("methods") or {}).get(base), f"methods.{base}")


def resolve_method(raw_params: Mapping[str, Any], name: str) -> tuple[str, str | None]:
    """``(method, variant)`` of a run name: ``("slogan", None)`` or ``("slogan", "slogan+moves")``.

    ``<method>-defaults`` is built in for every method: its ``default`` block alone, no per-dataset
    block, which is what a user's own dataset gets (:mod:`ucgan.defaults_gap` compares the two).

    An id that parses as a variant but is not declared under ``methods.<method>.variants`` is an
    error naming where to declare it.
    """
    base = base_method(name)
    if name == base or name == defaults_id(base):  # <method>-defaults is built in, never declared
        return base, (None if name == base else name)
    block = _block(raw_params, base)
    if name not in block.variants:
        declared = ", ".join(block.variants) or "none"
        raise ConfigError(f"variant {name!r} is not declared under methods.{base}.variants (declared: {declared})")
    return base, name


DEFAULTS_NOTE = "built in: the method's default block alone, no per-dataset settings (what a new dataset gets)"


def variant_note(raw_params: Mapping[str, Any], name: str) -> str:
    """What a run name's variant changes ('' for a method's paper settings)."""
    base, variant = resolve_method(raw_params, name)
    if variant is None:
        return ""
    return DEFAULTS_NOTE if variant == defaults_id(base) else _block(raw_params, base).variants[variant].note


def list_variants(raw_params: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Every declared variant id -> (method, note), for ``ucgan methods``."""
    out: dict[str, tuple[str, str]] = {}
    for base in (raw_params.get("methods") or {}):
        for vid, v in _block(raw_params, base).variants.items():
            out[vid] = (base, v.note)
    return out


def method_config(raw_params: Mapping[str, Any], method: str, dataset: str) -> MethodConfig:
    """The resolved hyperparameters of ``method`` (a method name or a variant id) on ``dataset``:
    the paper's default, its dataset override, then the variant's default and dataset override."""
    base, variant = resolve_method(raw_params, method)
    cls = get_method(base)
    block = _block(raw_params, base)
    if variant == defaults_id(base):
        return from_mapping(cls.Config, dict(block.default), f"methods.{base}.default")
    key = settings_key(raw_params, dataset, block.datasets)  # its own block, else its preset's
    merged = {**block.default, **(block.datasets[key] if key else {})}
    where = f"methods.{base}.datasets.{key}" if key else f"methods.{base}.default"
    if variant is not None:
        v = block.variants[variant]
        vkey = settings_key(raw_params, dataset, v.datasets)
        merged.update({**v.default, **(v.datasets[vkey] if vkey else {})})
        where = f"methods.{base}.variants.{variant}"
    return from_mapping(cls.Config, merged, where)


def _check_train(section: Any, raw: dict[str, Any]) -> TrainSection:
    t = from_mapping(TrainSection, section, "train")
    # dvc.yaml's matrix over an empty list silently drops every train and evaluate stage
    # (an empty methods or seeds list is fine when train.runs lists the runs instead)
    empty = [k for k in ("datasets", "methods", "seeds") if isinstance(section, Mapping) and k in section and not section[k]
             and (k == "datasets" or not t.runs)]
    require(not empty, f"train.{empty[0] if empty else ''}",
            "is empty; list at least one entry (an empty list makes DVC drop every train and evaluate stage without a word)")
    known = set((raw.get("data") or {}).get("datasets") or []) | set(((raw.get("data") or {}).get("custom") or {}))
    for d in t.datasets:
        require(d in known, "train.datasets", f"{d!r} is not listed under data.datasets or data.custom")
    for i, r in enumerate(t.runs):  # a listed run's variant must be declared
        try:
            resolve_method(raw, r.method)
        except ConfigError as exc:
            raise ConfigError(f"train.runs[{i}].method: {exc}") from None
    return t


def _check_methods(section: Any, raw: dict[str, Any]) -> None:
    if section is None:
        return
    if not isinstance(section, Mapping):
        raise ConfigError("methods: expected a mapping method name -> {default: {...}, datasets: {...}}")
    for name in section:
        get_method(name)  # unknown method -> ConfigError listing the available ones
    t = from_mapping(TrainSection, raw.get("train"), "train")
    for m in set(section) | set(t.methods) | set(list_variants(raw)):  # every variant is checked too
        for d in t.datasets or [""]:
            method_config(raw, m, d)



@dataclasses.dataclass(frozen=True)
class EvaluateSection:
    """``evaluate:`` — which extractor and how many samples; per-dataset overrides."""

    default: dict[str, Any] = dataclasses.field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    cache_dir: str = ".ucgan-cache/stats"
    out_root: str = "metrics"


def eval_profile(raw_params: Mapping[str, Any], dataset: str) -> Any:
    from .metrics.profile import EvalProfile

    sec = from_mapping(EvaluateSection, raw_params.get("evaluate"), "evaluate")
    key = settings_key(raw_params, dataset, sec.datasets)
    merged = {**sec.default, **(sec.datasets[key] if key else {})}
    return from_mapping(EvalProfile, merged, f"evaluate.datasets.{key}" if key else "evaluate.default")


def _check_evaluate(section: Any, raw: dict[str, Any]) -> None:
    sec = from_mapping(EvaluateSection, section, "evaluate")
    for d in set(sec.datasets) | {""}:
        eval_profile(raw, d)


register_section("train", _check_train)
register_section("methods", _check_methods)
register_section("evaluate", _check_evaluate)


def _check_pretrain(section: Any, raw: dict[str, Any]) -> None:
    from .encoders.config import load_pretrain_config

    for d in ((raw.get("data") or {}).get("datasets") or [""]):
        load_pretrain_config(raw, d)  # base keys and every override block are checked


def _check_cluster(section: Any, raw: dict[str, Any]) -> None:
    from .clustering.config import load_cluster_config

    for d in ((raw.get("data") or {}).get("datasets") or [""]):
        load_cluster_config(raw, d)


register_section("pretrain", _check_pretrain)
register_section("cluster", _check_cluster)
