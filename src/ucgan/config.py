"""Strict, typed configuration from ``params.yaml``.

Each stage declares its section as a frozen dataclass; :func:`from_mapping` builds it from the YAML
mapping and rejects unknown keys and wrongly typed values *before any work starts*, naming the full
key (``train.slogan.lr``) and what is allowed. Defaults live in the dataclasses, documentation of
each key lives in ``params.yaml`` next to the value.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import os
import types
import typing
from pathlib import Path
from typing import Any, Mapping, TypeVar

import yaml

from .errors import ConfigError

T = TypeVar("T")

DEFAULT_PARAMS = "params.yaml"


def read_yaml(path: str | os.PathLike[str], what: str, fix: str) -> Any:
    """A YAML file the user names; missing or malformed, it stops with ``"<what> <path> not found; <fix>"``
    or the parser's message, before any work."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} {p} not found; {fix}")
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p} is not valid YAML: {exc}") from exc


def load_params(path: str | os.PathLike[str] = DEFAULT_PARAMS) -> dict[str, Any]:
    """Read params.yaml; a missing or malformed file is a :class:`ConfigError` naming the file."""
    p = Path(path)
    data = read_yaml(p, "params file", "run from the repository root or pass --params PATH")
    if not isinstance(data, dict):
        raise ConfigError(f"{p} must be a mapping at top level, got {type(data).__name__}")
    return data


def _suggest(key: str, allowed: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_value(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _check_value(value, a, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
            return tuple(_check_value(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        inner = args[0] if args else Any
        out = [_check_value(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        kt, vt = args if args else (Any, Any)
        return {_check_value(k, kt, where): _check_value(v, vt, f"{where}.{k}") for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_mapping(tp, value, where)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):  # YAML reads .inf / .nan as floats; no setting means "infinite"
            raise ConfigError(f"{where}: expected a finite number, got {value!r}; write a finite value (use 0 where "
                              "the key documents 0 as 'off' or 'no limit')")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def from_mapping(cls: type[T], data: Mapping[str, Any] | None, where: str) -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and bad types raise :class:`ConfigError`.

    After construction the dataclass's ``validate()`` method (if any) runs, so range checks
    (positive ratios, known classes...) also happen before work starts.
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(
                f"unknown key {where}.{key}{_suggest(str(key), fields)}; allowed keys: {sorted(fields)}"
            )
        kwargs[key] = _check_value(value, hints[key], f"{where}.{key}")
    missing = [
        n for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {missing}")
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate(where)
    return obj


def to_dict(obj: Any) -> Any:
    """Dataclass -> plain dict (for logging to MLflow and writing resolved configs)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def require(cond: bool, where: str, message: str) -> None:
    """Raise :class:`ConfigError` ``"<where>: <message>"`` unless ``cond``."""
    if not cond:
        raise ConfigError(f"{where}: {message}")


def require_unique(ids: typing.Sequence[str], where: str, what: str) -> None:
    """Raise :class:`ConfigError` when an id of a data file (a claim, a paper table) is used twice."""
    dup = sorted({i for i in ids if ids.count(i) > 1})
    require(not dup, where, f"{what} id {dup[0] if dup else ''!r} is used twice")


def load_data_file(cls: type[T], path: str | os.PathLike[str], option: str) -> T:
    """A YAML data file the user names (the claims, the paper tables) as dataclass ``cls``. A missing
    file, bad YAML or a bad entry stops with the path, the key and the fix (``option``: the command
    line option that names the file, and that ``''`` skips it)."""
    flag = option.split()[-1]
    raw = read_yaml(path, "file", f"pass the right path (`{option} FILE`) or {flag} '' to skip it")
    return from_mapping(cls, raw, str(path))


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1} (MLflow params)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out
