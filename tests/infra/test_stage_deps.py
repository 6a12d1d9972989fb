"""dvc.yaml's stages declare the source they run: every module of a stage command's import closure is
covered by a ``src/`` dep, and every declared ``src/`` dep exists (``infra/stage_deps.py``).

Why: DVC reruns a stage only when a declared dep changes, so a module a stage runs but does not
declare leaves a stale result behind after an edit. AST only: no torch, a fraction of a second.
"""
from __future__ import annotations

import pytest
import stage_deps as S


@pytest.mark.parametrize("stage", sorted(S.closures()))
def test_stage_declares_the_source_it_runs(stage: str) -> None:
    spec = S._stages()[stage]
    deps = S.declared_src(spec)
    missing = sorted(S._rel(m) for m in S.closures()[stage] if not S._covered(S._rel(m), deps))
    assert missing == [], f"{stage} runs these but dvc.yaml does not declare them: run `python infra/stage_deps.py write`"
    assert [d for d in deps if not (S.ROOT / d).exists()] == []


def test_every_pipeline_stage_is_checked() -> None:
    assert {"prepare", "validate", "pretrain", "eval-encoder", "cluster", "train", "evaluate", "train-listed",
            "evaluate-listed", "report"} <= set(S.closures())


def test_check_passes() -> None:
    assert S.problems()[0] == []


def test_write_is_a_fixed_point() -> None:
    """What ``write`` would produce is what dvc.yaml holds (comments and other deps untouched)."""
    text = S.DVC_YAML.read_text(encoding="utf-8")
    assert S.rewrite(text, {n: S.minimal_deps(c) for n, c in S.closures().items()}) == text


def test_rewrite_keeps_other_deps_and_comments() -> None:
    text = ("stages:\n  a:\n    cmd: ucgan report\n    deps:\n      - metrics   # kept\n      - src/ucgan/old.py\n"
            "      - src/ucgan/x.py  # why x\n      - models\n    params:\n      - train\n")
    out = S.rewrite(text, {"a": ["src/ucgan/x.py", "src/ucgan/y.py"]})
    assert out == ("stages:\n  a:\n    cmd: ucgan report\n    deps:\n      - metrics   # kept\n      - src/ucgan/x.py  # why x\n"
                   "      - src/ucgan/y.py\n      - models\n    params:\n      - train\n")


def test_closure_follows_the_called_command_only() -> None:
    """train does not run the evaluation suite; evaluate does; both run the stage and its cli module."""
    train, evaluate = S.command_closure("train"), S.command_closure("evaluate")
    assert {"ucgan.stages", "ucgan.cli.runs", "ucgan.training", "ucgan.methods.slogan"} <= train
    assert "ucgan.metrics.suite" not in train and "ucgan.metrics.suite" in evaluate
    assert not any(m.startswith(("ucgan.report", "ucgan.cli.report", "ucgan.cli.data")) for m in train | evaluate)


def test_lazy_package_names_are_followed_only_when_asked() -> None:
    """``encoders.config`` alone does not run SimCLR; ``from ..encoders import load_encoder`` does."""
    assert "ucgan.encoders.simclr" not in S.closure_from([S.Import("ucgan.encoders.config", (), True, None, 0)])
    assert "ucgan.encoders.simclr" in S.closure_from([S.Import("ucgan.encoders", ("load_encoder",), False, None, 0)])


def test_params_check_imports_no_stage_logic() -> None:
    """Checking params.yaml (every stage does it first) runs the section configs, not the loop, the
    evaluation suite or the report."""
    heavy = {"ucgan.training", "ucgan.metrics.suite", "ucgan.sweeps", "ucgan.stages", "ucgan.experiment"}
    assert S.closure_from([S.Import("ucgan.params", ("load",), False, None, 0)]) & heavy == set()
