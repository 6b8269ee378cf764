"""Building engines for the window: lazily (torch loads only here, on the worker thread), once.

The `build_*` functions are the seam tests replace with small stand-ins. `Engines` caches what
they build by their options, so the second run of a tool does not load its model again.
What is installed is found from model cards only (no torch), so the panels can say it at once.
"""

from __future__ import annotations

import importlib.util
import threading
from types import SimpleNamespace

from studio.errors import CheckpointError, StudioError

EDIT_MODEL = "icgan-faces64"
INPAINT_ENGINES = ("auto", "face", "photo", "classic")
UPSCALE_ARCHITECTURE = "srresnet"


def build_inpainter(engine: str, device: str, steps: int | None, seed: int | None, box, detail: float | None = None):
    from studio import commands

    args = SimpleNamespace(engine=engine, device=device, steps=steps, seed=seed, box=box, detail=detail)
    return commands.make_inpainter(args)  # the CLI's rules: auto's fallbacks, box -> face engine


def build_upscaler(model: str, device: str, tile: int | None):
    from studio.devices import pick_device
    from studio.engines.upscale import Upscaler

    return Upscaler(model, device=pick_device(device), tile=tile)


def build_face_editor(device: str, box):
    from studio.devices import pick_device

    try:
        from studio.engines.edit import FaceEditor
    except ModuleNotFoundError:
        raise StudioError("face attribute editing is not available in this version yet") from None
    return FaceEditor(EDIT_MODEL, device=pick_device(device), box=box)


def describe_device(name: str) -> str:
    """'cpu', 'cuda (NVIDIA ...)', ... -- imports torch: call it on the worker."""
    from studio.devices import describe, pick_device

    return describe(pick_device(name))


def upscale_models() -> list[str]:
    """Installed checkpoints that can upscale (their card says srresnet)."""
    from studio.checkpoints import list_checkpoints

    found, _ = list_checkpoints()
    return [c.name for c in found if c.architecture == UPSCALE_ARCHITECTURE]


def edit_unavailable_reason() -> str | None:
    """None when face attribute editing can run; else a plain sentence why not."""
    from studio.checkpoints import find_checkpoint

    if importlib.util.find_spec("studio.engines.edit") is None:
        return "Face attribute editing is not part of this version yet."
    try:
        find_checkpoint(EDIT_MODEL)
    except CheckpointError:
        return (f"No face-attribute model is installed (checkpoint '{EDIT_MODEL}' not found). "
                "Put it in your models folder (Settings) to enable editing.")
    return None


class Engines:
    """Engines built so far, keyed by everything that went into building them."""

    def __init__(self):
        self._cache: dict[tuple, object] = {}
        self._lock = threading.Lock()  # built on the worker, cleared from the UI thread

    def _get(self, key: tuple, make):
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        engine = make()
        with self._lock:
            self._cache[key] = engine
        return engine

    def inpainter(self, engine: str, device: str, steps=None, seed=None, box=None, detail=None):
        key = ("inpaint", engine, device, steps, seed, box, detail)
        return self._get(key, lambda: build_inpainter(engine, device, steps, seed, box, detail))

    def upscaler(self, model: str, device: str, tile=None):
        return self._get(("upscale", model, device, tile), lambda: build_upscaler(model, device, tile))

    def face_editor(self, device: str, box=None):
        return self._get(("edit", device, box), lambda: build_face_editor(device, box))

    def clear(self) -> None:
        """Forget every engine (the device or models folder changed)."""
        with self._lock:
            self._cache.clear()
