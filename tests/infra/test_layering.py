"""The import graph of the package: no cycle, and each layer imports only what is below it.

Read from the source (every ``import`` statement, function-level ones included), so the check costs
no imports and sees the lazy imports that keep start-up fast.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PKG = SRC / "ucgan"

#: what the lowest layers may import from the package (besides their own package)
LEAVES = {"ucgan.errors", "ucgan.config", "ucgan.io", "ucgan.env", "ucgan.layout", "ucgan.numbers", "ucgan.preflight",
          "ucgan.gpu"}
#: modules that write the report; the stages never import them
REPORT = {"ucgan.report", "ucgan.claims", "ucgan.sweeps", "ucgan.plotdata"}


def _module(p: Path) -> str:
    parts = list(p.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    mods = {_module(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, p in mods.items():
        pkg = name if p.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)] if node.level else []
                mod = ".".join(base + ([node.module] if node.module else [])) if node.level else (node.module or "")
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            deps |= {t for t in targets if t.startswith("ucgan") and t != name}
        graph[name] = {d for d in deps if d in mods}
    return graph


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
    graph = {m: {d for d in deps if not (d.startswith(m + ".") or m.startswith(d + "."))} for m, deps in _graph().items()}
    assert _cycles(graph) == []


#: layer -> what it may import besides LEAVES and itself: data is the lowest, nets sit on data's DataInfo
BELOW = {"ucgan.data": set(), "ucgan.nets": {"ucgan.data.info"}, "ucgan.priors": set()}


@pytest.mark.parametrize("layer", sorted(BELOW))
def test_low_layers_import_nothing_above_them(layer: str) -> None:
    ok = LEAVES | BELOW[layer] | {"ucgan"}
    bad = {m: sorted(d for d in deps if not d.startswith(layer) and d not in ok)
           for m, deps in _graph().items() if m == layer or m.startswith(layer + ".")}
    assert {m: d for m, d in bad.items() if d} == {}


def test_stages_import_no_report_code() -> None:
    graph = _graph()
    seen, todo = set(), ["ucgan.stages"]
    while todo:  # everything the stage module reaches, transitively
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(graph.get(m, ()))
    assert sorted(seen & REPORT) == []


@pytest.mark.parametrize("module", ["ucgan.layout", "ucgan.numbers", "ucgan.errors", "ucgan.claims", "ucgan.config"])
def test_leaf_modules_import_alone_without_torch(module: str) -> None:
    code = f"import sys, {module}; assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('ucgan'))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=SRC)
    assert r.returncode == 0, r.stderr
