"""Faces in photos: detection, framing like CelebA-HQ, padded crops, exact paste-back."""

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from studio.engines import faces
from studio.engines.blend import feather, poisson_blend
from studio.engines.faces import (
    FaceCrop, choose_face, crop_box_for_detection, detect_faces, extract, paste, square_box,
)
from studio.errors import StudioError
from studio.imageio import Picture, load_image, save_image


def photo(h=160, w=200, seed=0):
    """A smooth, textured float photo (low-frequency noise + gradient)."""
    rng = np.random.default_rng(seed)
    small = rng.random((h // 16 + 2, w // 16 + 2, 3)).astype(np.float32)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img += np.linspace(0, 0.2, w, dtype=np.float32)[None, :, None]
    return np.clip(img * 0.8, 0, 1)


def disk(h, w, cx, cy, r):
    yy, xx = np.mgrid[:h, :w]
    return ((xx - cx) ** 2 + (yy - cy) ** 2 <= r * r).astype(np.float32)


def rect(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), np.float32)
    m[y0:y1, x0:x1] = 1
    return m


def distance_to(mask):
    """Brute-force Euclidean distance of every pixel to the nearest mask > 0 pixel."""
    ys, xs = np.nonzero(mask > 0)
    yy, xx = np.mgrid[: mask.shape[0], : mask.shape[1]]
    d2 = (yy.reshape(-1, 1) - ys[None]) ** 2 + (xx.reshape(-1, 1) - xs[None]) ** 2
    return np.sqrt(d2.min(1)).reshape(mask.shape)


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def face_file(shared_data, n):
    path = shared_data / "faces" / "celebahq" / "256" / f"{n}.jpg"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0


# ---------------------------------------------------------------- feathering and blending

@pytest.mark.parametrize("radius", [0, 1, 3, 8])
def test_feather_fades_within_radius_and_never_beyond(radius):
    mask = disk(60, 70, 30, 28, 9)
    mask[40:44, 50:66] = 0.6  # a soft stroke too
    w = feather(mask, radius)
    d = distance_to(mask)
    assert np.all(w[d > radius] == 0)  # never leaks past the border
    assert np.all(w[(d > 0) & (d <= radius)] > 0)  # but does fade over the whole border
    assert np.array_equal(w[mask > 0], mask[mask > 0])  # the user's own values are kept
    if radius:  # a soft edge fades from its own value
        assert w[42, 66] == pytest.approx(0.6 * (1 - 1 / (radius + 1)))


def test_poisson_blend_fixes_a_brightness_offset_in_place_and_keeps_outside_exact():
    rng = np.random.default_rng(2)
    dst = photo(80, 90) * 0.6 + 0.1 + rng.random((80, 90, 3)).astype(np.float32) * 0.1  # fine texture
    src = dst + 0.15  # same gradients, wrong level: Poisson must recover dst, not shifted by a pixel
    mask = disk(80, 90, 45, 40, 14)
    out = poisson_blend(dst, src, mask)
    inside = mask > 0
    assert np.abs(out[inside] - dst[inside]).mean() < 0.01
    assert np.abs(np.roll(dst, 1, axis=1)[inside] - dst[inside]).mean() > 0.02  # a 1-px shift would show
    assert np.array_equal(out[~inside], dst[~inside])


def test_poisson_blend_takes_the_surrounding_colour_not_the_damaged_hole():
    dst = np.full((40, 40, 3), 0.8, np.float32)
    src = np.full((40, 40, 3), 0.2, np.float32)
    m = rect(40, 40, 10, 30, 10, 30)
    dst[m > 0] = 0  # the hole holds damaged pixels: they must not steer the blend
    out = poisson_blend(dst, src, m)
    assert np.array_equal(out[m == 0], dst[m == 0])
    assert abs(float(out[20, 20].mean()) - 0.8) < 0.05  # a flat fill takes the surround's colour


# ---------------------------------------------------------------- crops and paste-back

def test_box_half_outside_the_photo_is_padded_and_paste_touches_only_real_pixels():
    rgb = photo(160, 200)
    box = (-60, 100, 120, 120)  # half past the left edge, partly past the bottom
    mask = disk(160, 200, 20, 140, 15)
    crop = extract(rgb, mask, box)
    assert crop.image.shape == (120, 120, 3) and crop.mask.shape == (120, 120)
    assert crop.image64.shape == (64, 64, 3) and crop.mask64.shape == (64, 64)
    assert crop.inside.sum() == 60 * 60
    # the real part of the crop is the photo, untouched
    assert np.array_equal(crop.image[crop.inside].reshape(60, 60, 3), rgb[100:160, 0:60])
    assert crop.mask[~crop.inside].max() == 0
    assert 0 < crop.inside64.mean() < 1

    out = paste(rgb, crop, np.full((64, 64, 3), 0.9, np.float32), mask, feather=4)
    assert out.shape == rgb.shape
    changed = np.any(out != rgb, axis=-1)
    allowed = distance_to(mask) <= 4
    allowed[:, 60:] = False  # right of the crop
    allowed[:100, :] = False  # above the crop
    assert changed.any() and not np.any(changed & ~allowed)


@pytest.mark.parametrize("poisson", [False, True])
def test_outside_the_feathered_border_stays_identical_even_after_png(tmp_path, poisson):
    rgb = photo(150, 180, seed=3)
    mask = disk(150, 180, 95, 70, 18)
    crop = extract(rgb, mask, (40, 10, 120, 120))
    fill = np.random.default_rng(1).random((64, 64, 3)).astype(np.float32)
    out = paste(rgb, crop, fill, mask, feather=5, poisson=poisson)
    far = distance_to(mask) > 5
    assert np.any(out != rgb)
    assert np.array_equal(out[far], rgb[far])

    save_image(tmp_path / "a.png", Picture(rgb=rgb), gray=False)
    save_image(tmp_path / "b.png", Picture(rgb=out), gray=False)
    a8 = np.round(load_image(tmp_path / "a.png").rgb * 255).astype(np.uint8)
    b8 = np.round(load_image(tmp_path / "b.png").rgb * 255).astype(np.uint8)
    assert np.array_equal(a8[far], b8[far])


def test_pasting_the_crops_own_image_changes_the_mask_only_by_resize_error():
    rgb = photo(300, 260, seed=5)
    mask = disk(300, 260, 130, 150, 40)
    crop = extract(rgb, mask, (30, 50, 200, 200))
    out = paste(rgb, crop, crop.image64, mask, feather=0)
    inside = mask > 0
    assert np.array_equal(out[~inside], rgb[~inside])
    assert np.abs(out[inside] - rgb[inside]).mean() < 0.01
    # and a wrong fill would have shown: the check above is not vacuous
    assert np.abs(paste(rgb, crop, crop.image64[::-1], mask, feather=0)[inside] - rgb[inside]).mean() > 0.03


def test_upscale_callable_is_used_for_the_fill():
    rgb = photo(200, 200)
    mask = disk(200, 200, 100, 100, 20)
    crop = extract(rgb, mask, (20, 20, 160, 160))
    seen = []

    def upscale(small):
        seen.append(small.shape)
        return np.full((small.shape[0] * 4, small.shape[1] * 4, 3), 0.7, np.float32)  # 4x, then fitted to 160

    out = paste(rgb, crop, np.zeros((64, 64, 3), np.float32), mask, upscale=upscale, feather=0)
    assert len(seen) == 1 and seen[0][2] == 3
    assert np.allclose(out[mask > 0], 0.7)


def test_mask64_stays_soft_and_hole_uses_the_documented_threshold():
    rgb = photo(128, 128)
    mask = np.zeros((128, 128), np.float32)
    mask[10:11, :] = 1  # a one-pixel scratch: a quarter of each 2x2 block
    crop = extract(rgb, mask, (0, 0, 128, 128))
    assert np.allclose(crop.mask64[5], 0.5) and crop.mask64.max() <= 0.5
    assert np.array_equal(crop.hole64, crop.mask64 > faces.HOLE64_THRESHOLD)


def test_boxes_and_bad_input_give_clear_errors():
    assert square_box((10, 20, 30, 50)) == (0, 20, 50, 50)
    with pytest.raises(StudioError, match="outside"):
        extract(photo(), np.zeros((160, 200), np.float32), (500, 500, 50, 50))


# ---------------------------------------------------------------- detection

def test_no_face_gives_the_clear_error():
    rgb = photo(240, 320)
    mask = disk(240, 320, 100, 100, 10)
    assert detect_faces(rgb) == []
    with pytest.raises(StudioError, match=r"no face found that holds the mask; give the face's square "
                                          r"with --box x,y,w,h, or use --engine photo"):
        choose_face(rgb, mask)


def test_framing_matches_celebahq_on_held_out_faces(shared_data):
    scores = []
    for n in range(5951, 6001):  # the calibration used 1..300
        boxes = detect_faces(face_file(shared_data, n))
        if boxes:
            scores.append(iou(crop_box_for_detection(boxes[0]), (0, 0, 256, 256)))
    assert len(scores) >= 45
    assert np.mean(scores) > 0.8


def test_finds_a_face_in_a_larger_photo_and_picks_the_one_holding_the_mask(shared_data):
    face = cv2.resize(face_file(shared_data, 1), (300, 300), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((500, 600, 3), 0.5, np.float32)
    canvas[120:420, 230:530] = face
    boxes = detect_faces(canvas)
    assert boxes and iou(crop_box_for_detection(boxes[0]), (230, 120, 300, 300)) > 0.8

    mouth = disk(500, 600, 380, 330, 20)  # on the face's mouth
    box = choose_face(canvas, mouth)
    assert iou(box, (230, 120, 300, 300)) > 0.8
    crop = extract(canvas, mouth, box)
    assert isinstance(crop, FaceCrop) and crop.hole64.any()

    with pytest.raises(StudioError, match="no face found that holds the mask"):
        choose_face(canvas, disk(500, 600, 80, 80, 20))  # grey background, far from the face
    spill = mouth.copy()
    spill[330:340, 380:600] = 1  # from the mouth out past the face's square
    with pytest.raises(StudioError, match="outside the face's square"):
        choose_face(canvas, spill)


# ---------------------------------------------------------------- through the CLI

def test_face_engine_fills_only_the_hole(tmp_path, monkeypatch):
    from studio.checkpoints import save_checkpoint
    from studio.cli import main
    from studio.nets.dcgan import DCGAN64

    torch.manual_seed(0)
    save_checkpoint(DCGAN64(ngf=8, ndf=8, nef=8), tmp_path / "dcgan-faces64", architecture="dcgan64",
                    config={"ngf": 8, "ndf": 8, "nef": 8}, card={"task": "test"})
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(tmp_path))
    rgb = np.random.default_rng(0).random((120, 160, 3), dtype=np.float32)
    mask = rect(120, 160, 40, 60, 50, 80)
    save_image(tmp_path / "p.png", Picture(rgb))
    save_image(tmp_path / "m.png", Picture(np.repeat(mask[..., None], 3, -1)))
    args = ["inpaint", str(tmp_path / "p.png"), str(tmp_path / "m.png"), "-o", str(tmp_path / "o.png"),
            "--engine", "face", "--box", "30,20,80,80", "--steps", "3", "--seed", "1", "--quiet"]
    assert main(args) == 0
    a, b = load_image(tmp_path / "p.png").to_uint8(), load_image(tmp_path / "o.png").to_uint8()
    touched = feather(mask, 2) > 0
    assert np.array_equal(a[~touched], b[~touched])
    assert not np.array_equal(a[mask > 0], b[mask > 0])
    # without --box, a photo with no face is refused with a hint
    assert main(args[:7] + ["--quiet"]) == 2


def test_paste_super_resolves_only_the_part_of_the_face_the_blend_shows():
    rng = np.random.default_rng(0)
    rgb = cv2.GaussianBlur(rng.random((300, 300, 3)).astype(np.float32), (0, 0), 3)
    mask = np.zeros((300, 300), np.float32)
    mask[170:215, 110:190] = 1  # a mouth-sized hole in the lower face
    crop = faces.extract(rgb, mask, (40, 40, 200, 200), 64)
    face64 = cv2.GaussianBlur(rng.random((64, 64, 3)).astype(np.float32), (0, 0), 1.5)
    seen = []

    def sr(img):  # a local x4 "super-resolution": what it gives a pixel depends on its neighbours only
        seen.append(img.shape[:2])
        big = cv2.resize(img, (img.shape[1] * 4, img.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
        return cv2.GaussianBlur(big, (0, 0), 2.0) * 0.9 + 0.05

    out = faces.paste(rgb, crop, face64, mask, upscale=sr, poisson=True)
    assert len(seen) == 1 and seen[0][0] * seen[0][1] < 0.5 * 64 * 64  # a window, not the whole face
    saved = faces.UPSCALE_ALL
    faces.UPSCALE_ALL = 0.0  # force the whole face through the SR
    try:
        full = faces.paste(rgb, crop, face64, mask, upscale=sr, poisson=True)
    finally:
        faces.UPSCALE_ALL = saved
    assert seen[-1] == (64, 64)
    assert np.abs(out - full).max() < 1e-4  # the same picture where it shows
    changed = (out != rgb).any(2)
    assert changed.any() and not changed[cv2.dilate(mask, np.ones((11, 11))) == 0].any()
