"""Reading and writing pictures without losing what the user cares about.

Loads PNG, JPEG, WebP, TIFF and BMP upright (EXIF orientation applied) into a `Picture`: float32
RGB in [0, 1] plus a separate alpha plane, the ICC profile and EXIF bytes. 16-bit sources stay
16-bit all the way (never through 8 bits) and are written back at 16 bits to PNG and TIFF.

Choices callers should know:
- Alpha into JPEG/BMP: flattened onto white, with a warning (save_image returns warnings).
- Grey: a grey source is written back grey when the result is still essentially grey
  (gray=None); gray=True forces grey (luma), gray=False forces RGB.
- Masks: white = fill. A mask with a partly transparent alpha channel is read by its alpha
  instead (painted = fill, whatever the colour). Values stay soft in [0, 1]; near-0 and near-1
  are snapped so JPEG noise never leaks into "keep" areas.
- ICC/EXIF are not written to BMP, nor to 16-bit colour TIFF (OpenCV writes those and cannot);
  a warning says so. 16-bit colour PNG keeps both.
- Writes are atomic; the caller lists input files in `protect` so they are never overwritten
  unless `overwrite_input=True` (the user named the input as output on purpose).
- Animated PNG and multi-page TIFF: the first frame is read (`Picture.frames` says how many
  there were, so a caller can say so). GIF is not read at all (a clear refusal).
- Only regular files are opened: a named pipe or a device is refused before it is opened, so
  reading never hangs.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import io
import os
import shutil
import stat
import struct
import warnings as _warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from studio.atomic import remove_stale_temps, temp_path
from studio.errors import ImageError

MAX_PIXELS = 200_000_000  # project limit; STUDIO_MAX_PIXELS overrides it
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP",
           ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP"}
_READABLE = ["PNG", "JPEG", "WEBP", "TIFF", "BMP"]  # JPEG also opens MPO (camera JPEGs)
_ORIENTATION = 0x0112
# TIFF layout tags show up in a TIFF's EXIF; copied into another file they would lie.
_TIFF_LAYOUT_TAGS = {256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 322, 323, 324,
                     325, 338, 339, 347, 34675}
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error,
                  IndexError, KeyError, TypeError, cv2.error)


@dataclass(eq=False)
class Picture:
    rgb: np.ndarray                   # float32 HxWx3 in [0, 1]; grey sources replicated
    alpha: np.ndarray | None = None   # float32 HxW in [0, 1]
    bit_depth: int = 8                # 8 or 16: the precision to write back
    icc: bytes | None = None
    exif: bytes | None = None         # orientation already reset to 1 (pixels are upright)
    was_gray: bool = False
    source: Path | None = None
    format: str | None = None         # "PNG", "JPEG", "WEBP", "TIFF" or "BMP"
    frames: int = 1                   # frames/pages in the source (only the first is read)

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]

    def to_uint8(self, with_alpha: bool = False) -> np.ndarray:
        """HxWx3 uint8 (HxWx4 with with_alpha and an alpha plane)."""
        rgb = _quantize(self.rgb, 255, np.uint8)
        if with_alpha and self.alpha is not None:
            return np.dstack([rgb, _quantize(self.alpha, 255, np.uint8)])
        return rgb


def with_rgb(picture: Picture, new_rgb: np.ndarray, alpha: np.ndarray | None = None) -> Picture:
    """A new Picture with new pixels and the same metadata; alpha must match the new size."""
    new_rgb = np.asarray(new_rgb, dtype=np.float32)
    if new_rgb.ndim != 3 or new_rgb.shape[2] != 3:
        raise ValueError(f"rgb must be HxWx3, got {new_rgb.shape}")
    alpha = picture.alpha if alpha is None else np.asarray(alpha, dtype=np.float32)
    if alpha is not None and alpha.shape != new_rgb.shape[:2]:
        raise ValueError(f"alpha is {alpha.shape} but rgb is {new_rgb.shape[:2]}: resize_alpha it")
    return dataclasses.replace(picture, rgb=new_rgb, alpha=alpha)


def resize_alpha(alpha: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    out = cv2.resize(alpha.astype(np.float32), size, interpolation=cv2.INTER_CUBIC)
    return np.clip(out, 0.0, 1.0)


def max_pixels() -> int:
    return pixel_limit("STUDIO_MAX_PIXELS", MAX_PIXELS)


def pixel_limit(variable: str, default: int, error: type[Exception] = ImageError) -> int:
    """The pixel limit the environment variable sets, else the default (videos have their own)."""
    raw = os.environ.get(variable)
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise error(f"{variable} must be a whole number of pixels above 0, not {raw!r}")
    return limit


# ---------------------------------------------------------------- loading

def load_image(path: str | os.PathLike) -> Picture:
    path = Path(path)
    with _warnings.catch_warnings():
        # Pillow warns on stderr about damaged EXIF/TIFF metadata, which it then skips; the pixels
        # are fine and what it could read is kept: no stray "UserWarning: Corrupt EXIF data" lines.
        _warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")
        return _load(path)


def _load(path: Path) -> Picture:
    with _open(path) as im:
        try:
            return _decode(path, im)
        except Image.DecompressionBombError:  # Pillow's load-time checks (TIFF tiles)
            _refuse_size(path, None, max_pixels())
        except MemoryError:
            raise ImageError(f"cannot read {path}: not enough memory to decode it") from None
        except _DECODE_ERRORS as e:
            raise ImageError(f"cannot read {path}: the file is damaged or truncated ({e})") from None


def load_mask(path: str | os.PathLike, size: tuple[int, int] | None = None) -> tuple[np.ndarray, bool]:
    """(mask float32 HxW in [0, 1], 1 = fill; resized) -- see the module notes for the rule."""
    pic = load_image(path)
    if pic.alpha is not None and pic.alpha.min() < 254 / 255:
        mask = pic.alpha
    else:
        mask = _luma(pic.rgb)
    mask = np.where(mask <= 8 / 255, 0.0, np.where(mask >= 247 / 255, 1.0, mask)).astype(np.float32)
    if size is None or tuple(size) == pic.size:
        return mask, False
    shrinking = size[0] <= pic.size[0] and size[1] <= pic.size[1]
    mask = cv2.resize(mask, tuple(size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_NEAREST)
    return np.clip(mask, 0.0, 1.0), True


def _open(path: Path) -> Image.Image:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ImageError(f"cannot read {path}: no such file") from None
    except OSError as e:  # a name too long, a link loop, no permission on a folder
        raise ImageError(f"cannot read {path}: {e.strerror or e}") from None
    if stat.S_ISDIR(mode):
        raise ImageError(f"cannot read {path}: it is a folder, not an image")
    if not stat.S_ISREG(mode):  # opening a named pipe would wait for a writer forever
        raise ImageError(f"cannot read {path}: not a regular file (a pipe, socket or device)")
    limit = max_pixels()
    Image.init()  # registers every plugin; `formats=` below fails on ones not yet loaded
    Image.MAX_IMAGE_PIXELS = limit  # Pillow's own checks (TIFF tiles, frames) use the same limit
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path, formats=_READABLE)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        _refuse_size(path, _declared_size(path), limit)
    except UnidentifiedImageError:
        if _starts_with(path, b"GIF8"):
            raise ImageError(f"cannot read {path}: GIF images are not supported (convert it to PNG)") from None
        raise ImageError(f"cannot read {path}: not a PNG, JPEG, WebP, TIFF or BMP image "
                         "(or the file is damaged)") from None
    except PermissionError:
        raise ImageError(f"cannot read {path}: permission denied") from None
    except _DECODE_ERRORS as e:
        raise ImageError(f"cannot read {path}: the file is damaged ({e})") from None
    if im.width * im.height > limit:
        im.close()
        _refuse_size(path, im.size, limit)
    return im


def _starts_with(path: Path, magic: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(magic)) == magic
    except OSError:
        return False


def _refuse_size(path: Path, size: tuple[int, int] | None, limit: int) -> NoReturn:
    what = f"{size[0]}x{size[1]} = {format_pixels(size[0] * size[1])}" if size else "too large"
    raise ImageError(f"cannot read {path}: it is {what}, over the limit of {format_pixels(limit)} "
                     "(set STUDIO_MAX_PIXELS to raise it)") from None


def format_pixels(n: int) -> str:
    """A pixel count for people: "4,096 pixels", "1.5 megapixels", "3,600 megapixels"."""
    if n < 1_000_000:
        return f"{n:,} pixel{'s' if n != 1 else ''}"
    mp = n / 1e6
    text = f"{mp:,.0f}" if mp >= 100 else f"{mp:.3g}"
    return f"{text} megapixel{'s' if text != '1' else ''}"


def _declared_size(path: Path) -> tuple[int, int] | None:
    """The header's size without Pillow's bomb check, only to word the refusal."""
    try:
        with open(path, "rb") as fp:
            prefix = fp.read(16)
            for fmt in _READABLE:
                factory, accept = Image.OPEN[fmt]
                if accept is None or accept(prefix):
                    fp.seek(0)
                    return factory(fp, str(path)).size
    except Exception:  # only used for the message; the refusal stands either way
        pass
    return None


def _decode(path: Path, im: Image.Image) -> Picture:
    fmt = "JPEG" if im.format == "MPO" else im.format
    icc = im.info.get("icc_profile") or None
    deep_colour = _is_16bit_colour(im)  # before getexif(), which may load and clear im.tile
    exif = im.getexif()
    frames = getattr(im, "n_frames", 1)  # counting seeks through the frames: seek(0) below goes back
    if deep_colour:
        orientation = exif.get(_ORIENTATION, 1)
        if fmt == "TIFF" and _opencv_orients_tiff():
            orientation = 1
        pixels = _read_16bit_colour(path, orientation)
    else:
        im.seek(0)
        pixels, icc = _pillow_pixels(ImageOps.exif_transpose(im), icc)
    # Metadata last: exif_transpose reads the orientation we are about to reset.
    return Picture(**pixels, icc=icc, exif=_upright_exif(exif, fmt), source=path, format=fmt, frames=frames)


def _pillow_pixels(im: Image.Image, icc: bytes | None) -> tuple[dict, bytes | None]:
    if im.mode == "CMYK":
        im, icc = _cmyk_to_rgb(im, icc)
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        scale = 1.0 if im.mode == "F" else 65535.0
        # nan_to_num: a float TIFF may hold NaN/inf, which no later step could quantise
        grey = np.clip(np.nan_to_num(np.asarray(im).astype(np.float32) / scale, posinf=1.0, neginf=0.0), 0.0, 1.0)
        return dict(rgb=np.repeat(grey[..., None], 3, axis=2), bit_depth=16, was_gray=True), icc
    was_gray = im.mode in ("1", "L", "LA", "La")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    target = {"1": "L", "L": "L", "LA": "LA", "La": "LA", "PA": "RGBA", "RGBA": "RGBA",
              "RGBa": "RGBA"}.get(im.mode, "RGB")
    arr = np.asarray(im if im.mode == target else im.convert(target)).astype(np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[..., None]
    colour = arr[..., :1].repeat(3, axis=2) if was_gray else arr[..., :3]
    alpha = arr[..., -1] if target in ("LA", "RGBA") else None
    return dict(rgb=np.ascontiguousarray(colour), alpha=alpha, bit_depth=8, was_gray=was_gray), icc


def _is_16bit_colour(im: Image.Image) -> bool:
    """Pillow reads 16-bit RGB(A)/LA PNG and TIFF as 8-bit; these go through OpenCV instead."""
    if im.format not in ("PNG", "TIFF") or im.mode.startswith(("I", "F")):
        return False
    return any(";16" in str(tile.args) for tile in im.tile)


def _read_16bit_colour(path: Path, orientation: int) -> dict:
    arr = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ValueError("OpenCV could not decode the 16-bit data")
    arr = _orient(arr, orientation).astype(np.float32) / (65535.0 if arr.dtype == np.uint16 else 255.0)
    if arr.ndim == 2:
        arr = arr[..., None]
    channels = arr.shape[2]
    colour = arr[..., :1].repeat(3, axis=2) if channels < 3 else arr[..., 2::-1]  # BGR -> RGB
    alpha = arr[..., -1] if channels in (2, 4) else None
    return dict(rgb=np.ascontiguousarray(colour), alpha=alpha, bit_depth=16, was_gray=channels < 3)


@functools.cache
def _opencv_orients_tiff() -> bool:
    """Whether OpenCV's TIFF decoder already applies the Orientation tag (4.x does, even with
    IMREAD_UNCHANGED; its PNG decoder does not): probed once on a mirrored 2x1 TIFF, so the
    16-bit path never rotates twice, whichever OpenCV is installed."""
    buf = io.BytesIO()
    Image.fromarray(np.array([[0, 65535]], np.uint16)).save(buf, "TIFF", tiffinfo={_ORIENTATION: 2})
    arr = cv2.imdecode(np.frombuffer(buf.getvalue(), np.uint8), cv2.IMREAD_UNCHANGED)
    return arr is not None and int(arr.reshape(-1)[0]) == 65535


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF orientation on an HxW(xC) array, matching ImageOps.exif_transpose."""
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
           7: lambda a: a[::-1, ::-1].swapaxes(0, 1), 8: lambda a: np.rot90(a, 1)}
    op = ops.get(orientation)
    return np.ascontiguousarray(op(arr)) if op else arr


def _upright_exif(exif: Image.Exif, fmt: str | None) -> bytes | None:
    if _ORIENTATION in exif:
        exif[_ORIENTATION] = 1
    if fmt == "TIFF":
        for tag in _TIFF_LAYOUT_TAGS & set(exif):
            del exif[tag]
    return exif.tobytes() if len(exif) else None


def _cmyk_to_rgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Colour-managed when the file has a CMYK profile; the result is then tagged sRGB."""
    if icc:
        try:
            srgb = ImageCms.createProfile("sRGB")
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out = ImageCms.profileToProfile(im, src, srgb, outputMode="RGB")
            return out, ImageCms.ImageCmsProfile(srgb).tobytes()
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    return im.convert("RGB"), None


# ---------------------------------------------------------------- saving

def save_image(path: str | os.PathLike, picture: Picture, *, quality: int = 95,
               overwrite: bool = False, protect: tuple | list = (), overwrite_input: bool = False,
               gray: bool | None = None) -> list[str]:
    """Write atomically; the format follows the extension. Returns warnings for the user."""
    path = Path(path)
    fmt = output_format(path)
    is_input = any(_same_file(path, Path(p)) for p in protect)
    if is_input and not overwrite_input:
        raise ImageError(f"refusing to overwrite the input file {path}; choose another output name")
    if _existing_target(path) and not (overwrite or is_input):
        raise ImageError(f"cannot save {path}: the file already exists (choose another name "
                         "or allow overwriting)")
    try:
        data, notes = _encode(picture, fmt, quality, gray)
    except MemoryError:
        raise ImageError(f"cannot save {path}: not enough memory to encode it") from None
    except (OSError, ValueError, cv2.error) as e:
        raise ImageError(f"cannot save {path}: encoding as {fmt} failed ({e})") from None
    _write_atomic(path, data)
    return notes


def output_format(path: Path) -> str:
    """The format an output file name asks for (ImageError for an extension we cannot write)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"cannot save {path}: unknown extension {path.suffix!r} "
                         f"(use one of {', '.join(sorted(FORMATS))})")
    return fmt


def _encode(pic: Picture, fmt: str, quality: int, gray: bool | None) -> tuple[bytes, list[str]]:
    notes: list[str] = []
    rgb, alpha = pic.rgb, pic.alpha
    if alpha is not None and fmt in ("JPEG", "BMP"):
        if alpha.min() < 254.5 / 255:
            notes.append(f"{fmt} cannot store transparency: transparent areas were flattened onto white")
            rgb = rgb * alpha[..., None] + (1.0 - alpha[..., None])
        alpha = None
    as_gray = (pic.was_gray and _essentially_gray(rgb)) if gray is None else gray
    if as_gray and fmt == "WEBP":  # WebP has no grey mode: store the grey as RGB
        rgb, as_gray = np.repeat(_luma(rgb)[..., None], 3, axis=2), False
    deep = pic.bit_depth == 16 and fmt in ("PNG", "TIFF")
    if pic.bit_depth == 16 and not deep:
        notes.append(f"{fmt} holds 8 bits per channel: the 16-bit image was saved at 8 bits")
    if deep and as_gray and alpha is not None:
        as_gray = False  # OpenCV/Pillow write no 16-bit grey+alpha; 16-bit RGBA keeps both
    icc = pic.icc
    if icc and icc[16:20] != (b"GRAY" if as_gray else b"RGB "):
        notes.append("the colour profile does not fit the output colours and was left out")
        icc = None
    if deep and not as_gray:
        return _encode_16bit_colour(rgb, alpha, fmt, icc, pic.exif, notes), notes
    if fmt == "BMP" and (icc or pic.exif):
        notes.append("BMP cannot store the colour profile or EXIF: they were left out")
    if as_gray:
        grey = _luma(rgb)
        im = Image.fromarray(_quantize(grey, 65535, np.uint16) if deep else _quantize(grey, 255, np.uint8))
        if alpha is not None:
            im = Image.merge("LA", [im, Image.fromarray(_quantize(alpha, 255, np.uint8))])
    else:
        arr = _quantize(rgb, 255, np.uint8)
        if alpha is not None:
            arr = np.dstack([arr, _quantize(alpha, 255, np.uint8)])
        im = Image.fromarray(arr)
    opts: dict = {}
    if fmt != "BMP":
        opts.update({k: v for k, v in (("icc_profile", icc), ("exif", pic.exif)) if v})
    if fmt == "JPEG":
        opts.update(quality=quality, subsampling=0 if quality >= 90 else 2)
    elif fmt == "WEBP":
        opts.update(quality=quality, lossless=quality >= 100)
    elif fmt == "TIFF":
        # libtiff (needed to compress) cannot write EXIF sub-IFDs; Pillow's own writer can.
        opts.update(compression=None if pic.exif else "tiff_deflate")
    buf = io.BytesIO()
    im.save(buf, format=fmt, **opts)
    return buf.getvalue(), notes


def _encode_16bit_colour(rgb, alpha, fmt, icc, exif, notes) -> bytes:
    arr = _quantize(rgb[..., ::-1], 65535, np.uint16)  # OpenCV wants BGR
    if alpha is not None:
        arr = np.dstack([arr, _quantize(alpha, 65535, np.uint16)])
    params = [cv2.IMWRITE_PNG_COMPRESSION, 6] if fmt == "PNG" else []
    ok, buf = cv2.imencode(".png" if fmt == "PNG" else ".tiff", arr, params)
    if not ok:
        raise ValueError("OpenCV could not encode the 16-bit image")
    data = buf.tobytes()
    if fmt == "PNG":
        return _png_add_metadata(data, icc, exif)
    if icc or exif:
        notes.append("16-bit colour TIFF is written without the colour profile and EXIF")
    return data


def _png_add_metadata(png: bytes, icc: bytes | None, exif: bytes | None) -> bytes:
    """Insert iCCP/eXIf right after IHDR (OpenCV's PNG writer has no way to add them)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    extra = b""
    if icc:
        extra += chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(icc))
    if exif:
        extra += chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif)
    end_of_ihdr = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR body, CRC
    if png[12:16] != b"IHDR":
        raise ValueError("OpenCV wrote an unexpected PNG layout")
    return png[:end_of_ihdr] + extra + png[end_of_ihdr:]


def _existing_target(path: Path) -> bool:
    """Whether path is a file to replace (False: nothing there yet); ImageError when nothing
    can be saved there (a folder, a pipe or device, a name too long, a missing folder)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except NotADirectoryError:
        mode = None  # a parent is a file: said below
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            raise ImageError(f"cannot save {path}: the name is too long ({len(os.fsencode(path.name))} bytes; "
                             f"file names hold at most {_name_max(path.parent)})") from None
        raise ImageError(f"cannot save {path}: {e.strerror or e}") from None
    if mode is None:
        folder = path.parent
        if not folder.is_dir():
            file = next((p for p in (folder, *folder.parents) if p.is_file()), None)
            raise ImageError(f"cannot save {path}: " + (f"{file} is a file, not a folder" if file
                                                         else f"the folder {folder} does not exist"))
        return False
    if stat.S_ISDIR(mode):
        raise ImageError(f"cannot save {path}: it is a folder")
    if not stat.S_ISREG(mode):  # os.replace would put the image in place of the pipe or device
        raise ImageError(f"cannot save {path}: it is not a regular file (a pipe, socket or device)")
    return True


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no such folder; Windows has no pathconf
        return 255


def _write_atomic(path: Path, data: bytes) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise ImageError(f"cannot save {path}: the folder {folder} does not exist")
    remove_stale_temps(folder)  # ones a killed save left (studio/atomic.py matches this naming)
    tmp = temp_path(path)
    created = False
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        created = True
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            shutil.copymode(path, tmp)  # keep the replaced file's permissions
        os.replace(tmp, path)
        created = False
    except OSError as e:
        raise ImageError(f"cannot save {path}: {e.strerror or e}") from None
    finally:
        if created:
            tmp.unlink(missing_ok=True)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return a.resolve() == b.resolve()


# ---------------------------------------------------------------- pixels

def _quantize(x: np.ndarray, top: int, dtype) -> np.ndarray:
    return (np.clip(x, 0.0, 1.0) * top + 0.5).astype(dtype)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return (rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.float32)


def _essentially_gray(rgb: np.ndarray) -> bool:
    """Fewer than 1% of pixels with channels more than 2/255 apart (model noise is tolerated)."""
    spread = rgb.max(axis=2) - rgb.min(axis=2)
    return float((spread > 2 / 255).mean()) < 0.01
