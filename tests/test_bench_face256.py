"""`studio bench inpaint --faces DIR --size 256`: the 256-px face restoration benchmark, run on
generated faces and masks with the methods that need no model."""

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from test_bad_input import cli_here


def _faces(folder, n, rng):
    """Smooth colour fields with a fine grain: a texture that a blurred fill lacks."""
    folder.mkdir()
    yy, xx = np.mgrid[0:256, 0:256] / 256.0
    for i in range(1, n + 1):
        shade = np.array([0.6, 0.45, 0.4]) + rng.uniform(-0.05, 0.05, 3)  # alike, as faces are
        img = shade + 0.2 * np.sin(3 * xx + 2 * yy + i)[..., None] + rng.normal(0, 0.06, (256, 256, 3))
        Image.fromarray(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


def _masks(folder):
    """512-px masks (white = hole) with 2-digit bin prefixes: bin 02 is all hole, so drawing
    from it would show in the hole share; bins 04 and 06 cover 25 % and 36 %."""
    folder.mkdir()
    for name, side in (("02000", 512), ("02001", 512), ("04000", 256), ("06000", 307)):
        m = np.zeros((512, 512), np.uint8)
        m[40:40 + side, 100:100 + side] = 255
        cv2.imwrite(str(folder / f"{name}.png"), m)
    return folder


def run_bench(kind, argv, capsys):
    """`studio bench KIND ...` in this process: (exit code, stdout, non-empty stderr lines)."""
    code = cli_here(["bench", kind, *argv])
    out = capsys.readouterr()
    return code, out.out, [line for line in out.err.splitlines() if line.strip()]


def _run(argv, capsys):
    return run_bench("inpaint", argv, capsys)


def test_irregular_masks_give_sane_figures_for_each_cheap_method(tmp_path, capsys):
    faces = _faces(tmp_path / "faces", 6, np.random.default_rng(0))
    out = tmp_path / "f256.json"
    grid = tmp_path / "grid.png"
    code, text, err = _run(["--faces", faces, "--size", "256", "--holdout", "4", "--n", "4",
                            "--masks", _masks(tmp_path / "masks"), "--mask-bins", "04,06",
                            "--methods", "telea,fsr,patchmatch", "--json", out, "--grid", grid], capsys)
    assert code == 0, err
    res = json.loads(out.read_text())
    assert res["size"] == 256 and res["n"] == 4 and set(res["results"]) == {"telea", "fsr", "patchmatch"}
    assert 24 <= res["hole_pct"] <= 37  # only bins 04 and 06 were drawn from
    for r in res["results"].values():
        assert 10 < r["psnr_hole"] < r["psnr_whole"] < 99  # the hole is where the error is
        assert 0 < r["ssim_hole"] < 1 and r["sec_per_face"] > 0
        assert 0 < r["texture"] < 1e4
    # Telea's smooth fill lacks the grain: further from the true holes than real faces are from each other.
    assert res["results"]["telea"]["texture"] > 2 * res["real_vs_real_texture"] > 0
    assert "| fsr |" in text and "| real vs real |" in text
    # masked input / telea / original, at 100 %: four 256-px columns with 4-px gaps
    assert cv2.imread(str(grid)).shape == (3 * 260 + 4, 4 * 260 + 4, 3)


def test_centre_hole_is_the_middle_quarter(tmp_path, capsys):
    out = tmp_path / "f256.json"
    code, _, err = _run(["--faces", _faces(tmp_path / "faces", 3, np.random.default_rng(1)), "--size", "256",
                         "--n", "2", "--methods", "telea", "--json", out], capsys)
    assert code == 0, err
    res = json.loads(out.read_text())
    assert res["hole_pct"] == 25.0 and res["holdout"] == 100 and res["n"] == 2


@pytest.mark.parametrize("argv, needle", [
    (["--size", "128"], "--size is 64"),
    (["--size", "256", "--methods", "telea,gan"], "unknown methods ['gan']"),
])
def test_bad_size_or_method_is_one_clear_error(tmp_path, capsys, argv, needle):
    faces = _faces(tmp_path / "faces", 2, np.random.default_rng(2))
    code, text, err = _run(["--faces", faces, *argv], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("studio: error: ") and needle in err[0], err
    assert "|" not in text  # nothing was measured
