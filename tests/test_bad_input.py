"""Bad input and faults: each case gets one clear line (exit 2), writes nothing half-done,
modifies no input and shows no traceback, in the CLI and when the window opens a file.

Every file is generated in tmp_path. CLI cases run in-process; set STUDIO_TEST_SUBPROCESS=1 to
run each of them as a real `python -m studio` process instead (cases that monkeypatch the
process always run in-process). test_real_processes runs a few as real processes anyway.
"""

from __future__ import annotations

import errno
import io
import json
import os
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from studio import batch, checkpoints, imageio
from studio.catalogue import UpscaleOptions
from studio.checkpoints import list_checkpoints, load_model, save_checkpoint
from studio.cli import main
from studio.engines.tiling import MIN_TILE
from studio.errors import Cancelled, CheckpointError
from studio.jobs import Job
from studio.nets.tiny import TinyNet
from test_ui_support import window  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0  # root ignores file modes


# ------------------------------------------------------------------ files

def rgb(w: int, h: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def png(path: Path, w: int = 48, h: int = 40, seed: int = 0) -> Path:
    Image.fromarray(rgb(w, h, seed)).save(path, format="PNG")
    return path


def mask(path: Path, w: int = 48, h: int = 40) -> Path:
    m = np.zeros((h, w), np.uint8)
    m[h // 4: h // 2, w // 4: w // 2] = 255
    Image.fromarray(m).save(path)
    return path


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_with(chunk: bytes) -> bytes:
    """A small PNG with an extra chunk right after IHDR."""
    buf = io.BytesIO()
    Image.fromarray(rgb(48, 40)).save(buf, "PNG")
    data = buf.getvalue()
    return data[:33] + chunk + data[33:]


def write_tiff16(path: Path, arr: np.ndarray, orientation: int = 1) -> Path:
    """An uncompressed 16-bit RGB TIFF with an Orientation tag (Pillow cannot write one)."""
    h, w, c = arr.shape
    data = np.ascontiguousarray(arr, "<u2").tobytes()
    entries = [(256, 4, w), (257, 4, h), (258, 3, None), (259, 3, 1), (262, 3, 2), (273, 4, None),
               (274, 3, orientation), (277, 3, c), (278, 4, h), (279, 4, len(data)), (284, 3, 1)]
    bits_at = 8 + 2 + 12 * len(entries) + 4
    out = bytearray(b"II*\0" + struct.pack("<IH", 8, len(entries)))
    for tag, kind, value in entries:
        if tag == 258:
            out += struct.pack("<HHII", tag, kind, 3, bits_at)
        elif tag == 273:
            out += struct.pack("<HHII", tag, kind, 1, bits_at + 8)
        else:
            out += struct.pack("<HHI", tag, kind, 1) + struct.pack("<HH" if kind == 3 else "<I", *(
                (value, 0) if kind == 3 else (value,)))
    out += struct.pack("<I", 0) + struct.pack("<4H", 16, 16, 16, 0) + data
    path.write_bytes(bytes(out))
    return path


def _truncated(path: Path, fmt: str) -> None:
    buf = io.BytesIO()
    Image.fromarray(rgb(48, 40)).save(buf, fmt)
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])


def _bomb(path: Path) -> None:
    """A PNG whose header claims 60000x60000 (3.6 gigapixels)."""
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 100))
                     + _chunk(b"IEND", b""))


def _gif(path: Path) -> None:
    frames = [Image.fromarray(rgb(48, 40, s)) for s in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:])


def _loop(path: Path) -> None:
    path.symlink_to(path.name)  # a link to itself


# Files that are not images we can read: (name, writer, what the one line says).
BAD_IMAGES = [
    ("truncated.png", lambda p: _truncated(p, "PNG"), "damaged or truncated"),
    ("truncated.jpg", lambda p: _truncated(p, "JPEG"), "damaged or truncated"),
    ("text.png", lambda p: p.write_text("not an image"), "not a PNG, JPEG"),
    ("empty.png", lambda p: p.write_bytes(b""), "not a PNG, JPEG"),
    ("anim.gif", _gif, "GIF images are not supported"),
    ("bomb.png", _bomb, "3,600 megapixels, over the limit of 200 megapixels"),
    ("pipe.png", lambda p: os.mkfifo(p), "not a regular file"),
    ("loop.png", _loop, "symbolic links"),
    ("folder.png", lambda p: p.mkdir(), "folder"),
    ("x" * 252 + ".png", None, "too long"),  # never created: the name itself is illegal
]


# ------------------------------------------------------------------ running the CLI

def snapshot(folder: Path) -> dict:
    """Every regular file under folder and its bytes: no input may change, no temp file stay."""
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def cli(argv, capsys, here: bool = False) -> tuple[int, list[str]]:
    """Exit code and non-empty stderr lines of `studio ARGV` (in-process, or a real process with
    STUDIO_TEST_SUBPROCESS=1 unless `here`: the test patched this process)."""
    argv = [str(a) for a in argv]
    if os.environ.get("STUDIO_TEST_SUBPROCESS") and not here:
        r = subprocess.run([sys.executable, "-m", "studio", *argv], capture_output=True, text=True, timeout=300,
                           cwd=ROOT)
        err = r.stderr
        assert "Traceback" not in err and "Warning" not in err, err
        code = r.returncode
    else:
        code = cli_here(argv)
        err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


def cli_here(argv) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:  # argparse's usage errors
        return e.code


def one_error(code: int, lines: list[str], needle: str) -> None:
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("studio: error: "), lines
    assert needle in lines[0], lines


# ------------------------------------------------------------------ unreadable images

@pytest.mark.parametrize("name, write, needle", BAD_IMAGES, ids=[c[0][:16] for c in BAD_IMAGES])
@pytest.mark.parametrize("role", ["image", "mask"])
def test_bad_image_or_mask_is_one_line_and_writes_nothing(tmp_path, capsys, name, write, needle, role):
    bad = tmp_path / name
    if write:
        write(bad)
    good_image, good_mask = png(tmp_path / "ok.png"), mask(tmp_path / "m.png")
    before = snapshot(tmp_path)
    image, m = (bad, good_mask) if role == "image" else (good_image, bad)
    result: dict = {}
    # A pipe must be refused before it is opened: in a thread, so a regression fails instead of hanging.
    t = threading.Thread(target=lambda: result.update(out=cli(
        ["inpaint", image, m, "-o", tmp_path / "out.png", "--engine", "classic", "--quiet"], capsys)))
    t.start()
    t.join(60)
    if t.is_alive():
        open(bad, "wb").close()  # let the blocked reader go
        t.join()
        pytest.fail(f"reading {name} hung")
    code, lines = result["out"]
    one_error(code, lines, "both be files" if name == "folder.png" else needle)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name, write, needle", BAD_IMAGES, ids=[c[0][:16] for c in BAD_IMAGES])
def test_window_refuses_bad_images_with_a_dialog(window, tmp_path, name, write, needle):  # noqa: F811
    bad = tmp_path / name
    if write:
        write(bad)
    assert not window.files.open_path(bad)
    title, text, _ = window.dialogs.errors[-1]
    assert title == "Cannot open image" and needle in text


def test_pixel_limit_from_the_environment(tmp_path, capsys, monkeypatch, window):  # noqa: F811
    img = png(tmp_path / "a.png", 64, 64)
    args = ["inpaint", img, mask(tmp_path / "m.png"), "-o", tmp_path / "b.png", "--engine", "classic", "--quiet"]
    monkeypatch.setenv("STUDIO_MAX_PIXELS", "1000")
    code, lines = cli(args, capsys)
    # small sizes are written in pixels: "64x64 = 0 megapixels" said nothing
    one_error(code, lines, "64x64 = 4,096 pixels, over the limit of 1,000 pixels")
    for bad in ("-1", "0", "lots"):
        monkeypatch.setenv("STUDIO_MAX_PIXELS", bad)
        one_error(*cli(args, capsys), f"STUDIO_MAX_PIXELS must be a whole number of pixels above 0, not '{bad}'")
        assert not window.files.open_path(img)
        assert "STUDIO_MAX_PIXELS" in window.dialogs.errors[-1][1]
    assert not (tmp_path / "b.png").exists()


# ------------------------------------------------------------------ odd images that are fine

def _apng(p: Path) -> None:
    frames = [Image.fromarray(rgb(48, 40, s)) for s in range(3)]
    frames[0].save(p, format="PNG", save_all=True, append_images=frames[1:])


def _multipage(p: Path) -> None:
    pages = [Image.fromarray(rgb(48, 40, s)) for s in range(3)]
    pages[0].save(p, save_all=True, append_images=pages[1:])


def _float_nan(p: Path) -> None:
    f = np.random.default_rng(0).random((40, 48)).astype(np.float32)
    f[0, 0], f[1, 1], f[2, 2] = np.nan, np.inf, -5
    Image.fromarray(f, "F").save(p)


def _palette_transparent(p: Path) -> None:
    Image.fromarray(rgb(48, 40)).convert("P").save(p, transparency=0)


def _broken_exif_jpeg(p: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(rgb(48, 40)).save(buf, "JPEG")
    app1 = b"Exif\0\0MM\0*\0\0\0\x08\x00\x05" + bytes(range(40))  # 5 entries promised, garbage given
    data = buf.getvalue()
    p.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:])


ODD_IMAGES = [  # (name, writer, expected (w, h), frames)
    ("png-named.jpg", lambda p: png(p), (48, 40), 1),
    ("one.png", lambda p: png(p, 1, 1), (1, 1), 1),
    ("strip.png", lambda p: png(p, 100000, 2), (100000, 2), 1),
    ("deep.tif", lambda p: write_tiff16(p, np.full((40, 48, 3), 30000, np.uint16)), (48, 40), 1),
    ("float.tif", _float_nan, (48, 40), 1),
    ("cmyk.jpg", lambda p: Image.fromarray(rgb(48, 40)).convert("CMYK").save(p), (48, 40), 1),
    ("cmyk-bad-icc.jpg", lambda p: Image.fromarray(rgb(48, 40)).convert("CMYK").save(p, icc_profile=b"junk" * 40),
     (48, 40), 1),
    ("palette.png", _palette_transparent, (48, 40), 1),
    ("anim.png", _apng, (48, 40), 3),
    ("pages.tif", _multipage, (48, 40), 3),
    ("bad-exif.jpg", _broken_exif_jpeg, (48, 40), 1),
    ("bad-icc.png", lambda p: p.write_bytes(_png_with(_chunk(b"iCCP", b"x\0\0" + zlib.compress(b"junk" * 20)))),
     (48, 40), 1),
    ("bad-icc-zlib.png", lambda p: p.write_bytes(_png_with(_chunk(b"iCCP", b"x\0\0not zlib"))), (48, 40), 1),
    ("фото 写真 📷.png", lambda p: png(p), (48, 40), 1),
]


@pytest.mark.parametrize("name, write, size, frames", ODD_IMAGES, ids=[c[0] for c in ODD_IMAGES])
def test_odd_images_open_in_the_window(window, tmp_path, name, write, size, frames):  # noqa: F811
    write(tmp_path / name)
    assert window.files.open_path(tmp_path / name), window.dialogs.errors
    assert window.document.size == size
    pic = imageio.load_image(tmp_path / name)
    assert pic.frames == frames and np.isfinite(pic.rgb).all() and 0 <= pic.rgb.min() <= pic.rgb.max() <= 1


def test_float_tiff_nan_becomes_0_and_inf_1(tmp_path):
    _float_nan(tmp_path / "f.tif")
    grey = imageio.load_image(tmp_path / "f.tif").rgb[..., 0]
    assert grey[0, 0] == 0 and grey[1, 1] == 1 and grey[2, 2] == 0


@pytest.mark.parametrize("name", ["anim.png", "pages.tif"])
def test_first_frame_is_used_and_said(tmp_path, capsys, name):
    (_apng if name == "anim.png" else _multipage)(tmp_path / name)
    code, lines = cli(["inpaint", tmp_path / name, mask(tmp_path / "m.png"), "-o", tmp_path / "o.png",
                       "--engine", "classic", "--quiet"], capsys)
    assert code == 0 and any("holds 3 frames or pages; only the first was used" in line for line in lines), lines
    out = np.asarray(Image.open(tmp_path / "o.png"))
    hole = np.asarray(Image.open(tmp_path / "m.png")) > 127
    assert np.array_equal(out[~hole], rgb(48, 40, 0)[~hole])  # frame 0's pixels, not another frame's


@pytest.mark.parametrize("orientation", range(1, 9))
def test_16bit_tiff_orientation_is_applied_once(tmp_path, orientation):
    # OpenCV's TIFF decoder rotates by the Orientation tag itself; we used to rotate again.
    arr = np.zeros((20, 40, 3), np.uint16)
    arr[:5, :10, 0] = 65535  # a red corner that shows any flip or turn
    src = write_tiff16(tmp_path / "o.tif", arr, orientation)
    pic = imageio.load_image(src)
    with Image.open(src) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))[..., 0] > 127
    assert pic.bit_depth == 16
    assert np.array_equal(pic.rgb[..., 0] > 0.5, expected)


# ------------------------------------------------------------------ masks of the wrong kind

def _save_mask(path: Path, arr: np.ndarray) -> Path:
    if arr.dtype == np.uint16:
        cv2.imwrite(str(path), arr)
    else:
        Image.fromarray(arr).save(path)
    return path


def _hole(h=40, w=48):
    m = np.zeros((h, w), bool)
    m[10:20, 12:24] = True
    return m


MASKS = [  # (name, array, whether it marks the hole)
    ("rgb-white.png", np.where(_hole()[..., None], 255, 0).repeat(3, 2).astype(np.uint8), True),
    ("16bit.png", np.where(_hole(), 65535, 0).astype(np.uint16), True),
    ("alpha.png", np.dstack([np.zeros((40, 48, 3), np.uint8), np.where(_hole(), 255, 0).astype(np.uint8)]), True),
    ("bigger.png", np.where(cv2.resize(_hole().astype(np.uint8), (480, 400), interpolation=cv2.INTER_NEAREST) > 0,
                            255, 0).astype(np.uint8), True),
    ("rgb-red.png", np.where(_hole()[..., None], [255, 0, 0], 0).astype(np.uint8), False),  # not white: no hole
]


@pytest.mark.parametrize("name, arr, marks", MASKS, ids=[c[0] for c in MASKS])
def test_masks_of_other_kinds(tmp_path, capsys, name, arr, marks):
    img = png(tmp_path / "a.png")
    m = _save_mask(tmp_path / name, arr)
    code, lines = cli(["inpaint", img, m, "-o", tmp_path / "o.png", "--engine", "classic", "--quiet"], capsys)
    if not marks:
        one_error(code, lines, "the mask is empty")
        return
    assert code == 0, lines
    out, before = np.asarray(Image.open(tmp_path / "o.png")), rgb(48, 40)
    changed = (out != before).any(axis=2)
    assert changed[_hole()].mean() > 0.5 and not changed[~_hole()].any()


# ------------------------------------------------------------------ outputs

def _inpaint_to(tmp_path, output, capsys, here: bool = False):
    img, m = png(tmp_path / "a.png"), mask(tmp_path / "m.png")  # the same bytes every time
    return cli(["inpaint", img, m, "-o", output, "--engine", "classic", "--quiet"], capsys, here)


def test_output_under_a_file(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    png(tmp_path / "a.png"), mask(tmp_path / "m.png")
    before = snapshot(tmp_path)
    one_error(*_inpaint_to(tmp_path, tmp_path / "afile" / "sub" / "o.png", capsys), "afile is a file, not a folder")
    one_error(*_inpaint_to(tmp_path, tmp_path / "afile" / "o.png", capsys), "afile is a file, not a folder")
    assert snapshot(tmp_path) == before


def test_output_name_too_long(tmp_path, capsys):
    one_error(*_inpaint_to(tmp_path, tmp_path / ("a" * 252 + ".png"), capsys), "is 256 bytes long; file names hold at most 255")
    one_error(*_inpaint_to(tmp_path, tmp_path / ("d" * 256) / "o.png", capsys), "256 bytes long")


@pytest.mark.parametrize("stem", ["b" * 236, "c" * 251, "é" * 125])  # 240, 255 and 254 bytes with ".png"
def test_long_legal_names_are_saved(tmp_path, capsys, stem):
    out = tmp_path / f"{stem}.png"
    assert len(os.fsencode(out.name)) <= 255
    code, lines = _inpaint_to(tmp_path, out, capsys)
    assert code == 0 and out.is_file(), lines
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_unicode_paths(tmp_path, capsys):
    folder = tmp_path / "Фото 写真"
    folder.mkdir()
    img, m = png(folder / "ёжик 🦔.png"), mask(folder / "маска.png")
    code, lines = cli(["inpaint", img, m, "-o", folder / "результат 結果.jpg", "--engine", "classic", "--quiet"], capsys)
    assert code == 0 and (folder / "результат 結果.jpg").is_file(), lines


def test_read_only_output_folder(tmp_path, capsys, monkeypatch):
    out = tmp_path / "ro"
    out.mkdir()
    if IS_ROOT:  # root writes anywhere: make the file system say no
        monkeypatch.setattr(batch.os, "access", lambda p, mode: Path(p) != out)
    else:
        out.chmod(0o555)
    try:
        one_error(*_inpaint_to(tmp_path, out / "o.png", capsys, here=IS_ROOT), "cannot write into the output folder")
    finally:
        out.chmod(0o755)
    assert list(out.iterdir()) == []


def test_new_folder_under_a_read_only_folder(tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    if IS_ROOT:
        monkeypatch.setattr(batch.os, "access", lambda p, mode: Path(p) != ro)
    else:
        ro.chmod(0o555)
    try:
        one_error(*_inpaint_to(tmp_path, ro / "new" / "deeper" / "o.png", capsys, here=IS_ROOT),
                  f"{ro}: permission denied")
    finally:
        ro.chmod(0o755)
    assert list(ro.iterdir()) == []


def test_batch_onto_a_read_only_file_system_fails_once_before_loading(tmp_path, capsys, monkeypatch):
    from studio import model_cache

    imgs, masks, out = tmp_path / "imgs", tmp_path / "masks", tmp_path / "out"
    for d in (imgs, masks, out):
        d.mkdir()
    for n in "abc":
        png(imgs / f"{n}.png"), mask(masks / f"{n}.png")

    class ReadOnly:
        f_flag = os.ST_RDONLY

    monkeypatch.setattr(batch.os, "access", lambda p, mode: Path(p) != out)
    monkeypatch.setattr(batch.os, "statvfs", lambda p: ReadOnly())
    built = []
    monkeypatch.setattr(model_cache, "build_engine", lambda *a: built.append(a))
    code = cli_here(["inpaint", imgs, masks, "-o", out, "--engine", "classic", "--quiet"])
    one_error(code, [ln for ln in capsys.readouterr().err.splitlines() if ln], "read-only file system")
    assert built == [] and list(out.iterdir()) == []


def test_mkdir_failure_is_one_line(tmp_path, capsys, monkeypatch):
    # e.g. the disk fills or the folder is made read-only between the check and the creation
    def refuse(self, *a, **k):
        raise OSError(errno.EROFS, "Read-only file system", str(self))
    monkeypatch.setattr(Path, "mkdir", refuse)
    one_error(*_inpaint_to(tmp_path, tmp_path / "new" / "o.png", capsys, here=True), "it is on a read-only file system")


@pytest.mark.parametrize("fault", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "ctrl-c"])
def test_fault_during_the_write_leaves_the_target_untouched(tmp_path, capsys, monkeypatch, fault):
    target = tmp_path / "o.png"
    target.write_bytes(b"the previous result")
    img, m = png(tmp_path / "a.png"), mask(tmp_path / "m.png")
    before = snapshot(tmp_path)

    def fail(*a):
        raise fault
    monkeypatch.setattr(imageio.os, "fsync", fail)  # mid-write, after the temp file has data
    code = cli_here(["inpaint", img, m, "-o", target, "--engine", "classic", "--quiet"])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln]
    if isinstance(fault, KeyboardInterrupt):
        assert code == 130 and lines == ["studio: cancelled"]
    else:
        one_error(code, lines, "No space left on device")
    assert snapshot(tmp_path) == before  # same files, same bytes: no temp file left, nothing replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "m.png", "o.png"]


def test_output_is_an_input(tmp_path, capsys):
    imgs, masks = tmp_path / "imgs", tmp_path / "masks"
    imgs.mkdir(), masks.mkdir()
    img, m = png(imgs / "a.png"), mask(masks / "a.png")
    (tmp_path / "link.png").symlink_to(img)
    before = snapshot(tmp_path)
    base = ["inpaint", img, m, "--engine", "classic", "--quiet"]
    one_error(*cli(base + ["-o", m], capsys), "refusing to overwrite the input file")  # the mask, even in a single run
    one_error(*cli(["inpaint", imgs, masks, "-o", imgs, "--engine", "classic", "--quiet"], capsys), "input folder")
    assert snapshot(tmp_path) == before
    # A single run may name its image as output on purpose; through a link, the link is replaced
    # by the result and the original stays as it was.
    assert cli(base + ["-o", tmp_path / "link.png"], capsys)[0] == 0
    assert img.read_bytes() == before[img] and not (tmp_path / "link.png").is_symlink()


def test_output_onto_a_pipe(tmp_path, capsys):
    os.mkfifo(tmp_path / "o.png")
    one_error(*_inpaint_to(tmp_path, tmp_path / "o.png", capsys), "not a regular file")


def test_unknown_output_extension_fails_before_loading(tmp_path, capsys, monkeypatch):
    from studio import model_cache

    built = []
    monkeypatch.setattr(model_cache, "build_engine", lambda *a: built.append(a))
    one_error(*_inpaint_to(tmp_path, tmp_path / "o.gif", capsys, here=True), "unknown extension '.gif'")
    assert built == []


def test_window_save_of_bad_names_is_a_dialog(window, tmp_path):  # noqa: F811
    assert window.files.open_path(png(tmp_path / "a.png"))
    (tmp_path / "afile").write_text("x")
    for target, needle in [(tmp_path / ("a" * 252 + ".png"), "too long"),
                           (tmp_path / "afile" / "o.png", "afile is a file, not a folder")]:
        assert not window.files.write(target, window.document.picture)
        assert needle in window.dialogs.errors[-1][1]


# ------------------------------------------------------------------ engine options

@pytest.mark.parametrize("argv, needle", [
    (["inpaint", "a.png", "m.png", "--steps", "0"], "--steps wants a whole number from 1 to 5000, got '0'"),
    (["inpaint", "a.png", "m.png", "--seed", "-1"], "--seed wants a whole number from 0"),
    (["inpaint", "a.png", "m.png", "--seed", str(2**70)], "--seed wants a whole number from 0"),
    (["inpaint", "a.png", "m.png", "--detail", "nan"], "--detail wants a number from 0 to 1"),
    (["inpaint", "a.png", "m.png", "--box", "1,2,0,4"], "x,y,w,h"),
    (["upscale", "a.png", "--tile", str(MIN_TILE - 1)], f"--tile wants a whole number from {MIN_TILE}"),
    (["upscale", "a.png", "--tile", "1e9"], "--tile wants a whole number"),
    (["edit", "a.png", "--set", "Smiling"], "NAME=VALUE"),
], ids=["steps0", "seed-1", "seed2**70", "detail-nan", "box0", "tile31", "tile1e9", "set"])
def test_bad_options_are_one_line(tmp_path, capsys, argv, needle):
    one_error(*cli(argv + ["-o", tmp_path / "o.png"], capsys), needle)


def test_tile_minimum_is_one_number():
    from studio import options as opt

    tile = next(f for f in opt.fields(UpscaleOptions) if f.name == "tile")
    assert opt.spec(tile).lo == MIN_TILE == 32
    assert UpscaleOptions(tile=MIN_TILE).tile == 32


@pytest.mark.parametrize("argv", [
    ["inpaint", "{img}", "{mask}", "--engine", "face", "--box", "0,0,999999999,999999999"],
    ["inpaint", "{img}", "{mask}", "--box", "0,0,999999999,999999999"],
    ["edit", "{img}", "--set", "Smiling=1", "--box", "0,0,999999999,999999999"],
], ids=["face", "auto", "edit"])
def test_huge_face_box_is_an_error_not_an_allocation(tmp_path, capsys, argv):
    names = {"{img}": png(tmp_path / "a.png"), "{mask}": mask(tmp_path / "m.png")}
    argv = [names.get(a, a) for a in argv] + ["-o", tmp_path / "o.png", "--quiet"]
    one_error(*cli(argv, capsys), "is far larger than the 48x40 image")
    assert not (tmp_path / "o.png").exists()


# ------------------------------------------------------------------ tiny and thin images

@pytest.fixture(scope="module")
def photo_engine():
    from studio.engines.inpaint_photo import PhotoInpainter

    return PhotoInpainter("photo-inpaint", "cpu")


@pytest.mark.parametrize("w, h", [(3, 3), (100000, 2), (2, 100000), (7, 5)])
def test_photo_engine_on_sides_under_8_px(photo_engine, w, h):
    img = rgb(w, h).astype(np.float32) / 255
    hole = np.zeros((h, w), np.float32)
    hole[h // 2, w // 2] = 1  # one pixel: the crop around it is under 8 px on some side
    out = photo_engine.run(img, hole)
    assert out.shape == img.shape and np.isfinite(out).all()
    far = np.ones((h, w), bool)
    far[max(0, h // 2 - 3): h // 2 + 4, max(0, w // 2 - 3): w // 2 + 4] = False
    assert np.array_equal(out[far], img[far])  # pixels beyond the feather come back as they were


def test_auto_engine_on_a_3x3_and_a_strip(tmp_path, capsys):
    for w, h in [(3, 3), (2000, 2)]:
        img = png(tmp_path / f"{w}.png", w, h)
        m = np.zeros((h, w), np.uint8)
        m[h // 2, w // 2] = 255
        Image.fromarray(m).save(tmp_path / f"m{w}.png")
        code, lines = cli(["inpaint", img, tmp_path / f"m{w}.png", "-o", tmp_path / f"o{w}.png", "--quiet"], capsys)
        assert code == 0 and Image.open(tmp_path / f"o{w}.png").size == (w, h), lines


# ------------------------------------------------------------------ checkpoints and cards

@pytest.fixture
def store(tmp_path, monkeypatch):
    """An empty user folder searched before an empty bundled one."""
    user, bundled = tmp_path / "user", tmp_path / "bundled"
    user.mkdir(), bundled.mkdir()
    monkeypatch.delenv("STUDIO_NO_USER_MODELS", raising=False)
    monkeypatch.setenv("STUDIO_MODELS_DIR", str(user))
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(bundled))
    return user, bundled


def _tiny(folder: Path, name: str = "tiny", **config) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(TinyNet(**config), folder / name, architecture="tiny", config=config, card={"task": "test"},
                           dtype=torch.float32)


def _edit_card(folder: Path, name: str = "tiny", **fields) -> None:
    path = folder / f"{name}.json"
    card = json.loads(path.read_text())
    card.update(fields)
    path.write_text(json.dumps(card))


def test_tampered_user_model_is_not_replaced_by_the_bundled_one(store, capsys):
    user, bundled = store
    _tiny(bundled)
    weights = _tiny(user)
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    with pytest.raises(CheckpointError, match=f"sha256 does not match.*the tiny in {bundled} is not used in its place"):
        load_model("tiny")
    assert cli_here(["models"]) == 0
    err = capsys.readouterr().err
    assert "problem:" in err and "sha256 does not match" in err and "not used in its place" in err


def test_broken_user_card_is_not_replaced_by_the_bundled_one(store):
    user, bundled = store
    _tiny(bundled)
    _tiny(user)
    (user / "tiny.json").write_text("{not json")
    found, problems = list_checkpoints()
    assert found == [] and len(problems) == 1 and "not used in its place" in problems[0]
    with pytest.raises(CheckpointError, match="not readable JSON.*not used in its place"):
        load_model("tiny")


@pytest.mark.parametrize("config, needle", [
    ({"width": 10**8}, "'width' = 100000000 is out of bounds"),
    ({"width": -4}, "'width' = -4 is out of bounds"),
    ({"width": 1e300}, "out of bounds"),
    ({"width": [8] * 1000}, "out of bounds"),
    ({"width": {"nested": 1}}, "out of bounds"),
    ("width=8", "not a set of named values"),
], ids=["1e8", "negative", "1e300", "long-list", "nested", "string"])
def test_absurd_card_configs_are_refused_before_building(store, monkeypatch, config, needle):
    from studio.nets import registry

    _tiny(store[1])
    _edit_card(store[1], config=config)
    built = []
    monkeypatch.setattr(registry, "build", lambda *a: built.append(a))
    with pytest.raises(CheckpointError, match=needle):
        load_model("tiny")
    assert built == []  # not even on the meta device


def test_card_that_does_not_fit_its_file_is_refused_before_allocating(store, monkeypatch):
    _tiny(store[1], width=8)
    _edit_card(store[1], config={"width": 1024})  # in bounds, but not what the file holds
    calls = []
    real = checkpoints._build
    monkeypatch.setattr(checkpoints, "_build", lambda info, config, meta=False: calls.append(meta) or real(info, config, meta))
    with pytest.raises(CheckpointError, match="does not fit architecture 'tiny'"):
        load_model("tiny")
    assert calls == [True]  # shapes came from the meta device; no real net was built


def test_unreadable_weights_file(store, monkeypatch):
    weights = _tiny(store[1])
    if IS_ROOT:
        def denied(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        monkeypatch.setattr(checkpoints, "sha256_of", denied)
    else:
        weights.chmod(0)
    try:
        with pytest.raises(CheckpointError, match="cannot read .*tiny.safetensors: Permission denied"):
            load_model("tiny")
    finally:
        weights.chmod(0o644)


def test_unreadable_models_folder(store, capsys, monkeypatch):
    user, bundled = store
    _tiny(bundled, "other")
    real = Path.iterdir

    def iterdir(self):
        if self == user:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self)
    monkeypatch.setattr(Path, "iterdir", iterdir)
    assert cli_here(["models"]) == 0
    out, err = capsys.readouterr()
    assert "other" in out and f"problem: cannot read models folder {user}: Permission denied" in err


def test_models_folder_and_file_link_loops(store, capsys, monkeypatch, tmp_path):
    user, bundled = store
    _tiny(bundled)
    (user / "tiny.safetensors").symlink_to("tiny.safetensors")  # a loop shadowing the bundled name
    with pytest.raises(CheckpointError, match="broken link or a link loop.*not used in its place"):
        load_model("tiny")
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    monkeypatch.setenv("STUDIO_MODELS_DIR", str(loop))
    assert cli_here(["models"]) == 0
    assert "problem: cannot read models folder" in capsys.readouterr().err


# ------------------------------------------------------------------ cancelling an upscale

def test_upscale_cancel_takes_effect_inside_a_tile():
    from studio.engines.upscale import Upscaler

    job, ran = Job(), []

    class Step(torch.nn.Module):
        def __init__(self, act):
            super().__init__()
            self.act = act

        def forward(self, x):
            self.act()
            return x

    # The first layer is where the user presses Cancel; nothing after it may run.
    net = torch.nn.Sequential(Step(job.token.cancel), torch.nn.Upsample(scale_factor=4), Step(lambda: ran.append(1)))
    engine = Upscaler(net, "cpu", autocast=False)
    with pytest.raises(Cancelled):
        engine.run(np.zeros((40, 40, 3), np.float32), None, UpscaleOptions(tile=64), job)
    assert ran == []
    assert engine.run(np.zeros((8, 8, 3), np.float32)).shape == (32, 32, 3)  # a later job runs normally


# ------------------------------------------------------------------ real processes

@pytest.mark.slow
def test_real_processes_print_one_line_and_no_traceback(tmp_path):
    img, m = png(tmp_path / "a.png"), mask(tmp_path / "m.png")
    _truncated(tmp_path / "t.png", "PNG")
    _bomb(tmp_path / "bomb.png")
    os.mkfifo(tmp_path / "pipe.png")
    _broken_exif_jpeg(tmp_path / "exif.jpg")
    _float_nan(tmp_path / "nan.tif")
    (tmp_path / "afile").write_text("x")
    o = str(tmp_path / "o.png")
    cases = [  # argv, extra environment, exit code
        (["inpaint", tmp_path / "t.png", m, "-o", o], {}, 2),
        (["inpaint", tmp_path / "bomb.png", m, "-o", o], {}, 2),
        (["inpaint", tmp_path / "pipe.png", m, "-o", o], {}, 2),
        (["inpaint", img, m, "-o", tmp_path / "afile" / "o.png"], {}, 2),
        (["inpaint", img, m, "-o", tmp_path / ("a" * 256)], {}, 2),
        (["inpaint", img, m, "-o", o, "--steps", "0"], {}, 2),
        (["inpaint", img, m, "-o", o], {"STUDIO_MAX_PIXELS": "-1"}, 2),
        (["inpaint", tmp_path / "exif.jpg", m, "-o", tmp_path / "e.png"], {}, 0),  # no "UserWarning: Corrupt EXIF"
        (["inpaint", tmp_path / "nan.tif", m, "-o", tmp_path / "n.png"], {}, 0),  # no numpy RuntimeWarning
    ]
    for argv, env, expected in cases:
        r = subprocess.run([sys.executable, "-m", "studio", *map(str, argv), "--engine", "classic", "--quiet"],
                           capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, **env})
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == expected, (argv, r.stderr)
        assert "Traceback" not in r.stderr and "Warning" not in r.stderr, (argv, r.stderr)
        if expected == 2:
            assert len(lines) == 1 and lines[0].startswith("studio: error: "), (argv, r.stderr)
