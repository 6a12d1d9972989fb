"""The import graph of the package: no cycle, and each layer imports only what is below it.

Layers, bottom to top: the leaves; data, nets, priors; methods and the run; the stages; the results
(registry, then report); the command line (``ucgan.cli``), which nothing imports and which alone
imports click.

Read from the source (every ``import`` statement, function-level ones included, by
``infra/stage_deps.py``'s reader), so the check costs no imports and sees the lazy imports that keep
start-up fast.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from stage_deps import import_graph, module_name

SRC = Path(__file__).resolve().parents[2] / "src"
PKG = SRC / "ucgan"

#: what the lowest layers may import from the package (besides their own package)
LEAVES = {"ucgan.errors", "ucgan.config", "ucgan.io", "ucgan.env", "ucgan.layout", "ucgan.numbers", "ucgan.preflight",
          "ucgan.gpu"}
#: modules (and packages, with everything in them) that write the report; the stages never import them
REPORT = {"ucgan.report", "ucgan.claims", "ucgan.sweeps", "ucgan.plotdata"}
#: the command line: the top layer, the only one that imports click, imported by nothing in the package
CLI = {"ucgan.cli"}
#: layer -> layers it must never reach, even through lazy imports: the cli is on top; the report sits
#: on the registry (its champion rule and alias); the registry and the stages reach neither
NEVER_REACHES = {
    "ucgan.stages": REPORT | CLI,
    "ucgan.registry": REPORT | CLI,
    "ucgan.report": CLI,
}


def _in(module: str, layers: set[str]) -> bool:
    """``module`` is one of ``layers`` or inside one of them (a package's submodules belong to it)."""
    return any(module == x or module.startswith(x + ".") for x in layers)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle() -> None:
    # a package's __init__ importing its own modules (the method registry) is not a cycle of layers
    graph = {m: {d for d in deps if not (d.startswith(m + ".") or m.startswith(d + "."))} for m, deps in import_graph().items()}
    assert _cycles(graph) == []


#: layer -> what it may import besides LEAVES and itself: data is the lowest, nets sit on data's DataInfo
BELOW = {"ucgan.data": set(), "ucgan.nets": {"ucgan.data.info"}, "ucgan.priors": set()}


@pytest.mark.parametrize("layer", sorted(BELOW))
def test_low_layers_import_nothing_above_them(layer: str) -> None:
    ok = LEAVES | BELOW[layer] | {"ucgan"}
    bad = {m: sorted(d for d in deps if not d.startswith(layer) and d not in ok)
           for m, deps in import_graph().items() if m == layer or m.startswith(layer + ".")}
    assert {m: d for m, d in bad.items() if d} == {}


def _reached(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` and its submodules import, transitively (``start`` included)."""
    seen: set[str] = set()
    todo = [m for m in graph if _in(m, {start})]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(graph.get(m, ()))
    return seen


def test_stages_import_no_report_code() -> None:
    assert sorted(m for m in _reached(import_graph(), "ucgan.stages") if _in(m, REPORT)) == []


@pytest.mark.parametrize("layer", sorted(NEVER_REACHES))
def test_layers_reach_nothing_above_them(layer: str) -> None:
    graph = import_graph()
    assert layer in graph, f"{layer} is gone: update NEVER_REACHES"
    assert sorted(m for m in _reached(graph, layer) if _in(m, NEVER_REACHES[layer])) == []


def test_nothing_below_the_cli_imports_it() -> None:
    bad = {m: sorted(d for d in deps if _in(d, CLI)) for m, deps in import_graph().items() if not _in(m, CLI)}
    assert {m: d for m, d in bad.items() if d} == {}


def test_only_the_cli_imports_click() -> None:
    users = set()
    for p in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            if any(n == "click" or n.startswith("click.") for n in names):
                users.add(module_name(p))
    assert users and sorted(m for m in users if not _in(m, CLI)) == []


@pytest.mark.parametrize("module", ["ucgan.cli", "ucgan.registry", "ucgan.report"])
def test_cli_and_result_packages_import_without_torch_or_mlflow(module: str) -> None:
    """``ucgan --help`` imports every command module: torch, mlflow and matplotlib load in the bodies."""
    heavy = ("torch", "mlflow", "matplotlib")
    code = f"import sys, {module}; assert not [m for m in {heavy!r} if m in sys.modules], sorted(sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=SRC)
    assert r.returncode == 0, r.stderr[-2000:]


@pytest.mark.parametrize("module", ["ucgan.layout", "ucgan.numbers", "ucgan.errors", "ucgan.claims", "ucgan.config"])
def test_leaf_modules_import_alone_without_torch(module: str) -> None:
    code = f"import sys, {module}; assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('ucgan'))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=SRC)
    assert r.returncode == 0, r.stderr
