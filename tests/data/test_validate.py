"""The Great Expectations suite passes clean data and names what a corruption violates."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ucgan.data.build import prepare
from ucgan.data.presets import resolve_spec
from ucgan.data.validate import ValidateConfig, validate_dataset
from ucgan.errors import DataQualityError


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("prep")
    spec, p, d = resolve_spec("gauss4", None, "t")
    spec = type(spec)(**{**spec.__dict__, "n_train": 1000, "n_test": 200, "range": "minmax"})
    prepare("g", spec, root, preset=p, doc=d)
    return root


def _corrupt(root: Path, fn) -> Path:
    import shutil

    dst = root.parent / f"c{np.random.randint(1e9)}"
    shutil.copytree(root, dst)
    f = dst / "g" / "train.npz"
    d = dict(np.load(f))
    fn(d)
    np.savez(f, **d)
    return dst


def test_clean_dataset_passes_and_writes_report(prepared: Path, tmp_path: Path) -> None:
    rep = validate_dataset("g", ValidateConfig(), prepared, tmp_path / "r.json")
    assert rep["success"] and (tmp_path / "r.json").is_file()
    kinds = {r["expectation"] for r in rep["splits"]["train"]["results"]}
    assert {"expect_column_values_to_be_in_set", "expect_table_row_count_to_equal",
            "expect_column_values_to_be_between", "expect_table_row_count_to_be_between"} <= kinds


@pytest.mark.parametrize(
    "corruption, expected",
    [
        (lambda d: d["x"].__setitem__((3, 0), np.nan), "expect_column_values_to_be_in_set(finite): 1 bad rows"),
        (lambda d: d["y"].__setitem__(5, 9), "expect_column_values_to_be_in_set(label): 1 bad rows, e.g. [9]"),
        (lambda d: d["x"].__setitem__((7, 1), 3.5), "expect_column_values_to_be_between(max)"),
        # wrong ratio: relabel 50 of class 3 as class 0 (shares off by 5 points, row count unchanged)
        (lambda d: d["y"].__setitem__(np.flatnonzero(d["y"] == 3)[:50], 0), "where label==0"),
    ],
)
def test_corruptions_fail_naming_the_expectation(prepared: Path, tmp_path: Path, corruption, expected: str) -> None:
    root = _corrupt(prepared, corruption)
    with pytest.raises(DataQualityError) as e:
        validate_dataset("g", ValidateConfig(), root, tmp_path / "r.json")
    assert expected in str(e.value)
    assert not (tmp_path / "r.json").exists() and (tmp_path / "r.failed.json").exists()
