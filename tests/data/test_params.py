"""Every bad-params case is rejected before any work, with a message naming the key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ucgan import params as P
from ucgan.errors import ConfigError

BASE = {"data": {"datasets": ["gauss4"], "custom": {}}}


def _write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def _custom(spec: dict) -> dict:
    return {"data": {"datasets": ["x"], "custom": {"x": spec}}}


@pytest.mark.parametrize(
    "data, match",
    [
        ({"dataa": {}}, "unknown top-level key 'dataa'.*did you mean 'data'"),
        ({"data": {"datasets": ["nope"]}}, "unknown preset 'nope'"),
        ({"data": {"datasets": ["gauss4"], "root_dir": "x"}}, r"unknown key data\.root_dir"),
        (_custom({"source": "mnist5k", "classes": [0, 4], "ratio": [7, 0]}), r"data\.custom\.x\.ratio: ratios must be positive"),
        (_custom({"source": "mnist5k", "classes": [0, 4], "ratio": [7, -3]}), r"ratio: ratios must be positive"),
        (_custom({"source": "mnist5k", "classes": [0, 12]}), r"classes: unknown class \[12\]"),
        (_custom({"source": "mnist5k", "merges": [[0, 1], [1, 2]]}), r"merges: groups overlap: class\(es\) \[1\]"),
        (_custom({"source": "mnist5k", "classes": [0, 4], "ratio": [7, 3, 1]}), r"ratio: needs 2 values"),
        (_custom({"source": "mnist5k", "classes": [0, 4], "ratoi": [7, 3]}), r"unknown key data\.custom\.x\.ratoi.*did you mean 'ratio'"),
        (_custom({"source": "mnist5k", "test_fraction": 1.5}), r"test_fraction: must be in \(0, 1\)"),
        (_custom({"source": "webdataset"}), r"source: unknown source 'webdataset'"),
        (_custom({"preset": "ring8-1to3", "counts": [1, 2]}), r"counts: needs 8 values"),
        (_custom({"source": "mixture", "mixture": {"centers": [[0, 0]], "std": -1}, "n_train": 10, "n_test": 5}), r"mixture\.std: must be positive"),
        (_custom({"source": "mnist5k", "range": "0-1"}), r"range: '0-1' is not one of"),
        ({**BASE, "validate": {"share_tolerance": 2}}, r"validate\.share_tolerance"),
        ({**BASE, "tracking": {"enabled": "yes"}}, r"tracking\.enabled: expected true or false"),
    ],
)
def test_bad_params_are_rejected_naming_the_key(tmp_path: Path, data: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        P.load(_write(tmp_path, data))


def test_repository_params_file_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    prm = P.load(root / "params.yaml")
    assert prm.data.datasets


def test_missing_params_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        P.load(tmp_path / "nope.yaml")
