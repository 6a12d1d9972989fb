"""`ucgan sample --per-component N --out DIR` writes the folder layout `ucgan fid --per-class` reads."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ucgan.cli.metrics import fid_command
from ucgan.errors import UcganError
from ucgan.export import export_per_component
from ucgan.metrics import folders


class _ImageGen(torch.nn.Module):
    """A stand-in generator: component c gives gray images of brightness c (in [-1, 1])."""

    name = "stub"
    num_components = 3

    def __init__(self) -> None:
        super().__init__()
        self.info = SimpleNamespace(modality="image", value_range=(-1.0, 1.0), dataset="toy")
        self.device = torch.device("cpu")

    def sample(self, n, component=None, generator=None):
        noise = torch.rand(n, 1, 6, 6, generator=generator) * 0.1
        return (-0.9 + 0.8 * component + noise).clamp(-1, 1)

    def mixing(self):
        return np.array([0.2, 0.3, 0.5])


def test_export_writes_one_folder_per_component_and_fid_reads_it(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "fake"
    dirs = export_per_component(_ImageGen(), None, 5, out, seed=1, meta={"method": "stub"})
    assert [d.name for d in dirs] == ["component_00", "component_01", "component_02"]
    assert all(len(list(d.glob("*.png"))) == 5 for d in dirs)
    means = [np.asarray(Image.open(d / "000000.png")).mean() for d in dirs]
    assert means[0] < means[1] < means[2]
    rec = json.loads((out / "export.json").read_text())
    assert rec["mixing_learned"] == [0.2, 0.3, 0.5] and rec["per_component"] == 5 and rec["method"] == "stub"
    # same seed, same files
    again = tmp_path / "again"
    export_per_component(_ImageGen(), None, 5, again, seed=1)
    assert (again / "component_01" / "000003.png").read_bytes() == (out / "component_01" / "000003.png").read_bytes()
    with pytest.raises(UcganError, match="not empty"):
        export_per_component(_ImageGen(), None, 5, out)

    # `ucgan fid --per-class` consumes it (features stubbed: brightness of each image)
    def feats(path, e, b, d):
        files = folders.image_files(path)
        return np.array([[np.asarray(Image.open(p)).mean(), np.asarray(Image.open(p)).std()] for p in files])

    monkeypatch.setattr(folders, "folder_features", feats)
    monkeypatch.setattr("ucgan.metrics.extractors.load_inception", lambda device="cpu": None)
    real = tmp_path / "real"
    export_per_component(_ImageGen(), None, 6, real, seed=7)
    res = CliRunner().invoke(fid_command, [str(real), str(out), "--per-class", "--device", "cpu", "--kid-subsets", "3"])
    assert res.exit_code == 0, res.output
    assert "component_00 -> component_00" in res.output and "KID" in res.output


def test_export_rejects_bad_counts(tmp_path: Path) -> None:
    with pytest.raises(UcganError, match="at least 1"):
        export_per_component(_ImageGen(), None, 0, tmp_path / "x")


def test_sample_command_per_component(tmp_path: Path, monkeypatch) -> None:
    from ucgan import registry as R
    from ucgan.cli.registry import sample_command

    monkeypatch.setattr(R, "load_generator", lambda ref, dev, cfg: (_ImageGen(), None, {"method": "stub", "seed": 0,
                                                                                        "dataset": "toy"}))
    out = tmp_path / "samples"
    res = CliRunner().invoke(sample_command, ["--model", "models/toy/stub-s0", "--per-component", "4", "--out", str(out),
                                              "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["component_00", "component_01", "component_02", "export.json"]
    assert "ucgan fid REAL_DIR" in res.output
    bad = CliRunner().invoke(sample_command, ["--model", "m", "--per-component", "4", "--component", "1", "--out",
                                              str(tmp_path / "o2"), "--device", "cpu"])
    assert bad.exit_code != 0
