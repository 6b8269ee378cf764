"""Project files (.ganstudio): an image with its mask, face box and undo history, to go on
with another day.

One zip, written atomically (studio/atomic.py), holding:
  manifest.json         format name and version, image facts, face box, the history's step records
  image.png             the image at its bit depth (8 or 16), alpha at the same depth
  mask.png              the mask, 8-bit grey (255 = fill)
  icc.bin, exif.bin     the colour profile and EXIF bytes exactly as imageio read them (if any)
  history/NNNN/*.npy    each undo step's arrays (studio/editing/history_io.py), deflated
The PNGs open in any viewer. A newer format version is refused with a message that says so;
anything damaged or truncated is one ProjectError, never a traceback. Qt-free.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np

from studio import __version__
from studio.atomic import write_atomic
from studio.editing import history as hist
from studio.editing import history_io
from studio.editing.document import Document
from studio.errors import StudioError

SUFFIX = ".ganstudio"
FORMAT = "gan-studio-project"
VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 64 << 20


class ProjectError(StudioError):
    """A project file could not be read or written."""


def is_project(path: str | Path) -> bool:
    return Path(path).suffix.lower() == SUFFIX


# ---------------------------------------------------------------- layers as PNG

def png_bytes(levels: np.ndarray, alpha: np.ndarray | None = None, compression: int = 3) -> bytes:
    """uint8/uint16 HxWx3 RGB levels (or HxW grey) and optional alpha levels -> PNG bytes."""
    arr = levels[..., ::-1] if levels.ndim == 3 else levels  # OpenCV wants BGR
    if alpha is not None:
        arr = np.dstack([arr, alpha])
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr), [cv2.IMWRITE_PNG_COMPRESSION, compression])
    if not ok:
        raise OSError("PNG encoding failed")
    return buf.tobytes()


def _decode_png(data: bytes, what: str, shape: tuple, dtype) -> np.ndarray:
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.shape != shape or arr.dtype != dtype:
        got = "undecodable" if arr is None else f"{arr.dtype}{list(arr.shape)}"
        raise ValueError(f"{what} is {got}, expected {np.dtype(dtype)}{list(shape)}")
    return arr


# ---------------------------------------------------------------- saving

def save_project(path: str | Path, doc: Document) -> None:
    """Write doc (a frozen view when called off the UI thread) to path, replacing it atomically."""
    path = Path(path)
    if path.is_dir():
        raise ProjectError(f"cannot save {path}: it is a folder")
    if not path.parent.is_dir():
        raise ProjectError(f"cannot save {path}: the folder {path.parent} does not exist")
    pic, bits = doc.picture, doc.bit_depth
    records = [history_io.step_record(s) for s in doc.history.steps]
    w, h = doc.size
    manifest = {
        "format": FORMAT, "version": VERSION, "written_by": f"GAN Studio {__version__}",
        "image": {"size": [w, h], "bit_depth": bits, "alpha": pic.alpha is not None, "was_gray": bool(pic.was_gray),
                  "format": pic.format},
        "source": str(doc.source) if doc.source else None, "name": doc.untitled_name,
        "face_box": [int(v) for v in doc.face_box] if doc.face_box else None,
        "history": {"position": doc.history.position, "dropped": doc.history.dropped,
                    "steps": [r for r, _ in records]},
    }

    def write(f) -> None:
        # Arrays flat in this zip, not as nested .npz: a truncated file must not look like an inner zip.
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, compresslevel=history_io.NPZ_LEVEL) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=1))
            alpha = None if pic.alpha is None else hist.quantize(pic.alpha, bits)
            stored = zipfile.ZIP_STORED  # PNGs are compressed already
            zf.writestr("image.png", png_bytes(hist.quantize(pic.rgb, bits), alpha), stored)
            zf.writestr("mask.png", png_bytes(doc.mask), stored)
            for name, data in (("icc.bin", pic.icc), ("exif.bin", pic.exif)):
                if data:
                    zf.writestr(name, data)
            for i, (_, arrays) in enumerate(records):
                history_io.write_arrays(zf, arrays, f"history/{i:04d}/")

    try:
        write_atomic(path, write)
    except MemoryError:
        raise ProjectError(f"cannot save {path}: not enough memory to write it") from None
    except OSError as e:
        raise ProjectError(f"cannot save {path}: {e.strerror or e}") from None


# ---------------------------------------------------------------- loading

def load_project(path: str | Path, budget: int = hist.DEFAULT_BUDGET) -> Document:
    """The Document a project file holds: image, mask, face box and undo history (trimmed to
    budget), marked as saved in that file."""
    path = Path(path)
    if not path.is_file():
        raise ProjectError(f"cannot open {path}: " + ("it is a folder" if path.is_dir() else "no such file"))
    try:
        with zipfile.ZipFile(path) as zf:
            return _read(zf, _manifest(zf, path), path, budget)
    except ProjectError:
        raise
    except MemoryError:
        raise ProjectError(f"cannot open {path}: not enough memory to read it") from None
    except PermissionError:
        raise ProjectError(f"cannot open {path}: permission denied") from None
    except zipfile.BadZipFile as e:
        raise ProjectError(f"cannot open {path}: it is not a GAN Studio project, or the file is damaged or "
                           f"truncated ({e})") from None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zlib.error, cv2.error) as e:
        raise ProjectError(f"cannot open {path}: the project file is damaged ({e})") from None


def _manifest(zf: zipfile.ZipFile, path: Path) -> dict:
    try:
        info = zf.getinfo(MANIFEST)
    except KeyError:
        raise ProjectError(f"cannot open {path}: it is a zip file but not a GAN Studio project") from None
    if info.file_size > MAX_MANIFEST_BYTES:
        raise ValueError("the manifest is implausibly large")
    manifest = json.loads(zf.read(info))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ProjectError(f"cannot open {path}: it is a zip file but not a GAN Studio project")
    version = manifest.get("version")
    if type(version) is not int or version < 1:
        raise ValueError(f"the format version {version!r} is not a version")
    if version > VERSION:
        raise ProjectError(f"cannot open {path}: it was saved by a newer GAN Studio (project format {version}; "
                           f"this one reads format {VERSION} and older). Update GAN Studio to open it.")
    return manifest


def _read(zf: zipfile.ZipFile, manifest: dict, path: Path, budget: int) -> Document:
    from studio.imageio import Picture, max_pixels

    image = manifest.get("image")
    if not isinstance(image, dict):
        raise ValueError("the manifest has no image section")
    size, bits = image.get("size"), image.get("bit_depth")
    if not (isinstance(size, list) and len(size) == 2 and all(type(v) is int and v > 0 for v in size)):
        raise ValueError(f"the image size {size!r} is not a size")
    if bits not in (8, 16):
        raise ValueError(f"the bit depth {bits!r} is neither 8 nor 16")
    w, h = size
    if w * h > max_pixels():
        raise ProjectError(f"cannot open {path}: its image is {w}x{h}, over the {max_pixels() / 1e6:g} megapixel "
                           "limit (set STUDIO_MAX_PIXELS to raise it)")
    dtype = np.uint16 if bits == 16 else np.uint8
    has_alpha = bool(image.get("alpha"))
    layers = _decode_png(zf.read("image.png"), "the image", (h, w, 4 if has_alpha else 3), dtype)
    rgb = hist.dequantize(np.ascontiguousarray(layers[..., 2::-1]))  # BGR -> RGB
    alpha = hist.dequantize(layers[..., 3]) if has_alpha else None
    mask = _decode_png(zf.read("mask.png"), "the mask", (h, w), np.uint8)
    names = set(zf.namelist())
    icc, exif = (zf.read(n) if n in names else None for n in ("icc.bin", "exif.bin"))
    fmt = image.get("format")
    picture = Picture(rgb=rgb, alpha=alpha, bit_depth=bits, icc=icc, exif=exif, was_gray=bool(image.get("was_gray")),
                      format=fmt if isinstance(fmt, str) else None)

    source = manifest.get("source")
    doc = Document(picture, source=Path(source) if isinstance(source, str) and source else None, budget=budget)
    doc.mask = mask
    doc.face_box = _face_box(manifest.get("face_box"))
    if isinstance(manifest.get("name"), str) and manifest["name"]:
        doc.untitled_name = manifest["name"]
    history = manifest.get("history")
    if not isinstance(history, dict):
        raise ValueError("the manifest has no history section")

    def arrays(i: int) -> dict:
        return history_io.read_arrays(zf, f"history/{i:04d}/")

    doc.history = history_io.history_from_records(history.get("steps"), history.get("position"),
                                                  history.get("dropped"), arrays, (w, h), dtype, budget)
    doc.project_path = path
    doc.mark_saved()
    doc.mark_mask_saved()
    return doc


def _face_box(value) -> tuple[int, int, int, int] | None:
    """The face box as drawn: it may reach past the image's edges (the face tools crop with margin)."""
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 4 and all(type(v) is int for v in value)) or min(value[2:]) < 1:
        raise ValueError(f"the face box {value!r} is not four whole numbers with a positive size")
    return tuple(value)
