"""Write and check the source dependencies of the DVC stages (the ``src/`` entries of ``deps`` in dvc.yaml).

Why: DVC reruns a stage only when a declared dependency changes. A stage that does not declare the
code it runs keeps a stale result after that code changes; a stage that declares all of
``src/ucgan`` reruns (and retrains every GAN) after an unrelated edit. So each stage declares
exactly the modules its ``ucgan`` command can execute, computed here from the source.

The closure of a stage (read from the AST: no import, no torch, a fraction of a second):

* Entry: the click command its ``cmd`` runs (``ucgan pretrain --role eval ...`` -> ``pretrain``),
  found in ``src/ucgan/cli/*.py`` by its name. Followed from the entry: the cli module's
  module-level imports, the imports in the command function's body, and the bodies of the
  module-level functions of that cli module which the command calls (transitively). The other
  commands of the module are not followed: they do not run. The ``ucgan`` group
  (``cli/__init__.py``) and the other cli modules it registers are not followed either: they are
  click wiring (command names, exit codes) that changes no output, and following them would rerun
  every stage whenever a command is added anywhere.
* Then what those imports make runnable, transitively, one function at a time: importing a module
  runs its import-time code (module statements, class bodies with all their methods, decorators),
  and so do the enclosing packages (``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py``);
  ``from m import f`` of a top-level function also makes ``f`` runnable, with the top-level
  functions of ``m`` it names; taking a class, a constant or the whole module (``import m``,
  ``from pkg import m``) makes every function of ``m`` runnable; so does import-time code naming a
  function (``register_section("train", _check_train)``: the registry calls it later). A runnable
  function's imports are followed, lazy ones included (they run when it does). Why per function:
  ``stages.py`` holds ``train_one`` and ``evaluate_one``; only the second imports the evaluation
  suite, and train must not rerun when the suite changes.
* Dynamic forms: ``importlib.import_module("a.b")`` / ``__import__("a.b")`` with a constant name
  imports ``a.b`` whole; with a computed name (the method registry's ``pkgutil`` scan) every module
  of the calling module's package.
* A package ``__init__``'s ``__getattr__`` (PEP 562 lazy names) runs only when a name the package
  does not bind itself is asked for (``from ..encoders import load_encoder``) or the package is
  taken whole, not when a submodule is imported (``from ..encoders.config import ...``).

A folder dep (``src/ucgan/methods``) covers every file under it; a file dep covers that file.
``write`` replaces the ``src/`` deps of each stage with the smallest such list (a folder when the
closure holds all of its modules, else the files), keeping every other line and comment of
dvc.yaml; ``check`` fails when a module of a closure is not covered or a declared ``src/`` dep does
not exist, and notes (without failing) declared source that no closure needs.

Usage: ``python infra/stage_deps.py check`` | ``python infra/stage_deps.py write`` |
``python infra/stage_deps.py show`` (each stage's closure).
"""
from __future__ import annotations

import ast
import dataclasses
import functools
import re
import shlex
import sys
from pathlib import Path
from typing import Any, Iterable

import yaml

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PKG = SRC / "ucgan"
CLI = PKG / "cli"
DVC_YAML = ROOT / "dvc.yaml"
#: click (>= 8.2) names a command after its function without these suffixes, underscores as dashes
_CLICK_SUFFIXES = ("_command", "_cmd", "_group", "_grp")


def module_name(path: Path) -> str:
    """``src/ucgan/data/build.py`` -> ``ucgan.data.build``; a package's ``__init__.py`` -> the package."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.lru_cache(maxsize=None)
def modules() -> dict[str, Path]:
    """Every module of the package -> its file."""
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _package_of(name: str) -> str:
    """The package a module's relative imports start from (a package is its own)."""
    return name if modules()[name].name == "__init__.py" else name.rsplit(".", 1)[0]


@dataclasses.dataclass(frozen=True)
class Import:
    """One import of a module: what it loads, where it sits, and which names it takes."""

    target: str                 # the module loaded (inside ucgan); for ``from X import n``, X.n if that is a module
    names: tuple[str, ...]      # names taken by ``from X import ...`` that are not modules
    whole: bool                 # ``import X``, ``from pkg import X``, import_module: any attribute of X may be used
    owner: str | None           # the top-level function it sits in; None: it runs when the module is imported
    line: int


def _import_of_call(node: ast.Call, name: str) -> list[str] | None:
    """Modules an ``importlib.import_module(...)``/``__import__(...)`` call may load; None if not such a call."""
    f = node.func
    if not ((isinstance(f, ast.Attribute) and f.attr == "import_module") or (isinstance(f, ast.Name) and f.id == "__import__")):
        return None
    arg = node.args[0] if node.args else None
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    pkg = _package_of(name)  # computed name: any module of the caller's package (e.g. the method registry)
    return [m for m in modules() if m.startswith(pkg + ".")]


@functools.lru_cache(maxsize=None)
def _tree(name: str) -> ast.Module:
    return ast.parse(modules()[name].read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def imports(name: str) -> tuple[Import, ...]:
    """Every import in module ``name`` that loads a ``ucgan`` module, function-level ones included."""
    mods, pkg = modules(), _package_of(name)
    out: list[Import] = []

    def visit(node: ast.AST, owner: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if node is tree and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else owner
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - (child.level - 1)]
                    mod = ".".join(base + ([child.module] if child.module else []))
                else:
                    mod = child.module or ""
                subs = [f"{mod}.{a.name}" for a in child.names if f"{mod}.{a.name}" in mods]
                attrs = tuple(a.name for a in child.names if f"{mod}.{a.name}" not in mods)
                out.extend(Import(t, (), True, owner, child.lineno) for t in subs)
                if attrs or not subs:
                    out.append(Import(mod, attrs, "*" in attrs, owner, child.lineno))
            elif isinstance(child, ast.Import):
                out.extend(Import(a.name, (), True, owner, child.lineno) for a in child.names)
            elif isinstance(child, ast.Call):
                found = _import_of_call(child, name)
                if found is not None:
                    out.extend(Import(t, (), True, owner, child.lineno) for t in found)
            visit(child, inner)

    tree = _tree(name)
    visit(tree, None)
    return tuple(i for i in out if i.target.startswith("ucgan") and i.target != name and i.target in mods)


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules it imports anywhere (function bodies included), as written in the source.

    The plain module graph (no enclosing packages, no function granularity), for the layering checks.
    """
    return {m: {i.target for i in imports(m)} for m in modules()}


@functools.lru_cache(maxsize=None)
def _functions(name: str) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """The top-level functions of a module."""
    return {n.name: n for n in _tree(name).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _names_in(nodes: Iterable[ast.AST], among: Iterable[str]) -> frozenset[str]:
    wanted = set(among)
    return frozenset(n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in wanted)


@functools.lru_cache(maxsize=None)
def _calls(name: str, fn: str) -> frozenset[str]:
    """The top-level functions of the module that the body of its function ``fn`` names."""
    return _names_in([_functions(name)[fn]], _functions(name))


@functools.lru_cache(maxsize=None)
def _roots(name: str) -> frozenset[str]:
    """Top-level functions named by code that runs at import (module statements, class bodies, decorators,
    defaults): any of them may be called later (``register_section("train", _check_train)``)."""
    parts: list[ast.AST] = []
    for node in _tree(name).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            parts += [*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
        else:
            parts.append(node)
    return _names_in(parts, _functions(name))


@functools.lru_cache(maxsize=None)
def _top_level_names(name: str) -> frozenset[str]:
    """Names a module binds at module level (its own attributes, which need no ``__getattr__``)."""
    out: set[str] = set()
    for node in _tree(name).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            out |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return frozenset(out)


#: a unit of code: (module, None) = what runs when the module is imported; (module, f) = its function f
Unit = tuple[str, "str | None"]


def _units(imp: Import) -> list[Unit]:
    """What one import makes runnable: the target's import-time code, and the functions it hands out —
    the one taken by name, or every one when the whole module is taken or a name it lacks is asked of
    its PEP 562 ``__getattr__``."""
    mod, funcs = imp.target, _functions(imp.target)
    if imp.whole:
        return [(mod, None)] + [(mod, f) for f in funcs]
    out: list[Unit] = [(mod, None)]
    for n in imp.names:
        if n in funcs:
            out.append((mod, n))
        elif n not in _top_level_names(mod) and "__getattr__" in funcs:
            out.append((mod, "__getattr__"))
    return out


def closure_from(seeds: Iterable[Import], skip: Iterable[str] = ()) -> set[str]:
    """Every module the given imports can run, transitively (see the module docstring for the rule);
    ``skip``: modules taken as already run, neither included nor followed."""
    seen: set[Unit] = set()
    skipped = set(skip)
    todo = [u for imp in seeds for u in _units(imp)]
    while todo:
        unit = todo.pop()
        mod, fn = unit
        if unit in seen or mod in skipped:
            continue
        seen.add(unit)
        if fn is None:  # importing a.b.c runs a and a.b first; import-time code may hand out its roots
            parts = mod.split(".")
            todo += [(".".join(parts[:k]), None) for k in range(1, len(parts)) if ".".join(parts[:k]) in modules()]
            todo += [(mod, f) for f in _roots(mod)]
        else:
            todo += [(mod, None)] + [(mod, f) for f in _calls(mod, fn)]
        todo += [u for imp in imports(mod) if imp.owner == fn for u in _units(imp)]
    return {mod for mod, _ in seen}


# ------------------------------------------------------------------------------- commands and stages
def _command_name(fn: ast.FunctionDef) -> str | None:
    """The click command name of a function decorated with ``@click.command(...)``; None if it is not one."""
    for d in fn.decorator_list:
        if isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "command":
            if d.args and isinstance(d.args[0], ast.Constant) and isinstance(d.args[0].value, str):
                return d.args[0].value
            base = fn.name
            for suffix in _CLICK_SUFFIXES:
                if base.endswith(suffix):
                    base = base[: -len(suffix)]
                    break
            return base.replace("_", "-")
    return None


@functools.lru_cache(maxsize=None)
def commands() -> dict[str, tuple[str, str]]:
    """``ucgan`` command name -> (cli module, function name)."""
    out: dict[str, tuple[str, str]] = {}
    for p in sorted(CLI.glob("*.py")):
        for node in ast.parse(p.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and (cmd := _command_name(node)) is not None:
                out[cmd] = (module_name(p), node.name)
    return out


def command_closure(command: str) -> set[str]:
    """The modules ``ucgan <command>`` can execute: its cli module and the closure of its entry imports."""
    if command not in commands():
        raise KeyError(f"no click command {command!r} in {CLI.relative_to(ROOT)}; known: {sorted(commands())}")
    mod, fn = commands()[command]
    run, todo = set(), [fn]  # the command and the top-level functions of its module that it names
    while todo:
        f = todo.pop()
        if f not in run:
            run.add(f)
            todo.extend(_calls(mod, f))
    seeds = [i for i in imports(mod) if i.owner is None or i.owner in run]
    return {mod} | closure_from(seeds, skip={module_name(CLI / "__init__.py")})


def _stages() -> dict[str, dict[str, Any]]:
    """dvc.yaml's stages (a foreach stage's body is its ``do``)."""
    stages = yaml.safe_load(DVC_YAML.read_text(encoding="utf-8"))["stages"]
    return {name: (s["do"] if "do" in s else s) for name, s in stages.items()}


def stage_command(stage: dict[str, Any]) -> str:
    """``ucgan pretrain --role eval --dataset ${item}`` -> ``pretrain``."""
    words = shlex.split(stage["cmd"])
    if words[:1] != ["ucgan"]:
        raise ValueError(f"stage command {stage['cmd']!r} is not a `ucgan` command")
    return next(w for w in words[1:] if not w.startswith("-"))


def declared_src(stage: dict[str, Any]) -> list[str]:
    """The ``src/`` deps a stage declares."""
    deps = [d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])]
    return [d.rstrip("/") for d in deps if d.startswith("src/")]


def _rel(module: str) -> str:
    return modules()[module].relative_to(ROOT).as_posix()


def closures() -> dict[str, set[str]]:
    """Stage name -> the modules its command can execute."""
    return {name: command_closure(stage_command(s)) for name, s in _stages().items()}


def minimal_deps(closure: set[str]) -> list[str]:
    """The fewest deps covering exactly the closure's files: a package folder when every file under
    it is in the closure (never ``src/ucgan`` itself), else the files."""
    files = {_rel(m) for m in closure}
    everything = {p.relative_to(ROOT).as_posix() for p in PKG.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    folders = sorted({p.parent.relative_to(ROOT).as_posix() for p in PKG.rglob("*.py")} - {PKG.relative_to(ROOT).as_posix()},
                     key=len)
    out: list[str] = []
    for folder in folders:
        inside = {f for f in everything if f.startswith(folder + "/")}
        if inside <= files and not any(f.startswith(o + "/") for o in out for f in inside):
            out.append(folder)
    return sorted(out + [f for f in files if not any(f.startswith(o + "/") for o in out)])


def _covered(path: str, deps: Iterable[str]) -> bool:
    return any(path == d or path.startswith(d + "/") for d in deps)


def problems() -> tuple[list[str], list[str]]:
    """(failures, notes): closure modules no dep covers and declared deps that do not exist; declared
    source that no module of the closure needs."""
    bad: list[str] = []
    notes: list[str] = []
    stages = _stages()
    for name, closure in closures().items():
        deps = declared_src(stages[name])
        for d in deps:
            if not (ROOT / d).exists():
                bad.append(f"{name}: declared dep {d} does not exist")
        missing = sorted(_rel(m) for m in closure if not _covered(_rel(m), deps))
        if missing:
            bad.append(f"{name}: `{stages[name]['cmd']}` runs {', '.join(missing)}, which no dep covers "
                       "(run `python infra/stage_deps.py write`)")
        extra = [d for d in deps if not any(_covered(_rel(m), [d]) for m in closure)]
        if extra:
            notes.append(f"{name}: declares {', '.join(extra)}, which its command does not run")
    return bad, notes


# ------------------------------------------------------------------------------------------ write
_STAGE = re.compile(r"^  ([A-Za-z0-9_-]+):")
_KEY = re.compile(r"^(\s*)([A-Za-z_]+):\s*(#.*)?$")
_ITEM = re.compile(r"^(\s*)- (\S+?)(\s+#.*)?$")


def rewrite(text: str, wanted: dict[str, list[str]]) -> str:
    """dvc.yaml ``text`` with each stage's ``src/`` deps replaced by ``wanted[stage]``, in place of the
    first one (else after the other deps); every other line, and the comment of a kept dep, stays."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    stage: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("stages:"):
            stage = None
        m = _STAGE.match(line)
        if m and not line.startswith("   "):
            stage = m.group(1)
        k = _KEY.match(line)
        if stage in wanted and k and k.group(2) == "deps":
            out.append(line)
            i += 1
            items: list[tuple[str, str, str]] = []  # (indent, path, comment) of every item
            while i < len(lines) and (it := _ITEM.match(lines[i].rstrip("\n"))) and len(it.group(1)) > len(k.group(1)):
                items.append((it.group(1), it.group(2), it.group(3) or ""))
                i += 1
            indent = items[0][0] if items else k.group(1) + "  "
            comments = {p.rstrip("/"): c for _, p, c in items if p.startswith("src/")}
            new = [(indent, p, comments.get(p, "")) for p in wanted[stage]]
            first = next((n for n, (_, p, _) in enumerate(items) if p.startswith("src/")), len(items))
            kept = [x for x in items if not x[1].startswith("src/")]
            before = [x for x in items[:first] if not x[1].startswith("src/")]
            for ind, p, c in before + new + kept[len(before):]:
                out.append(f"{ind}- {p}{c}\n")
            continue
        out.append(line)
        i += 1
    return "".join(out)


def write() -> int:
    wanted = {name: minimal_deps(c) for name, c in closures().items()}
    DVC_YAML.write_text(rewrite(DVC_YAML.read_text(encoding="utf-8"), wanted), encoding="utf-8")
    for name, deps in wanted.items():
        print(f"{name}: {len(deps)} src deps")
    return 0


def show() -> int:
    for name, c in closures().items():
        print(f"{name} ({len(c)} modules): {' '.join(sorted(c))}")
    return 0


def check() -> int:
    bad, notes = problems()
    for n in notes:
        print("stage deps note:", n)
    for b in bad:
        print("stage deps:", b, file=sys.stderr)
    if not bad:
        print(f"stage deps: every stage of {DVC_YAML.name} declares the source its command runs")
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    actions = {"check": check, "write": write, "show": show}
    cmd = argv[1] if len(argv) > 1 else "check"
    if cmd not in actions:
        raise SystemExit(f"usage: {argv[0]} {'|'.join(actions)}")
    return actions[cmd]()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
