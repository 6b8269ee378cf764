"""studio/data: the shared file readers, the one PSNR, and the package's layering."""

import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from studio.data.images import centre_crop, find_images, held_out, list_images, read_rgb, read_square
from studio.data.masks import bin_of, fit_mask, read_mask, split_masks
from studio.errors import StudioError
from studio.metrics import psnr

DATA = Path(__file__).resolve().parent.parent / "studio" / "data"


def _save(path: Path, value: int, size=(8, 8)) -> None:
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(path)


def test_images_come_in_numeric_name_order(tmp_path):
    for name in ("10.jpg", "2.jpg", "b.png", "1.png", "a.webp"):
        _save(tmp_path / name, 0)
    (tmp_path / "notes.txt").write_text("not an image")
    assert [p.name for p in list_images(tmp_path)] == ["1.png", "2.jpg", "10.jpg", "a.webp", "b.png"]

    sub = tmp_path / "sub"
    sub.mkdir()
    _save(sub / "3.png", 0)
    found = [p.relative_to(tmp_path).as_posix() for p in find_images([tmp_path])]
    assert found == ["1.png", "2.jpg", "10.jpg", "a.webp", "b.png", "sub/3.png"]
    # held_out takes the folder's own files only, never a subfolder's
    assert [p.name for p in held_out(tmp_path, 2)] == ["a.webp", "b.png"] and held_out(tmp_path, 0) == []
    with pytest.raises(StudioError, match="does not exist"):
        list_images(tmp_path / "missing")


def test_image_readers(tmp_path):
    rgb = np.zeros((40, 20, 3), np.uint8)
    rgb[..., 0] = 200  # red: a swapped channel order would show
    Image.fromarray(rgb).save(tmp_path / "r.png")
    assert np.array_equal(read_rgb(tmp_path / "r.png"), rgb)
    small = read_square(tmp_path / "r.png", 16)
    assert small.shape == (16, 16, 3) and small.dtype == np.float32
    assert np.allclose(small[..., 0], 200 / 255) and np.all(small[..., 1:] == 0)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    for reader in (read_rgb, read_square):
        with pytest.raises(StudioError, match="bad.png"):
            reader(tmp_path / "bad.png")

    crop = centre_crop(np.arange(6 * 10).reshape(6, 10), 4)
    assert crop.tolist() == [[13, 14, 15, 16], [23, 24, 25, 26], [33, 34, 35, 36], [43, 44, 45, 46]]
    assert centre_crop(np.zeros((10, 30, 3), np.uint8), 20).shape == (20, 20, 3)  # the short side grown


def test_psnr_is_inf_on_identical_images_and_where_limits_the_mean():
    a = np.zeros((4, 4, 3), np.float32)
    assert psnr(a, a) == math.inf and psnr(a, a, peak=1.0, where=np.ones((4, 4), bool)) == math.inf
    b = a.copy()
    b[0, 0] = 0.1
    b[3, 3] = 0.2
    where = np.zeros((4, 4), bool)
    where[0, 0] = where[1, 1] = True
    # two pixels of 3 channels: squared errors 0.01 x 3 and 0 x 3 -> MSE 0.005
    assert psnr(b, a, peak=1.0, where=where) == pytest.approx(10 * math.log10(1 / 0.005), abs=1e-5)
    # the whole image: (3 x 0.01 + 3 x 0.04) / 48 -> MSE 0.003125
    assert psnr(b, a, peak=1.0) == pytest.approx(10 * math.log10(1 / 0.003125), abs=1e-5)
    assert psnr(b * 255, a * 255) == pytest.approx(psnr(b, a, peak=1.0), abs=1e-4)  # the default peak is 255


def test_masks_read_fit_and_split(tmp_path):
    m8 = np.zeros((512, 512), np.uint8)
    m8[:256, :256] = 255  # a quarter hole, top left
    for name in ("00000.png", "00001.png", "00002.png", "10001.png", "10000.png"):
        cv2.imwrite(str(tmp_path / name), m8)
    read = read_mask(tmp_path / "00001.png")
    assert read.dtype == np.uint8 and np.array_equal(read, m8)
    hole = fit_mask(read, 64)
    assert hole.shape == (64, 64) and hole.dtype == np.float32
    assert hole[:32, :32].all() and hole.sum() == 32 * 32
    assert fit_mask(read, 512).sum() == 256 * 256
    assert bin_of(Path("10042.png")) == 5
    train, val = split_masks(tmp_path, 1)
    assert [p.name for p in train] == ["00000.png", "00001.png", "10000.png"]
    assert {b: [p.name for p in files] for b, files in val.items()} == {0: ["00002.png"], 5: ["10001.png"]}
    with pytest.raises(StudioError, match="cannot read mask"):
        read_mask(tmp_path / "missing.png")


def test_data_imports_no_torch_qt_or_training_code():
    modules = sorted(f"studio.data.{p.stem}" for p in DATA.glob("*.py") if p.stem != "__init__")
    assert {"studio.data.attributes", "studio.data.images", "studio.data.masks"} <= set(modules)
    for path in DATA.glob("*.py"):  # also the lazy imports inside functions
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                root = words[1].split(".")[0]
                assert root not in ("torch", "PySide6", "shiboken6"), f"{path.name}: {line.strip()}"
                assert not words[1].startswith("studio.train"), f"{path.name}: {line.strip()}"
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6')"
              " or m.startswith('studio.train'))\n"
              "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=DATA.parent.parent)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
