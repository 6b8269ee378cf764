"""Faces in photos: framing, padding, paste-back that leaves every other pixel untouched."""

import cv2
import numpy as np
import pytest
import torch

from studio.engines import faces
from studio.engines.blend import feather, poisson_blend
from studio.errors import StudioError


def _photo(h=120, w=160, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((h, w, 3), dtype=np.float32)


def _mask(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), np.float32)
    m[y0:y1, x0:x1] = 1
    return m


def test_feather_never_reaches_past_its_radius():
    m = _mask(80, 80, 30, 50, 30, 50)
    f = feather(m, 5)
    dist = cv2.distanceTransform((m == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    assert (f[dist > 5] == 0).all()
    assert (f[m == 1] == 1).all()
    assert 0 < f[29, 40] < 1  # a soft edge just outside


@pytest.mark.parametrize("poisson", [False, True])
def test_paste_changes_nothing_outside_the_feathered_mask(poisson, tmp_path):
    photo = _photo()
    mask = _mask(120, 160, 40, 60, 50, 80)
    crop = faces.extract(photo, mask, (30, 20, 80, 80))
    fill = np.full((64, 64, 3), 0.5, np.float32)
    out = faces.paste(photo, crop, fill, mask, feather=3, poisson=poisson)
    touched = feather(mask, 3) > 0
    assert np.array_equal(out[~touched], photo[~touched])
    assert not np.allclose(out[mask > 0], photo[mask > 0])
    # and after an 8-bit save the untouched pixels are still byte-identical
    from studio.imageio import Picture, load_image, save_image

    save_image(tmp_path / "a.png", Picture(photo))
    save_image(tmp_path / "b.png", Picture(out))
    a, b = load_image(tmp_path / "a.png").to_uint8(), load_image(tmp_path / "b.png").to_uint8()
    assert np.array_equal(a[~touched], b[~touched])


def test_box_past_the_border_is_padded_and_only_real_pixels_change():
    photo = _photo()
    mask = _mask(120, 160, 0, 20, 0, 20)  # in the top-left corner
    box = (-30, -30, 70, 70)
    crop = faces.extract(photo, mask, box)
    assert crop.image.shape == (70, 70, 3) and crop.image64.shape == (64, 64, 3)
    assert not crop.inside[:30, :30].any() and crop.inside[30:, 30:].all()
    out = faces.paste(photo, crop, np.zeros((64, 64, 3), np.float32), mask, feather=2)
    assert out.shape == photo.shape
    touched = feather(mask, 2) > 0
    assert np.array_equal(out[~touched], photo[~touched])
    with pytest.raises(StudioError, match="outside"):
        faces.extract(photo, mask, (500, 500, 40, 40))


def test_crop_round_trip_is_close_to_identity():
    photo = cv2.GaussianBlur(_photo(), (0, 0), 6)  # smooth, so resizing loses little
    mask = _mask(120, 160, 40, 60, 50, 80)
    crop = faces.extract(photo, mask, (30, 20, 80, 80))
    out = faces.paste(photo, crop, crop.image64, mask, feather=0)
    assert np.abs(out - photo).max() < 0.05


def test_poisson_blend_matches_the_border_colour():
    dst = np.full((40, 40, 3), 0.8, np.float32)
    src = np.full((40, 40, 3), 0.2, np.float32)
    m = _mask(40, 40, 10, 30, 10, 30)
    dst[m > 0] = 0  # the hole holds damaged pixels: they must not steer the blend
    out = poisson_blend(dst, src, m)
    assert np.array_equal(out[m == 0], dst[m == 0])
    assert abs(float(out[20, 20].mean()) - 0.8) < 0.05  # a flat fill takes the surround's colour


def test_no_face_gives_a_clear_message():
    with pytest.raises(StudioError, match="--box"):
        faces.choose_face(_photo(), _mask(120, 160, 40, 60, 50, 80))


def test_detects_a_real_face_and_picks_the_one_holding_the_mask(shared_data):
    face = cv2.cvtColor(cv2.imread(str(shared_data / "faces/celebahq/256/1.jpg")), cv2.COLOR_BGR2RGB)
    canvas = np.full((500, 640, 3), 0.45, np.float32)
    canvas[120:376, 300:556] = face.astype(np.float32) / 255
    mask = _mask(500, 640, 260, 290, 400, 450)  # over the mouth
    x, y, s, _ = faces.choose_face(canvas, mask)
    # the framed square should be close to where the CelebA-HQ image was placed
    inter = max(0, min(x + s, 556) - max(x, 300)) * max(0, min(y + s, 376) - max(y, 120))
    iou = inter / (s * s + 256 * 256 - inter)
    assert iou > 0.75


def test_face_engine_fills_only_the_hole(tmp_path, monkeypatch):
    from studio.checkpoints import save_checkpoint
    from studio.cli import main
    from studio.imageio import Picture, load_image, save_image
    from studio.nets.dcgan import DCGAN64

    torch.manual_seed(0)
    save_checkpoint(DCGAN64(ngf=8, ndf=8, nef=8), tmp_path / "dcgan-faces64", architecture="dcgan64",
                    config={"ngf": 8, "ndf": 8, "nef": 8}, card={"task": "test"})
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(tmp_path))
    photo, mask = _photo(), _mask(120, 160, 40, 60, 50, 80)
    save_image(tmp_path / "p.png", Picture(photo))
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
