"""Undo steps to and from files: the project file and the autosave folder both use this.

A step becomes a small JSON-able record (label, which layers, rectangles) plus named arrays.
Reading checks everything a damaged or hand-made file could get wrong (rectangles outside
the image, shapes that do not fit them, wrong number types, sizes that do not chain from one
step to the next) and raises ValueError, so a bad file fails when it is opened, never at the
user's undo. Tool memos (`Step.tag`) are not kept: they describe live sessions. Qt-free.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import numpy as np

from studio.editing.history import History, Patch, Snapshot, Step

NPZ_LEVEL = 1  # deflate level for history arrays: masks shrink ~50x even at 1, and it is fast


# ---------------------------------------------------------------- arrays in zip files

def write_arrays(zf: zipfile.ZipFile, arrays: dict[str, np.ndarray], prefix: str = "") -> None:
    """Each array as PREFIXNAME.npy in zf, compressed as zf compresses (an .npz when prefix is "")."""
    for name, arr in arrays.items():
        with zf.open(f"{prefix}{name}.npy", "w", force_zip64=True) as out:
            np.lib.format.write_array(out, np.ascontiguousarray(arr), allow_pickle=False)


def read_arrays(zf: zipfile.ZipFile, prefix: str = "") -> dict[str, np.ndarray]:
    """The arrays write_arrays wrote under prefix, never unpickling anything."""
    out = {}
    for member in zf.namelist():
        name = member[len(prefix):-len(".npy")]
        if member.startswith(prefix) and member.endswith(".npy") and name and "/" not in name:
            with zf.open(member) as f:
                out[name] = np.lib.format.read_array(f, allow_pickle=False)
    return out


def write_npz(file, arrays: dict[str, np.ndarray]) -> None:
    """An .npz (np.load reads it) deflated at NPZ_LEVEL: numpy's own writer offers 0 or 6 only."""
    with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED, compresslevel=NPZ_LEVEL) as zf:
        write_arrays(zf, arrays)


def read_npz(file) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(file) as zf:
        return read_arrays(zf)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    write_npz(buf, arrays)
    return buf.getvalue()


# ---------------------------------------------------------------- steps

def step_record(step: Step) -> tuple[dict, dict[str, np.ndarray]]:
    """(record, arrays) of one step; arrays are the step's own (never copied: steps do not change)."""
    arrays: dict[str, np.ndarray] = {}
    patches = []
    for i, p in enumerate(step.patches):
        patches.append({"layer": p.layer, "rect": [int(v) for v in p.rect]})
        arrays[f"p{i}_before"], arrays[f"p{i}_after"] = p.before, p.after
    record = {"label": step.label, "changes_image": bool(step.changes_image), "patches": patches,
              "resize": step.before is not None}
    if step.before is not None:
        for side, snap in (("before", step.before), ("after", step.after)):
            arrays[f"{side}_image"], arrays[f"{side}_mask"] = snap.image, snap.mask
            if snap.alpha is not None:
                arrays[f"{side}_alpha"] = snap.alpha.astype(np.float32, copy=False)
    return record, arrays


def _rect(value, size: tuple[int, int]) -> tuple[int, int, int, int]:
    if not (isinstance(value, list) and len(value) == 4 and all(type(v) is int for v in value)):
        raise ValueError(f"a rectangle is {value!r}, not four whole numbers")
    x, y, w, h = value
    if x < 0 or y < 0 or w < 1 or h < 1 or x + w > size[0] or y + h > size[1]:
        raise ValueError(f"the rectangle {value} lies outside the {size[0]}x{size[1]} image")
    return x, y, w, h


def _array(arrays: dict, name: str, shape: tuple, dtype) -> np.ndarray:
    arr = arrays.get(name)
    if arr is None:
        raise ValueError(f"the array {name} is missing")
    if arr.shape != shape or arr.dtype != dtype:
        raise ValueError(f"the array {name} is {arr.dtype}{list(arr.shape)}, expected {np.dtype(dtype)}{list(shape)}")
    return arr


def _snapshot(arrays: dict, side: str, dtype) -> Snapshot:
    image = arrays.get(f"{side}_image")
    if image is None or image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise ValueError(f"the {side} image of a resize step is missing or not HxWx3")
    h, w = image.shape[:2]
    image = _array(arrays, f"{side}_image", (h, w, 3), dtype)
    mask = _array(arrays, f"{side}_mask", (h, w), np.uint8)
    alpha = _array(arrays, f"{side}_alpha", (h, w), np.float32) if f"{side}_alpha" in arrays else None
    return Snapshot(image, alpha, mask)


def step_from_record(record, arrays: dict[str, np.ndarray], size: tuple[int, int], dtype) -> Step:
    """The step a record describes, checked against the image size (w, h) it applies to (the size
    after it, for a resize step) and the image's level type (uint8 or uint16)."""
    if not isinstance(record, dict) or not isinstance(record.get("label"), str):
        raise ValueError("a step record has no label")
    if record.get("resize"):
        before, after = _snapshot(arrays, "before", dtype), _snapshot(arrays, "after", dtype)
        if after.image.shape[1::-1] != tuple(size):
            raise ValueError(f"a resize step ends at {after.image.shape[1::-1]}, not at {tuple(size)}")
        return Step(record["label"], before=before, after=after, changes_image=True)
    patches = record.get("patches")
    if not isinstance(patches, list) or not patches:
        raise ValueError(f"the step {record['label']!r} has no patches")
    out = []
    for i, p in enumerate(patches):
        layer = p.get("layer") if isinstance(p, dict) else None
        if layer not in ("image", "mask"):
            raise ValueError(f"a patch is of the layer {layer!r}")
        x, y, w, h = _rect(p.get("rect"), size)
        shape, kind = ((h, w, 3), dtype) if layer == "image" else ((h, w), np.uint8)
        out.append(Patch(layer, (x, y, w, h), _array(arrays, f"p{i}_before", shape, kind),
                         _array(arrays, f"p{i}_after", shape, kind)))
    return Step(record["label"], out, changes_image=bool(record.get("changes_image", True)))


def history_from_records(records, position, dropped, load_arrays: Callable[[int], dict], size: tuple[int, int],
                         dtype, budget: int) -> History:
    """A History from step records (load_arrays(i) gives step i's arrays), `position` of them done,
    for a document now of `size`; sizes are chained back and forth across resize steps."""
    if not isinstance(records, list):
        raise ValueError("the step list is not a list")
    if type(position) is not int or not 0 <= position <= len(records):
        raise ValueError(f"the history position {position!r} is not within its {len(records)} steps")
    steps: list[Step | None] = [None] * len(records)
    here = tuple(size)
    for i in range(position - 1, -1, -1):  # done steps end where the next one starts
        steps[i] = step_from_record(records[i], load_arrays(i), here, dtype)
        if steps[i].before is not None:
            here = steps[i].before.image.shape[1::-1]
    here = tuple(size)
    for i in range(position, len(records)):  # redo steps start where the previous one ends
        arrays, record = load_arrays(i), records[i]
        resize = isinstance(record, dict) and record.get("resize")
        steps[i] = step = step_from_record(record, arrays, _after_size(arrays) if resize else here, dtype)
        if resize:
            if step.before.image.shape[1::-1] != here:
                raise ValueError(f"a resize step starts at {step.before.image.shape[1::-1]}, not at {here}")
            here = step.after.image.shape[1::-1]
    history = History(budget)
    history.restore(steps, position, dropped if type(dropped) is int and dropped >= 0 else 0)
    return history


def _after_size(arrays: dict) -> tuple[int, int]:
    image = arrays.get("after_image")
    if image is None or image.ndim != 3:
        raise ValueError("the after image of a resize step is missing")
    return image.shape[1], image.shape[0]
