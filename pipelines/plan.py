"""Which dvc.yaml stages a benchmark flow run submits, and in which waves.

Owns reading params.yaml's run matrix (``train.datasets/methods/seeds`` and ``train.runs``) and
the stage names ``dvc stage list`` expands, and checking one against the other into a
:class:`Plan`. No Prefect here: the plan can be built and tested without it (the profiles' check
in ``tests/data/test_params.py`` uses it to name exactly what the flow would submit).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import yaml

from pipelines.dvc_runner import TAIL_LINES, StageFailed, dvc_quiet
from ucgan import layout

#: Stage families that are not per-dataset data preparation.
RUN_STAGES = ("train", "evaluate", "train-listed", "evaluate-listed", "report")


def list_stages(repo: str | Path) -> list[str]:
    """Stage names as DVC expands them (``train@ring8-1to3-wgan-0``)."""
    r = dvc_quiet(["stage", "list", "--name-only"], repo)
    if r.returncode:
        raise StageFailed("dvc stage list", r.returncode, (r.stdout + r.stderr).splitlines()[-TAIL_LINES:], False)
    return [s.strip() for s in r.stdout.splitlines() if s.strip()]


def read_matrix(repo: str | Path, params_file: str = "params.yaml"
                ) -> tuple[list[str], list[str], list[int], list[tuple[str, str, int]]]:
    """``train.datasets/methods/seeds`` and ``train.runs`` of params.yaml: what dvc.yaml's matrices expand."""
    p = Path(repo) / params_file
    raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    t = raw.get("train") or {}
    listed = [(str(r["dataset"]), str(r["method"]), int(r.get("seed", 0))) for r in (t.get("runs") or [])]
    seeds = t.get("seeds")
    return (list(t.get("datasets") or []), list(t.get("methods") or []),
            [int(s) for s in (seeds if seeds is not None else [0])], listed)


@dataclasses.dataclass
class Plan:
    """Which stages the benchmark runs, in waves."""

    data: dict[str, list[str]]            # dataset -> its data stages (prepare@d, validate@d, ...)
    runs: list[tuple[str, str, int]]      # (dataset, method, seed)
    report: list[str]                     # report stage(s), if dvc.yaml has any
    complete: bool                        # the whole matrix (no filter): the final full repro is meaningful
    listed: dict[tuple[str, str, int], int] = dataclasses.field(default_factory=dict)  # train.runs -> index

    def train(self, d: str, m: str, s: int) -> str:
        return layout.train_stage(d, m, s, self.listed.get((d, m, s)))

    def evaluate(self, d: str, m: str, s: int) -> str:
        return layout.evaluate_stage(d, m, s, self.listed.get((d, m, s)))


def make_plan(stages: Sequence[str], datasets: Sequence[str], methods: Sequence[str], seeds: Sequence[int],
              only_datasets: Sequence[str] | None = None, only_methods: Sequence[str] | None = None,
              only_seeds: Sequence[int] | None = None, listed: Sequence[tuple[str, str, int]] = ()) -> Plan:
    """The runs (the matrix, then ``train.runs``; optionally filtered) checked against the stages
    dvc.yaml really has."""
    listed_ds = [r[0] for r in listed]
    for name, sel, full in (("dataset", only_datasets, list(datasets) + listed_ds),
                            ("method", only_methods, list(methods) + [r[1] for r in listed]),
                            ("seed", only_seeds, list(seeds) + [r[2] for r in listed])):
        extra = [x for x in (sel or []) if x not in full]
        if extra:
            raise ValueError(f"{name} {extra[0]!r} is not in params.yaml's train matrix or train.runs {sorted(set(full))}")

    def keep(d: str, m: str, s: int) -> bool:
        return (not only_datasets or d in only_datasets) and (not only_methods or m in only_methods) and \
            (not only_seeds or s in only_seeds)

    runs = [(d, m, s) for d in datasets for m in methods for s in seeds if keep(d, m, s)]
    runs += [r for r in listed if keep(*r)]
    have = set(stages)
    plan = Plan(data={}, runs=runs, report=[s for s in stages if s == "report" or s.startswith("report@")],
                complete=not (only_datasets or only_methods or only_seeds),
                listed={r: i for i, r in enumerate(listed)})
    missing = [n for d, m, s in runs for n in (plan.train(d, m, s), plan.evaluate(d, m, s)) if n not in have]
    if missing:
        raise ValueError(f"dvc.yaml has no stage {missing[0]!r} (`dvc stage list` shows the names); the train/evaluate "
                         "matrix in dvc.yaml must expand train.datasets x train.methods x train.seeds, and "
                         "train-listed/evaluate-listed the list train.runs")
    for d in dict.fromkeys(r[0] for r in runs):
        plan.data[d] = [s for s in stages if s.endswith(f"@{d}") and s.split("@", 1)[0] not in RUN_STAGES]
    return plan
