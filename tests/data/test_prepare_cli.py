"""`ucgan prepare` / `ucgan validate` end to end, and atomicity of a failed prepare."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ucgan import io as uio
from ucgan.cli import main


def _params(tmp_path: Path, datasets: list[str], custom: dict | None = None) -> Path:
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump({"data": {"root": str(tmp_path / "prep"), "datasets": datasets, "custom": custom or {}},
                                 "tracking": {"enabled": False}}))
    return p


def test_prepare_and_validate_commands(tmp_path: Path) -> None:
    p = _params(tmp_path, ["small"], {"small": {"preset": "ring8-1to3", "counts": [50] * 4 + [150] * 4,
                                                "test_counts": [10] * 4 + [30] * 4}})
    r = CliRunner().invoke(main, ["prepare", "--params", str(p)])
    assert r.exit_code == 0, r.output
    assert "train 800" in r.output and (tmp_path / "prep/small/manifest.json").is_file()
    r = CliRunner().invoke(main, ["validate", "--params", str(p), "--out", str(tmp_path / "val")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "val/small.json").is_file()


def test_user_error_is_one_clean_line(tmp_path: Path) -> None:
    p = _params(tmp_path, ["gauss4"], {"gauss4x": {"preset": "gauss4", "n_trian": 3}})
    r = CliRunner().invoke(main, ["prepare", "--params", str(p)])
    assert r.exit_code == 2
    assert "unknown key data.custom.gauss4x.n_trian" in r.output and "Traceback" not in r.output


def test_failed_prepare_leaves_no_partial_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _params(tmp_path, ["gauss4"])
    assert CliRunner().invoke(main, ["prepare", "--params", str(p)]).exit_code == 0
    good = (tmp_path / "prep/gauss4/train.npz").read_bytes()
    real = uio.save_npz

    def boom(path, **arrays):  # the second file of the new dataset fails half-way
        if str(path).endswith("test.npz"):
            raise OSError("disk full")
        real(path, **arrays)

    monkeypatch.setattr("ucgan.data.build.save_npz", boom)
    r = CliRunner().invoke(main, ["prepare", "--params", str(p)])
    assert r.exit_code != 0
    # the previous complete dataset is untouched and no temporary folders are left behind
    assert (tmp_path / "prep/gauss4/train.npz").read_bytes() == good
    assert sorted(x.name for x in (tmp_path / "prep").iterdir()) == ["gauss4"]
    monkeypatch.setattr("ucgan.data.build.save_npz", boom)
    r = CliRunner().invoke(main, ["prepare", "--params", str(p), "--root", str(tmp_path / "fresh")])
    assert r.exit_code != 0 and not (tmp_path / "fresh/gauss4").exists()


def test_atomic_write_json_keeps_old_file_on_error(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    uio.write_json(f, {"a": 1})
    with pytest.raises(TypeError):
        uio.write_json(f, {"a": object()})
    assert uio.read_json(f) == {"a": 1} and len(list(tmp_path.iterdir())) == 1
