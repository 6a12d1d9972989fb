"""The committed lock files match pyproject.toml (offline: fingerprint + every declared pin allowed),
and this environment was installed from them (the versions `make install` put here are the pins)."""
from __future__ import annotations

import importlib.metadata as md
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _lock():
    spec = importlib.util.spec_from_file_location("ucgan_lock_tool", ROOT / "infra" / "lock.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_locks_match_pyproject():
    assert _lock().problems() == []


def test_torch_stays_pinned():
    pins = _lock().pins(ROOT / "requirements.lock")
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"


def test_fingerprint_catches_an_edited_dependency(monkeypatch):
    lock = _lock()
    before = lock.fingerprint()
    orig = lock.declared
    monkeypatch.setattr(lock, "declared", lambda: (orig()[0] + ["ucgan-no-such-package>=1"], orig()[1]))
    assert lock.fingerprint() != before
    probs = lock.problems()
    assert any("make lock" in p and "fingerprint" in p for p in probs) and any("ucgan-no-such-package" in p for p in probs)


def test_environment_installed_from_the_lock():
    lock = _lock()
    pins = lock.pins(ROOT / "requirements.lock")
    wrong = []
    for name in ("torch", "prefect", "fastapi", "sqlalchemy", "dvc", "mlflow", "numpy", "scipy", "pandas"):
        try:
            have = md.version(name)
        except md.PackageNotFoundError:
            pytest.skip(f"{name} not installed: not a `make install` environment")
        if have.split("+")[0] != pins[name]:
            wrong.append(f"{name} {have} != lock {pins[name]}")
    assert not wrong, "environment differs from requirements.lock (run `make install`): " + "; ".join(wrong)
