"""Making masks without painting them: the object in a box or under a click (GrabCut), grow,
shrink and feather, the damage of an old photo, and `studio mask` / `studio bench damage`."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from studio.bench.damage import synthetic_damage, true_damage
from studio.metrics import agreement
from studio.cli import main
from studio.editing import mask_ops
from studio.editing.damage import detect_damage
from studio.editing.select_object import select_object
from studio.errors import StudioError


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 127, b > 127
    return float((a & b).sum() / max(1, (a | b).sum()))


def disc_scene(w: int = 320, h: int = 240, centre=(190, 110), radius: int = 55, seed: int = 0):
    """A red disc (with some grain) on a blocky, noisy grey-green texture; (rgb uint8, truth mask)."""
    rng = np.random.default_rng(seed)
    blocks = cv2.resize(rng.integers(50, 200, (h // 10, w // 10, 3)).astype(np.uint8), (w, h),
                        interpolation=cv2.INTER_NEAREST)
    img = np.clip(blocks.astype(int) + rng.integers(-25, 25, (h, w, 3)), 0, 255)
    img[..., 0] = np.minimum(img[..., 0], 150)  # no red in the background
    truth = np.zeros((h, w), np.uint8)
    cv2.circle(truth, centre, radius, 255, -1)
    inside = truth > 0
    img[inside] = np.clip(np.array([215, 40, 35]) + rng.integers(-15, 15, (int(inside.sum()), 3)), 0, 255)
    return img.astype(np.uint8), truth


def smooth_photo(seed: int, w: int = 480, h: int = 320) -> np.ndarray:
    """A print-like picture: gentle gradients and soft blotches, no sharp detail of its own."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([120 + 80 * xx, 100 + 60 * yy, 90 + 40 * (xx + yy)], -1)
    blotches = cv2.GaussianBlur(rng.normal(0, 1, (h, w, 3)).astype(np.float32), (0, 0), 6) * 300
    return np.clip(base + blotches, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- select object
@pytest.mark.parametrize("how", ["box", "point", "box and point", "float image"])
def test_grabcut_selects_the_disc(how):
    img, truth = disc_scene()
    box, point = (120, 40, 140, 140), (190, 110)
    if how == "box":
        mask = select_object(img, box=box)
    elif how == "point":
        mask = select_object(img, point=point)
    elif how == "box and point":
        mask = select_object(img, box=box, point=(170, 95))
    else:
        mask = select_object(img.astype(np.float32) / 255, box=box)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    assert iou(mask, truth) > 0.9, iou(mask, truth)


def test_a_large_photo_is_segmented_on_a_crop_and_scaled_back():
    img, truth = disc_scene(3000, 2000, centre=(2100, 900), radius=400, seed=1)
    mask = select_object(img, box=(1600, 400, 1000, 1000))
    assert iou(mask, truth) > 0.9
    assert not mask[:, :1400].any() and not mask[1500:].any()  # nothing outside the crop round the box


def test_only_the_object_under_the_box_centre_is_kept():
    img, truth = disc_scene()
    cv2.circle(img, (130, 200), 14, (215, 40, 35), -1)  # a second red blob in the box's corner
    mask = select_object(img, box=(110, 40, 160, 185))
    assert iou(mask, truth) > 0.85 and mask[200, 130] == 0


@pytest.mark.parametrize("box, point, needle", [
    ((400, 300, 50, 50), None, "outside the 320x240 image"),
    ((10, 10, 0, 30), None, "has no area"),
    (None, (-5, 10), "outside the 320x240 image"),
    (None, None, "give a box"),
])
def test_bad_boxes_and_points_are_refused(box, point, needle):
    img, _ = disc_scene()
    with pytest.raises(StudioError, match=needle):
        select_object(img, box=box, point=point)


# ---------------------------------------------------------------- grow, shrink, feather
def square_mask(w=100, h=80, box=(30, 20, 40, 30)) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    x, y, bw, bh = box
    m[y:y + bh, x:x + bw] = 255
    return m


def test_grow_and_shrink_move_the_edge_by_that_many_pixels():
    m = square_mask()
    g = mask_ops.grow(m, 5)
    assert g[15, 50] == 255 and g[14, 50] == 0 and g[54, 50] == 255 and g[55, 50] == 0  # rows 20..49 -> 15..54
    assert g[35, 25] == 255 and g[35, 24] == 0
    assert g[15, 25] == 0  # a round corner, as a disc makes it
    s = mask_ops.shrink(m, 5)
    assert s[25, 50] == 255 and s[24, 50] == 0 and s[44, 50] == 255 and s[45, 50] == 0
    assert np.array_equal(mask_ops.grow(m, -5), s) and np.array_equal(mask_ops.grow(m, 0), m)
    assert not mask_ops.shrink(m, 16).any()  # a 30-px-high square is gone after 15 each side


def test_shrinking_keeps_a_mask_that_touches_the_frame_at_the_frame():
    m = square_mask(box=(0, 0, 40, 80))  # the left strip of the picture
    s = mask_ops.shrink(m, 5)
    assert s[40, 0] == 255 and s[40, 34] == 255 and s[40, 35] == 0


def test_feather_fades_the_edge_over_about_that_many_pixels():
    m = square_mask(200, 200, (50, 50, 100, 100))
    f = mask_ops.feather(m, 10)
    row = f[100, :100].astype(int)  # across the left edge at x = 50
    assert row[20] == 0 and row[99] == 255
    assert 100 < row[50] < 160 and 100 < row[49] < 160  # the old edge is the middle of the ramp
    ramp = np.flatnonzero((row > 0.1 * 255) & (row < 0.9 * 255))
    assert 8 <= ramp.size <= 12  # 10 % to 90 % over ~10 px
    assert np.array_equal(mask_ops.feather(m, 0), m)
    assert not mask_ops.grow(np.zeros_like(m), 9).any() and not mask_ops.feather(np.zeros_like(m), 9).any()


# ---------------------------------------------------------------- damage
def test_detect_damage_finds_synthetic_scratches_specks_and_a_crease():
    scores = []
    for seed in range(3):
        clean = smooth_photo(seed)
        damaged = synthetic_damage(clean, seed)
        truth = true_damage(damaged, clean)
        assert 0.005 < (truth > 0).mean() < 0.06
        scores.append(agreement(detect_damage(damaged, tears=False), truth))
        assert (detect_damage(clean, tears=False) > 0).mean() < 0.002  # little on an undamaged print
    assert np.mean([s["iou"] for s in scores]) > 0.5, scores
    assert min(s["precision"] for s in scores) > 0.6


def test_higher_sensitivity_proposes_more():
    clean = smooth_photo(4)
    damaged = synthetic_damage(clean, 4)
    truth = true_damage(damaged, clean)
    masks = [detect_damage(damaged, s) > 0 for s in (0.0, 0.5, 1.0)]
    areas = [m.sum() for m in masks]
    assert areas[0] < areas[1] < areas[2]
    recalls = [(m & (truth > 0)).sum() / (truth > 0).sum() for m in masks]
    assert recalls[0] < recalls[2]
    with pytest.raises(StudioError, match="between 0 and 1"):
        detect_damage(damaged, 1.5)


def test_a_bright_tear_is_found_but_not_the_scan_margin_or_a_saturated_highlight():
    img = np.full((200, 300, 3), (205, 190, 150), np.uint8)  # beige print (RGB)
    img[:, :40] = img[:, 260:] = 255  # white scan margins
    cv2.line(img, (60, 30), (200, 170), (250, 250, 250), 3)  # a white tear
    cv2.circle(img, (230, 60), 6, (235, 120, 120), -1)  # a saturated highlight: not a tear
    m = detect_damage(img)
    assert m[100, 130] == 255 and (m[:, :40] == 0).all() and (m[:, 260:] == 0).all()
    assert m[60, 230] == 0 and 0.005 < (m > 0).mean() < 0.05
    big = cv2.resize(img, (3000, 2000), interpolation=cv2.INTER_NEAREST)  # analysed at DETECT_SIDE, scaled back
    mb = detect_damage(big.astype(np.float32) / 255)
    assert mb.shape == (2000, 3000) and mb[1000, 1300] == 255 and not mb[:, :400].any()


@pytest.mark.data
def test_detect_damage_agrees_with_the_real_damage_of_the_old_photo(shared_data):
    damaged = np.asarray(Image.open(shared_data / "damaged" / "old_photo.jpg").convert("RGB"))
    clean = np.asarray(Image.open(shared_data / "damaged" / "old_photo_clean.jpg").convert("RGB"))
    a = agreement(detect_damage(damaged), true_damage(damaged, clean))
    assert a["iou"] > 0.6 and a["recall"] > 0.65 and a["precision"] > 0.8


# ---------------------------------------------------------------- the command line
def test_studio_mask_writes_the_objects_mask(tmp_path, capsys):
    img, truth = disc_scene()
    Image.fromarray(img).save(tmp_path / "photo.png")
    out = tmp_path / "out" / "mask.png"
    assert main(["mask", str(tmp_path / "photo.png"), "--box", "120,40,140,140", "-o", str(out)]) == 0
    mask = np.asarray(Image.open(out))
    assert mask.ndim == 2 and iou(mask, truth) > 0.9  # grey PNG, white = fill
    assert "% of the 320x240 image" in capsys.readouterr().out
    assert not list(out.parent.glob("*.tmp*"))  # written atomically

    assert main(["mask", str(tmp_path / "photo.png"), "--point", "190,110", "--grow", "6", "--feather", "4",
                 "-o", str(out)]) == 0
    grown = np.asarray(Image.open(out))
    assert grown[110, 190 + 55 + 3] > 127 and 0 < grown[110, 190 + 55 + 6] < 255  # grown, then a soft edge


def test_studio_mask_damage(tmp_path):
    clean = smooth_photo(1)
    Image.fromarray(synthetic_damage(clean, 1)).save(tmp_path / "scan.png")
    assert main(["mask", str(tmp_path / "scan.png"), "--damage", "--sensitivity", "0.5", "--no-tears",
                 "-o", str(tmp_path / "m.png"), "--quiet"]) == 0
    mask = np.asarray(Image.open(tmp_path / "m.png"))
    assert 0.005 < (mask > 127).mean() < 0.06


@pytest.mark.parametrize("args, needle", [
    (["--box", "1,2,3"], "--box wants 4 numbers x,y,width,height, not '1,2,3'"),
    (["--box", "a,b,c,d"], "--box wants 4 numbers"),
    (["--box", "400,300,50,50"], "the box 400,300,50,50 lies outside the 320x240 image"),
    (["--box", "10,10,-5,20"], "has no area"),
    (["--point", "999,5"], "the point 999,5 lies outside"),
    ([], "give --box and/or --point"),
    (["--box", "1,1,20,20", "--damage"], "give --box and/or --point"),
    (["--box", "1,1,20,20", "--sensitivity", "0.3"], "--sensitivity and --no-tears go with --damage"),
    (["--damage", "--sensitivity", "2"], "--sensitivity wants a number from 0 to 1"),
    (["--damage", "--grow", "-1"], "--grow wants a whole number of pixels"),
    (["--damage", "--grow", "2", "--shrink", "1"], "not both"),
])
def test_bad_mask_arguments_are_one_line(tmp_path, capsys, args, needle):
    img, _ = disc_scene()
    Image.fromarray(img).save(tmp_path / "photo.png")
    code = _run(["mask", str(tmp_path / "photo.png"), *args, "-o", str(tmp_path / "m.png")])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("studio: error: ") and needle in lines[0], lines
    assert not (tmp_path / "m.png").exists()


def test_unreadable_image_and_the_input_as_output_are_one_line(tmp_path, capsys):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    assert _run(["mask", str(tmp_path / "broken.png"), "--box", "1,1,5,5", "-o", str(tmp_path / "m.png")]) == 2
    img, _ = disc_scene()
    Image.fromarray(img).save(tmp_path / "photo.png")
    before = (tmp_path / "photo.png").read_bytes()
    assert _run(["mask", str(tmp_path / "photo.png"), "--point", "190,110", "-o", str(tmp_path / "photo.png")]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 2 and "cannot read" in lines[0] and "refusing to overwrite the input" in lines[1]
    assert (tmp_path / "photo.png").read_bytes() == before


def _run(argv) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:  # argparse's usage errors
        return e.code


def test_bench_damage_prints_iou_precision_recall_per_image_and_mean(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(smooth_photo(i, 240, 160)).save(photos / f"{i + 1}.png")
    clean = smooth_photo(7, 240, 160)
    Image.fromarray(clean).save(tmp_path / "clean.png")
    Image.fromarray(synthetic_damage(clean, 7)).save(tmp_path / "damaged.png")
    out = tmp_path / "bench.json"
    assert main(["bench", "damage", "--pair", str(tmp_path / "damaged.png"), str(tmp_path / "clean.png"),
                 "--photos", str(photos), "--last", "2", "--sensitivity", "0.3", "--sensitivity", "0.7",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| 0.3 | synthetic | 2.png |" in text and "| 0.7 | scans | damaged.png |" in text
    assert "| 0.3 | synthetic | **mean of 2** |" in text and "1.png" not in text  # the last 2 in name order
    import json

    res = json.loads(out.read_text())
    for s in ("0.3", "0.7"):
        assert set(res[s]) == {"scans", "synthetic"}
        for r in res[s]["synthetic"]["images"].values():
            assert 0 < r["iou"] <= min(r["precision"], r["recall"]) <= 1
    assert res["0.7"]["scans"]["mean"]["recall"] >= res["0.3"]["scans"]["mean"]["recall"]
