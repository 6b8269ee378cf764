"""Community super-resolution models: the ESRGAN-family files people share (ESRGAN, Real-ESRGAN,
SwinIR, SPAN, ...), loaded through spandrel, the loader chaiNNer uses.

A community model is a `.safetensors` or `.pth` file in a models folder without a model card
(the app's own checkpoints always have one). Listing one reads nothing but its safetensors
header, so it imports no torch; spandrel detects the architecture and scale when it loads.

A `.pth` is read only by `torch.load(weights_only=True)`: tensors in dicts and lists. A file
that needs any other Python object to load is refused, and that object is never built, so a
booby-trapped pickle cannot run code. spandrel is optional: without it the files are listed
and loading one says what to install.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import sys
import types
import warnings
from contextlib import contextmanager
from pathlib import Path

from studio.errors import CheckpointError

ARCHITECTURE = "community"  # what a community model's info gives as its architecture
PTH_EXT = ".pth"
EXTS = (".safetensors", PTH_EXT)
# spandrel's metadata requires torchvision, which it needs only for two non-SR architectures;
# --no-deps keeps pip from installing it (numpy, safetensors, typing_extensions come with the app).
INSTALL = "pip install --no-deps spandrel==0.4.2 einops"
MAX_HEADER = 100 << 20  # bytes; a larger safetensors header is not a real one


def is_community(weights: Path) -> bool:
    """A weights file with no model card beside it that this app did not write (torch-free)."""
    if weights.suffix.lower() == PTH_EXT:
        return True
    if weights.with_suffix(".json").exists():
        return False
    try:
        meta = _safetensors_header(weights).get("__metadata__") or {}
    except CheckpointError:
        return True  # card() says what is wrong with it
    # save_checkpoint names the architecture in the header: one of ours whose card went missing
    return "architecture" not in meta


def card(weights: Path) -> dict:
    """The stand-in model card of a community file (torch-free; CheckpointError if unreadable)."""
    fmt = weights.suffix.lower().lstrip(".")
    found = {"architecture": ARCHITECTURE, "task": "super-resolution", "format": fmt, "loader": "spandrel",
             "source": "community model (no model card): architecture and scale are detected on loading"}
    if fmt != "safetensors":
        return found
    header = _safetensors_header(weights)
    tensors = sum(1 for k in header if k != "__metadata__")
    if not tensors:
        raise CheckpointError(f"{weights} holds no tensors")
    return {**found, "tensors": tensors}


def _safetensors_header(path: Path) -> dict:
    """The JSON header of a safetensors file: tensor names -> dtype/shape/offsets, __metadata__."""
    try:
        with open(path, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if not 2 <= size <= MAX_HEADER:
                raise ValueError(f"header size {size}")
            header = json.loads(f.read(size))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not a valid safetensors file: {e}") from None
    return header


def read_state_dict(weights: Path) -> dict:
    """The file's tensors, never unpickling anything but plain containers of tensors."""
    if weights.suffix.lower() != PTH_EXT:
        from safetensors.torch import load_file

        try:
            return load_file(str(weights))
        except Exception as e:  # a user's file: any failure to parse it is the file's fault
            raise CheckpointError(f"{weights} is not a valid safetensors file: {e}") from None
    import pickle

    import torch

    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # torch's weights-only unpickler met something else
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        if found is None:
            raise CheckpointError(f"{weights} is not a readable .pth file: not a torch file of plain tensors") from None
        raise CheckpointError(
            f"{weights} needs Python objects besides tensors to load ({found.group(1)}), which could run code; "
            "refused (only weights-only .pth files are read: convert it to .safetensors)") from None
    except Exception as e:  # truncated or not a torch file at all
        raise CheckpointError(f"{weights} is not a readable .pth file: {_first_line(e)}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{weights} holds a {type(state).__name__}, not a state dict of tensors")
    return state


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def load(weights: Path):
    """The file as a SpandrelSR module (studio.nets.community) on the CPU, in eval mode."""
    spandrel = import_spandrel(weights)
    state = read_state_dict(weights)
    try:
        with warnings.catch_warnings():  # e.g. SwinIR's torch.meshgrid notice: nothing the user can act on
            warnings.simplefilter("ignore", UserWarning)
            descriptor = spandrel.ModelLoader().load_from_state_dict(state)
    except spandrel.UnsupportedModelError:
        raise CheckpointError(f"{weights}: spandrel does not recognise this model's architecture") from None
    except Exception as e:  # a recognised architecture whose tensors do not fit it
        raise CheckpointError(f"{weights}: spandrel could not load it: {_first_line(e)}") from None
    what = f"{weights}: a {descriptor.architecture.name} {descriptor.purpose} model"
    if not isinstance(descriptor, spandrel.ImageModelDescriptor) or descriptor.purpose != "SR" or descriptor.scale < 2:
        raise CheckpointError(f"{what} (scale {descriptor.scale}), not single-image super-resolution; "
                              "only upscaling models are used")
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise CheckpointError(f"{what} for {descriptor.input_channels}-channel images; only RGB models are used")
    from studio.nets.community import SpandrelSR

    return SpandrelSR(descriptor).eval()


def describe(weights: Path) -> str:
    """"4x ESRGAN" or why the file cannot be used (loads it once per file version; never raises)."""
    try:
        st = weights.stat()
        arch, scale = _detect(str(weights), st.st_mtime_ns, st.st_size)
    except (CheckpointError, OSError) as e:
        return str(e)
    return f"{scale}x {arch}"


def scale_of(weights: Path) -> int:
    """The model's scale, detected by loading it once per file version (CheckpointError if unusable)."""
    st = weights.stat()
    return _detect(str(weights), st.st_mtime_ns, st.st_size)[1]


@functools.lru_cache(maxsize=64)
def _detect(path: str, mtime_ns: int, size: int) -> tuple[str, int]:
    net = load(Path(path))
    return net.arch, net.scale


def import_spandrel(weights: Path | None = None):
    """The spandrel module, or a CheckpointError saying how to install it."""
    module = sys.modules.get("spandrel")
    if module is not None:
        return module
    who = f"{weights.name}: community" if weights is not None else "community"
    if importlib.util.find_spec("spandrel") is None:
        raise CheckpointError(f"{who} models need spandrel, which is not installed ({INSTALL})")
    try:
        with _torchvision_stand_in():
            import spandrel
    except ImportError as e:  # e.g. einops missing after a --no-deps install
        raise CheckpointError(f"{who} models need spandrel, which could not be imported ({e}; {INSTALL})") from None
    return spandrel


@contextmanager
def _torchvision_stand_in():
    """While spandrel is imported, a torchvision whose functions raise, when no usable one is installed.

    spandrel imports every architecture it knows; two that are no super-resolution (LaMa
    inpainting, RestoreFormer faces) import torchvision functions, used only when they run.
    The stand-in leaves sys.modules again once spandrel is imported, so nothing else sees it.
    """
    if _torchvision_usable():
        yield
        return

    def missing(*args, **kwargs):
        raise CheckpointError("this spandrel architecture needs torchvision, which is not installed")

    names = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")
    stand_ins = {name: types.ModuleType(name) for name in names}
    stand_ins["torchvision"].transforms = stand_ins["torchvision.transforms"]
    stand_ins["torchvision.transforms"].functional = stand_ins["torchvision.transforms.functional"]
    stand_ins["torchvision.transforms.functional"].__getattr__ = lambda name: missing
    sys.modules.update(stand_ins)
    try:
        yield
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def _torchvision_usable() -> bool:
    if importlib.util.find_spec("torchvision") is None:
        return False
    try:
        import torchvision  # noqa: F401  (a build for another torch fails here)
    except Exception:
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        return False
    return True
