"""Built engines, shared by a CLI batch and the GUI: one live engine per tool.

An engine is built for (tool, model, device), which is all that loads weights; per-run
choices are options handed to `run`, so changing them never reaches this cache. Asking for
another model or device of a tool frees the old engine first: two copies of a network never
sit in memory at once.
"""

from __future__ import annotations

import gc
import threading
from typing import Callable

from studio import catalogue

Key = tuple[str, "str | None", str]  # tool, model (None = the tool's default), device name


def build_engine(tool: str, model: str | None, device: str):
    """Load one engine (imports torch): the seam tests replace with small stand-ins."""
    from studio.devices import pick_device

    t = catalogue.tool(tool)
    return t.engine_class()(model or t.model, pick_device(device))


def _free_memory() -> None:
    gc.collect()
    import sys

    torch = sys.modules.get("torch")  # only when something loaded it
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class ModelCache:
    def __init__(self, build: Callable[[str, str | None, str], object] | None = None):
        self._build = build
        self._live: dict[str, tuple[Key, object]] = {}
        self._lock = threading.Lock()  # engines load on the GUI's worker; clear() comes from the UI thread
        self.loads = 0  # engines built so far (what tests and `studio bench` count)

    def engine(self, tool: str, model: str | None = None, device: str = "auto"):
        key = (tool, model, device)
        with self._lock:
            live = self._live.get(tool)
            if live is not None and live[0] == key:
                return live[1]
            dropped = self._live.pop(tool, None)
        if dropped is not None:
            del dropped, live
            _free_memory()
        engine = (self._build or build_engine)(tool, model, device)
        with self._lock:
            self._live[tool] = (key, engine)
            self.loads += 1
        return engine

    def loaded(self) -> list[Key]:
        with self._lock:
            return [key for key, _ in self._live.values()]

    def clear(self) -> None:
        """Forget every engine (the device or the models folder changed)."""
        with self._lock:
            self._live.clear()
        _free_memory()
