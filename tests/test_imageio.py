"""studio.imageio: formats, metadata, alpha, 16-bit, limits, damaged files and safe saving."""

import os
import struct
import warnings
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from studio import imageio
from studio.errors import ImageError
from studio.imageio import Picture, load_image, load_mask, resize_alpha, save_image, with_rgb

SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture(autouse=True)
def _default_limit(monkeypatch):
    monkeypatch.delenv("STUDIO_MAX_PIXELS", raising=False)


def smooth_rgb(h=24, w=32):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.dstack([x / (w - 1), y / (h - 1), (x + y) / (w + h - 2)]).astype(np.float32)


def u8(a):
    return (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)


def make_exif(orientation=None):
    exif = Image.Exif()
    exif[0x010F] = "TestMake"          # Make
    exif[0x013B] = "Test Artist"       # Artist
    exif.get_ifd(0x8769)[0x9003] = "2020:01:02 03:04:05"  # DateTimeOriginal, in the Exif sub-IFD
    if orientation:
        exif[0x0112] = orientation
    return exif.tobytes()


# ------------------------------------------------------------------ round trips

@pytest.mark.parametrize("ext,tol", [(".png", 0), (".tif", 0), (".bmp", 0), (".jpg", 0.04), (".webp", 0.04)])
def test_round_trip_each_format(tmp_path, ext, tol):
    src = tmp_path / f"src{ext}"
    Image.fromarray(u8(smooth_rgb())).save(src)
    pic = load_image(src)
    assert pic.rgb.shape == (24, 32, 3) and pic.rgb.dtype == np.float32
    assert pic.size == (32, 24) and pic.bit_depth == 8 and pic.alpha is None
    assert pic.format == imageio.FORMATS[ext] and pic.source == src
    out = tmp_path / f"out{ext}"
    assert save_image(out, pic) == []
    back = load_image(out)
    err = np.abs(back.rgb - pic.rgb)
    if tol == 0:
        assert err.max() == 0
    else:
        assert err.mean() < tol
    assert np.array_equal(pic.to_uint8(), np.asarray(Image.open(src).convert("RGB")))


def test_unknown_extension_refused(tmp_path):
    pic = Picture(smooth_rgb())
    with pytest.raises(ImageError, match=r"\.gif"):
        save_image(tmp_path / "x.gif", pic)


# ------------------------------------------------------------------ orientation

def test_exif_orientation_applied_and_reset(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)  # 40 wide, 20 high
    arr[:5, :5] = (255, 0, 0)              # red block at the stored top-left
    src = tmp_path / "rot.png"
    Image.fromarray(arr).save(src, exif=make_exif(orientation=6))
    pic = load_image(src)
    assert pic.size == (20, 40)  # rotated 90 degrees clockwise for display
    assert np.allclose(pic.rgb[0, -1], (1, 0, 0)) and np.allclose(pic.rgb[0, 0], 0)
    out = tmp_path / "out.jpg"
    save_image(out, pic)
    with Image.open(out) as im:
        assert im.getexif().get(0x0112, 1) == 1  # pixels are upright: no second rotation
        assert im.size == (20, 40)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_16bit_orientation_matches_pillow(tmp_path, orientation):
    # 16-bit colour goes through OpenCV, which rotates with our own table: compare to Pillow.
    rgb = np.random.default_rng(orientation).random((6, 9, 3)).astype(np.float32)
    src = tmp_path / "o16.png"
    save_image(src, Picture(rgb, bit_depth=16, exif=make_exif(orientation)))
    pic = load_image(src)
    with Image.open(src) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    assert pic.bit_depth == 16
    assert np.abs(pic.to_uint8().astype(int) - expected).max() <= 1


# ------------------------------------------------------------------ metadata

@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tif"])
def test_icc_and_exif_survive(tmp_path, ext):
    src = tmp_path / f"src{ext}"
    Image.fromarray(u8(smooth_rgb())).save(src, icc_profile=SRGB_ICC, exif=make_exif())
    pic = load_image(src)
    assert pic.icc == SRGB_ICC
    out = tmp_path / f"out{ext}"
    save_image(out, with_rgb(pic, 1.0 - pic.rgb))
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == SRGB_ICC
        exif = im.getexif()
        assert exif[0x010F] == "TestMake" and exif[0x013B] == "Test Artist"
        assert exif.get_ifd(0x8769)[0x9003] == "2020:01:02 03:04:05"


def test_16bit_png_keeps_icc_and_exif(tmp_path):
    out = tmp_path / "deep.png"
    save_image(out, Picture(smooth_rgb(), bit_depth=16, icc=SRGB_ICC, exif=make_exif()))
    pic = load_image(out)
    assert pic.icc == SRGB_ICC and pic.bit_depth == 16
    exif = Image.Exif()
    exif.load(pic.exif)
    assert exif[0x010F] == "TestMake"


def test_tiff_layout_tags_not_copied_into_exif(tmp_path):
    src = tmp_path / "src.tif"
    Image.fromarray(u8(smooth_rgb())).save(src, exif=make_exif())
    exif = Image.Exif()
    exif.load(load_image(src).exif)
    assert exif[0x010F] == "TestMake" and 273 not in exif and 256 not in exif  # StripOffsets, width


def test_profile_of_other_colour_space_dropped(tmp_path):
    lab_icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()  # not RGB
    notes = save_image(tmp_path / "x.png", Picture(smooth_rgb(), icc=lab_icc))
    assert any("profile" in n for n in notes)
    assert "icc_profile" not in Image.open(tmp_path / "x.png").info


# ------------------------------------------------------------------ alpha

def test_rgba_alpha_split_and_reattached(tmp_path):
    rgb = u8(smooth_rgb())
    alpha = np.tile(np.linspace(0, 255, 32).astype(np.uint8), (24, 1))
    src = tmp_path / "a.png"
    Image.fromarray(np.dstack([rgb, alpha])).save(src)
    pic = load_image(src)
    assert pic.rgb.shape == (24, 32, 3) and pic.alpha.shape == (24, 32)
    assert np.array_equal(u8(pic.alpha), alpha)
    save_image(tmp_path / "b.png", pic)
    with Image.open(tmp_path / "b.png") as im:
        assert im.mode == "RGBA"
        assert np.array_equal(np.asarray(im)[..., 3], alpha)
        assert np.array_equal(np.asarray(im)[..., :3], rgb)


def test_alpha_into_jpeg_flattened_onto_white(tmp_path):
    alpha = np.zeros((24, 32), np.float32)
    alpha[:, 16:] = 1.0
    pic = Picture(np.zeros((24, 32, 3), np.float32), alpha)
    notes = save_image(tmp_path / "x.jpg", pic)
    assert any("transparen" in n for n in notes)
    out = np.asarray(Image.open(tmp_path / "x.jpg").convert("RGB")).astype(int)
    assert out[:, :12].min() > 245 and out[:, 20:].max() < 10


def test_opaque_alpha_into_jpeg_no_warning(tmp_path):
    pic = Picture(smooth_rgb(), np.ones((24, 32), np.float32))
    assert save_image(tmp_path / "x.jpg", pic) == []


def test_with_rgb_and_resize_alpha():
    pic = Picture(smooth_rgb(), np.full((24, 32), 0.5, np.float32), icc=SRGB_ICC)
    big = np.zeros((48, 64, 3), np.float32)
    with pytest.raises(ValueError, match="resize_alpha"):
        with_rgb(pic, big)
    spiky = np.zeros((24, 32), np.float32)
    spiky[::2, ::2] = 1.0  # cubic overshoots on this; the result must still be in [0, 1]
    resized = resize_alpha(spiky, (64, 48))
    assert resized.shape == (48, 64) and resized.min() >= 0 and resized.max() <= 1
    new = with_rgb(pic, big, resized)
    assert new.size == (64, 48) and new.icc == SRGB_ICC and new.alpha is resized
    assert pic.size == (32, 24)  # the original is untouched


# ------------------------------------------------------------------ 16-bit

def ramp16(w=2048):
    return np.tile(np.linspace(0, 65535, w).round().astype(np.uint16), (2, 1))


def test_16bit_grey_png_round_trip(tmp_path):
    src = tmp_path / "g16.png"
    Image.fromarray(ramp16()).save(src)
    pic = load_image(src)
    assert pic.bit_depth == 16 and pic.was_gray and pic.rgb.shape == (2, 2048, 3)
    assert len(np.unique(pic.rgb[..., 0])) > 256  # not squeezed through 8 bits
    out = tmp_path / "out.png"
    save_image(out, pic)
    with Image.open(out) as im:
        assert im.mode == "I;16"
        assert np.array_equal(np.asarray(im), ramp16())


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_rgb_round_trip(tmp_path, ext):
    r = ramp16()
    bgr = np.dstack([r[:, ::-1], r // 2, r])  # OpenCV order: B, G, R
    src = tmp_path / f"c16{ext}"
    cv2.imwrite(str(src), bgr)
    pic = load_image(src)
    assert pic.bit_depth == 16 and not pic.was_gray
    assert np.allclose(pic.rgb[0, -1], (1.0, 0.5, 0.0), atol=1e-4)  # RGB order, not BGR
    assert len(np.unique(pic.rgb[..., 0])) > 256
    out = tmp_path / f"out{ext}"
    save_image(out, pic)
    saved = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert saved.dtype == np.uint16 and np.array_equal(saved, bgr)


def test_16bit_rgba_png_keeps_alpha(tmp_path):
    r = ramp16()
    src = tmp_path / "c16a.png"
    cv2.imwrite(str(src), np.dstack([r, r, r, r[:, ::-1]]))
    pic = load_image(src)
    assert pic.alpha is not None and len(np.unique(pic.alpha)) > 256
    save_image(tmp_path / "o.png", pic)
    assert np.array_equal(cv2.imread(str(tmp_path / "o.png"), cv2.IMREAD_UNCHANGED)[..., 3], r[:, ::-1])


def test_16bit_into_jpeg_warns(tmp_path):
    notes = save_image(tmp_path / "x.jpg", Picture(smooth_rgb(), bit_depth=16))
    assert any("8 bits" in n for n in notes)


# ------------------------------------------------------------------ modes

@pytest.mark.parametrize("mode", ["L", "P", "1", "CMYK", "LA", "I;16"])
def test_modes_load_as_rgb(tmp_path, mode):
    base = Image.fromarray(u8(smooth_rgb()))
    im = base.convert("I;16") if mode == "I;16" else base.convert(mode)
    src = tmp_path / ("m.jpg" if mode == "CMYK" else "m.png")
    im.save(src)
    pic = load_image(src)
    assert pic.rgb.shape == (24, 32, 3) and pic.rgb.dtype == np.float32
    assert 0 <= pic.rgb.min() and pic.rgb.max() <= 1
    assert (pic.alpha is not None) == (mode == "LA")
    if mode in ("L", "1", "LA", "I;16"):
        assert pic.was_gray and np.array_equal(pic.rgb[..., 0], pic.rgb[..., 2])


def test_palette_with_transparency_gives_alpha(tmp_path):
    im = Image.new("P", (8, 6), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(1, (0, 0, 4, 6))
    im.info["transparency"] = 1
    im.save(tmp_path / "p.png", transparency=1)
    pic = load_image(tmp_path / "p.png")
    assert pic.alpha[:, :4].max() == 0 and pic.alpha[:, 4:].min() == 1
    assert np.allclose(pic.rgb[0, 7], (1, 0, 0))


def test_grey_saved_grey_unless_coloured(tmp_path):
    grey = Image.fromarray(u8(smooth_rgb()[..., 0])).convert("L")
    grey.save(tmp_path / "g.png")
    pic = load_image(tmp_path / "g.png")
    save_image(tmp_path / "same.png", pic)
    assert Image.open(tmp_path / "same.png").mode == "L"
    tinted = pic.rgb.copy()
    tinted[..., 0] *= 0.5
    save_image(tmp_path / "tinted.png", with_rgb(pic, tinted))
    assert Image.open(tmp_path / "tinted.png").mode == "RGB"
    save_image(tmp_path / "forced.png", with_rgb(pic, tinted), gray=True)
    assert Image.open(tmp_path / "forced.png").mode == "L"
    save_image(tmp_path / "colour.png", pic, gray=False)
    assert Image.open(tmp_path / "colour.png").mode == "RGB"


# ------------------------------------------------------------------ limits and damage

def png_header_only(path, w, h):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_declared_huge_image_refused_before_decoding(tmp_path):
    src = tmp_path / "bomb.png"
    png_header_only(src, 30000, 30000)
    with pytest.raises(ImageError, match=r"bomb\.png.*30000x30000 = 900 megapixels.*200 megapixel"):
        load_image(src)


@pytest.mark.parametrize("w,h", [(40, 40), (100, 50)])  # over the limit, and over twice it
def test_pixel_limit_is_configurable(tmp_path, monkeypatch, w, h):
    src = tmp_path / "small.png"
    Image.new("RGB", (w, h)).save(src)
    monkeypatch.setattr(imageio, "MAX_PIXELS", 1000)
    with pytest.raises(ImageError, match=f"{w}x{h}"):
        load_image(src)
    monkeypatch.setenv("STUDIO_MAX_PIXELS", str(w * h))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_image(src).size == (w, h)
    monkeypatch.setenv("STUDIO_MAX_PIXELS", "lots")
    with pytest.raises(ImageError, match="STUDIO_MAX_PIXELS"):
        load_image(src)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".tif"])
def test_truncated_file_is_an_image_error(tmp_path, ext):
    rng = np.random.default_rng(0)
    src = tmp_path / f"t{ext}"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(src)
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=f"t\\{ext}"):
        load_image(src)


@pytest.mark.parametrize("content", [b"", b"hello, this is not an image" * 10, b"\x89PNG\r\n\x1a\ngarbage"])
def test_garbage_is_an_image_error(tmp_path, content):
    src = tmp_path / "junk.png"
    src.write_bytes(content)
    with pytest.raises(ImageError, match=r"junk\.png"):
        load_image(src)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)
    with pytest.raises(ImageError, match="folder"):
        save_image(tmp_path / "missing" / "x.png", Picture(smooth_rgb()))


# ------------------------------------------------------------------ safe saving

def test_failed_encode_leaves_destination_untouched(tmp_path, monkeypatch):
    dest = tmp_path / "out.png"
    dest.write_bytes(b"precious")
    before = sorted(os.listdir(tmp_path))

    def broken_save(self, *a, **k):
        raise OSError("disk on fire")
    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(ImageError, match="out.png"):
        save_image(dest, Picture(smooth_rgb()), overwrite=True)
    assert dest.read_bytes() == b"precious" and sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_failed_write_removes_temp_file(tmp_path, monkeypatch, step):
    dest = tmp_path / "out.png"
    dest.write_bytes(b"precious")
    before = sorted(os.listdir(tmp_path))

    def fail(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(imageio.os, step, fail)
    with pytest.raises(ImageError, match="No space left"):
        save_image(dest, Picture(smooth_rgb()), overwrite=True)
    monkeypatch.undo()
    assert dest.read_bytes() == b"precious" and sorted(os.listdir(tmp_path)) == before


def test_overwrite_needs_permission(tmp_path):
    dest = tmp_path / "out.png"
    dest.write_bytes(b"old")
    with pytest.raises(ImageError, match="already exists"):
        save_image(dest, Picture(smooth_rgb()))
    save_image(dest, Picture(smooth_rgb()), overwrite=True)
    assert load_image(dest).size == (32, 24)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temp files left behind


def test_input_is_protected(tmp_path):
    (tmp_path / "sub").mkdir()
    src = tmp_path / "in.png"
    Image.fromarray(u8(smooth_rgb())).save(src)
    original = src.read_bytes()
    pic = load_image(src)
    dark = with_rgb(pic, pic.rgb * 0.5)
    for spelling in (src, tmp_path / "sub" / ".." / "in.png"):
        with pytest.raises(ImageError, match="another output name"):
            save_image(spelling, dark, overwrite=True, protect=[src])
    assert src.read_bytes() == original
    save_image(src, dark, protect=[src], overwrite_input=True)
    assert np.allclose(load_image(src).rgb, pic.rgb * 0.5, atol=1 / 255)


# ------------------------------------------------------------------ masks

def test_mask_white_is_fill_and_resize_flag(tmp_path):
    m = np.zeros((24, 32), np.uint8)
    m[8:16, 8:24] = 255
    Image.fromarray(m).convert("RGB").save(tmp_path / "m.png")
    mask, resized = load_mask(tmp_path / "m.png", (32, 24))
    assert not resized and mask.dtype == np.float32 and mask.shape == (24, 32)
    assert mask.sum() == 8 * 16 and set(np.unique(mask)) == {0.0, 1.0}
    big, resized = load_mask(tmp_path / "m.png", (64, 48))
    assert resized and big.shape == (48, 64) and big.sum() == 4 * 8 * 16
    small, resized = load_mask(tmp_path / "m.png", (16, 12))
    assert resized and small.shape == (12, 16) and small[6, 8] == 1 and small[0, 0] == 0


def test_mask_painted_on_transparency(tmp_path):
    rgba = np.zeros((24, 32, 4), np.uint8)
    rgba[4:8, 4:8] = (0, 0, 0, 255)  # a black stroke on a transparent layer is still the hole
    Image.fromarray(rgba).save(tmp_path / "m.png")
    mask, _ = load_mask(tmp_path / "m.png")
    assert mask.sum() == 16 and mask[5, 5] == 1


def test_mask_jpeg_noise_snapped(tmp_path):
    m = np.zeros((32, 32), np.uint8)
    m[8:24, 8:24] = 255
    Image.fromarray(m).save(tmp_path / "m.jpg", quality=70)
    mask, _ = load_mask(tmp_path / "m.jpg")
    assert mask[:4].max() == 0 and mask[12:20, 12:20].min() == 1
