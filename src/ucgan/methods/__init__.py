"""Registry of GAN methods: every module in this package registers its class by name.

A new method is one file here with a ``@register``-decorated :class:`~ucgan.methods.base.Method`
subclass; :func:`get_method` imports the package's modules on first use, so nothing else changes.
"""
from __future__ import annotations

import importlib
import pkgutil

from ..errors import ConfigError
from .base import DataInfo, Method, MethodConfig

_REGISTRY: dict[str, type[Method]] = {}
_LOADED = False


def register(cls: type[Method]) -> type[Method]:
    """Class decorator adding a method to the registry under ``cls.name``."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} must set a non-empty `name`")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise TypeError(f"method name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    for mod in pkgutil.iter_modules(__path__):
        if mod.name != "base" and not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")
    _LOADED = True


def available() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def get_method(name: str) -> type[Method]:
    """The method class registered as ``name``; unknown names list the available ones."""
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; available methods: {', '.join(available())}") from None


#: Separators between a paper method's name and a variant tag: ``slogan+moves``, ``scgan-kK``.
VARIANT_SEPARATORS = ("+", "-")


def base_method(name: str) -> str:
    """The registered method a run name refers to: ``name`` itself, or the method whose name
    prefixes a variant id (``slogan+moves`` -> ``slogan``). Variant ids are declared in params.yaml
    under ``methods.<method>.variants`` (:func:`ucgan.stages_params.resolve_method`); this only
    parses the id, so code that has a run's metrics but not its params still finds the class."""
    _load_all()
    if name in _REGISTRY:
        return name
    for base in sorted(_REGISTRY, key=len, reverse=True):
        if len(name) > len(base) + 1 and name.startswith(base) and name[len(base)] in VARIANT_SEPARATORS:
            return base
    raise ConfigError(f"unknown method {name!r}; available methods: {', '.join(available())} "
                      "(a variant id is <method>+<tag> or <method>-<tag>, declared under methods.<method>.variants)")


__all__ = ["DataInfo", "Method", "MethodConfig", "available", "base_method", "get_method", "register"]
