"""Doc check: every command the READMEs show names things that exist.

Commands are taken from fenced blocks and inline code of README.md and infra/README.md. Without
running anything heavy it checks: ``ucgan`` sub-commands and every ``--option`` they use (click's
own help), ``make`` targets, scripts under ``python``, repository paths, ``dvc`` / ``prefect``
options (their ``--help``), and the compose profile / env file that ``docker compose`` lines use.
``prefect deploy`` must be non-interactive (``--no-prompt``).
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DOCS = [ROOT / "README.md", ROOT / "infra" / "README.md"]
#: Paths that are pipeline outputs or examples, not files of the repository.
#: Options that work but that the tool's --help hides (verified: `dvc plots show --json` prints the specs).
HIDDEN_OPTIONS = {("dvc", ("plots", "show")): {"--json"}}
NOT_IN_REPO = ("models/", "metrics/", "reports/", "data/", "checkpoints/", "mlruns/", "fake/", "real/", "/srv/",
               "infra/.env", "registry.example.org", "c3.png", "grid.png")


def _commands() -> list[tuple[str, str]]:
    out = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", text, flags=re.S)
        lines = [ln for b in blocks for ln in b.splitlines()]
        inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
        for raw in lines + inline:
            cmd = raw.split("  #")[0].split(" # ")[0].strip()
            for part in re.split(r"\s*(?:&&|\|\||;)\s*", cmd):
                part = part.strip().rstrip("\\").strip()
                words = part.split()
                while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):  # VAR=value prefixes
                    words = words[1:]
                if words and words[0].startswith(".venv/bin/"):
                    words[0] = words[0][len(".venv/bin/"):]
                if words and words[0] in ("ucgan", "make", "dvc", "prefect", "python", "docker"):
                    out.append((doc.name, " ".join(words)))
    return sorted(set(out))


COMMANDS = _commands()


def _split(cmd: str) -> list[str]:
    try:
        return shlex.split(cmd)
    except ValueError:
        return cmd.split()


def test_found_the_documented_commands() -> None:
    firsts = {c.split()[0] for _, c in COMMANDS}
    assert {"ucgan", "make", "dvc", "prefect", "docker"} <= firsts, firsts


@lru_cache(maxsize=None)
def _ucgan_help(path: tuple[str, ...]) -> str:
    from click.testing import CliRunner

    from ucgan.cli import main

    r = CliRunner().invoke(main, [*path, "--help"])
    assert r.exit_code == 0, f"`ucgan {' '.join(path)} --help` failed: {r.output}"
    return r.output


@pytest.mark.parametrize("doc,cmd", [c for c in COMMANDS if c[1].startswith("ucgan ")])
def test_ucgan_commands_and_options_exist(doc: str, cmd: str) -> None:
    words = [w for w in _split(cmd)[1:] if w not in ("...",)]
    if any(w.startswith("<") for w in words[:1]):
        pytest.skip("a placeholder, not a command")
    path: list[str] = []
    for w in words:  # sub-command path: leading words that are commands of the group
        if w.startswith("-") or not re.match(r"^[a-z][a-z-]*$", w):
            break
        if f"  {w} " not in _ucgan_help(tuple(path)) and f"  {w}\n" not in _ucgan_help(tuple(path)):
            break
        path.append(w)
    assert path or words[:1] == ["--help"], f"{doc}: `{cmd}` names no ucgan command"
    helptext = _ucgan_help(tuple(path))
    for opt in (w.split("=")[0] for w in words if w.startswith("--")):
        assert opt in helptext, f"{doc}: `{cmd}` uses {opt}, which `ucgan {' '.join(path)}` does not have"


@pytest.mark.parametrize("doc,cmd", [c for c in COMMANDS if c[1].startswith("make ")])
def test_make_targets_exist(doc: str, cmd: str) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in [w for w in _split(cmd)[1:] if not w.startswith("-") and "=" not in w]:
        assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.M), f"{doc}: no make target {target}"


@pytest.mark.parametrize("doc,cmd", [c for c in COMMANDS if c[1].startswith("python ")])
def test_python_scripts_exist_and_take_their_options(doc: str, cmd: str) -> None:
    words = _split(cmd)
    script = ROOT / words[1]
    assert script.is_file(), f"{doc}: `{cmd}`: {words[1]} does not exist"
    src = script.read_text(encoding="utf-8")
    for opt in (w.split("=")[0] for w in words[2:] if w.startswith("--")):
        assert f'"{opt}"' in src, f"{doc}: `{cmd}`: {words[1]} has no option {opt}"


@lru_cache(maxsize=None)
def _tool_help(tool: str, sub: tuple[str, ...]) -> str:
    r = subprocess.run([str(BIN / tool), *sub, "--help"], capture_output=True, text=True, timeout=120,
                       env={"PATH": str(BIN), "DVC_NO_ANALYTICS": "1", "DO_NOT_TRACK": "1", "COLUMNS": "200",
                            "HOME": str(ROOT / ".prefect"), "PREFECT_HOME": str(ROOT / ".prefect")})
    return r.stdout + r.stderr


def _tool_cases(tool: str, depth: int) -> list[tuple[str, str]]:
    return [c for c in COMMANDS if c[1].startswith(tool + " ")]


@pytest.mark.parametrize("doc,cmd", _tool_cases("dvc", 2) + _tool_cases("prefect", 3))
def test_dvc_and_prefect_options_exist(doc: str, cmd: str) -> None:
    words = _split(cmd)
    tool = words[0]
    if not (BIN / tool).is_file():
        pytest.skip(f"{tool} not installed here")
    globals_ = [w for w in words[1:] if w == "--no-prompt"]
    rest = [w for w in words[1:] if w != "--no-prompt"]
    sub = tuple(w for w in rest[:3] if re.match(r"^[a-z][a-z-]*$", w))
    # the sub-command path is as deep as the tool accepts (dvc exp run, prefect work-pool create, ...)
    while sub and "Usage" not in _tool_help(tool, sub) and "usage" not in _tool_help(tool, sub):
        sub = sub[:-1]
    helptext = _tool_help(tool, sub)
    for opt in (w.split("=")[0] for w in rest if w.startswith("-") and len(w) > 1 and not w.startswith("-S=")):
        if (opt in ("-S",) and "--set-param" in helptext) or opt in HIDDEN_OPTIONS.get((tool, sub), set()):
            continue
        assert opt in helptext, f"{doc}: `{cmd}` uses {opt}, not in `{tool} {' '.join(sub)} --help`"
    if tool == "prefect" and "deploy" in sub:
        assert globals_, f"{doc}: `{cmd}` would stop at an interactive prompt: use `prefect --no-prompt deploy`"


@pytest.mark.parametrize("doc,cmd", [c for c in COMMANDS if c[1].startswith("docker compose")])
def test_compose_lines_use_real_profiles_and_files(doc: str, cmd: str) -> None:
    words = _split(cmd)
    compose = yaml.safe_load((ROOT / "infra" / "compose.yaml").read_text(encoding="utf-8"))
    profiles = {p for svc in compose["services"].values() for p in svc.get("profiles", [])}
    for i, w in enumerate(words):
        if w == "--profile":
            assert words[i + 1] in profiles, f"{doc}: `{cmd}`: no service has profile {words[i + 1]}"
        if w == "-f":
            assert (ROOT / words[i + 1]).is_file()
        if w == "--env-file":
            assert (ROOT / (words[i + 1] + ".example")).is_file(), f"{doc}: {words[i + 1]}.example missing"
    if " up" in cmd and "mlflow" in " ".join(compose["services"]):
        assert "--env-file" in words or "infra/.env" in cmd, f"{doc}: `{cmd}` fails without infra/.env"


def test_paths_named_in_readmes_exist() -> None:
    missing = []
    for doc in DOCS:
        for p in re.findall(r"`((?:infra|pipelines|src|benchmarks|profiles|tests|\.dvc)/[^`\s*<>]+)`",
                            doc.read_text(encoding="utf-8")):
            p = p.rstrip(".,:)")
            if any(x in p for x in NOT_IN_REPO):
                continue
            if not (ROOT / p).exists():
                missing.append(f"{doc.name}: {p}")
    assert not missing, missing
