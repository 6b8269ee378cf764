"""Architecture names -> module builders.

A checkpoint's model card names its architecture and config; the loader builds the module
from here and checks the weight file's tensor names and shapes against it before loading.
Each net module registers its builders with `@register("name")`.
"""

from __future__ import annotations

import importlib
from typing import Callable

_BUILDERS: dict[str, Callable] = {}
# Modules that register architectures; imported on first lookup so that importing the
# registry stays cheap (no torch work at start-up).
_NET_MODULES: list[str] = []


def register(name: str):
    def wrap(builder: Callable) -> Callable:
        _BUILDERS[name] = builder
        return builder

    return wrap


def add_module(module_name: str) -> None:
    if module_name not in _NET_MODULES:
        _NET_MODULES.append(module_name)


def _load_all() -> None:
    for m in _NET_MODULES:
        importlib.import_module(m)


def names() -> list[str]:
    _load_all()
    return sorted(_BUILDERS)


def build(name: str, config: dict | None = None):
    """Build an untrained module of the named architecture (KeyError if unknown)."""
    _load_all()
    if name not in _BUILDERS:
        raise KeyError(name)
    return _BUILDERS[name](**(config or {}))
