"""`studio bench edit --size 256`: edits rendered at 256 px by the old engine and the refiner,
on generated faces with tiny random models."""

import json

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from studio.checkpoints import save_checkpoint
from test_bench_face256 import run_bench
from studio.data.attributes import ATTRIBUTES
from studio.nets.face_refiner import FaceRefiner
from studio.nets.icgan import AttributeJudge, IcGAN64


def _faces(folder, n, rng):
    folder.mkdir()
    for i in range(1, n + 1):
        small = rng.random((18, 18, 3))
        img = cv2.resize(small, (256, 256), interpolation=cv2.INTER_CUBIC) + rng.normal(0, 0.03, (256, 256, 3))
        Image.fromarray(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)).save(folder / f"{i}.jpg")
    rows = [f"{i}.jpg " + " ".join(str(v) for v in rng.choice([-1, 1], len(ATTRIBUTES))) for i in range(1, n + 1)]
    attrs = folder.parent / "list_attr.txt"
    attrs.write_text(f"{n}\n" + " ".join(ATTRIBUTES) + "\n" + "\n".join(rows) + "\n")
    return folder, attrs


@pytest.fixture
def setup(tmp_path, model_folders):
    """12 generated faces and their labels; a tiny random IcGAN whose edits change the face
    visibly, a judge and a refiner with a non-zero residual (it changes what it repaints)."""
    _, bundled = model_folders
    faces, attrs = _faces(tmp_path / "faces", 12, np.random.default_rng(0))
    torch.manual_seed(0)
    icgan = IcGAN64(ngf=8, ndf=8, nef=8, ney=8)
    for m in icgan.generator.modules():
        if isinstance(m, torch.nn.ConvTranspose2d):
            torch.nn.init.normal_(m.weight, std=0.3)
    save_checkpoint(icgan, bundled / "icgan-t", architecture="icgan64", dtype=torch.float32,
                    config={"ngf": 8, "ndf": 8, "nef": 8, "ney": 8}, card={"edit": {"refine_steps": 2}})
    save_checkpoint(AttributeJudge(18, 4), bundled / "judge-t", architecture="attr-judge64",
                    config={"ny": 18, "width": 4}, card={})
    refiner = FaceRefiner(width=8, blocks=1)
    torch.nn.init.normal_(refiner.out.weight, std=0.05)
    weights = save_checkpoint(refiner, tmp_path / "refiner", architecture="face-refiner", dtype=torch.float32,
                              config={"width": 8, "blocks": 1}, card={})
    return faces, attrs, weights


def _run(argv, capsys):
    return run_bench("edit", argv, capsys)


def test_old_and_new_engine_figures_and_the_refined_render_keeps_every_pixel_outside_its_region(
        setup, tmp_path, capsys):
    faces, attrs, refiner = setup
    out, grid = tmp_path / "r.json", tmp_path / "grid.png"
    code, text, err = _run(["--size", "256", "--faces", faces, "--attrs", attrs, "--holdout", "10", "--n", "3",
                            "--attributes", "smiling,Eyeglasses,Male", "--model", "icgan-t", "--judge", "judge-t",
                            "--refiner", refiner, "--json", out, "--grid", grid, "--grid-rows", "2"], capsys)
    assert code == 0, err
    r = json.loads(out.read_text())
    assert r["n"] == 3 and r["n_real"] == 3 and r["attributes"] == ["Smiling", "Eyeglasses", "Male"]
    old, new = r["engines"]["old"], r["engines"]["new"]
    assert not old["refined"] and new["refined"]
    # The refiner repainted something, and nothing outside the region it was given.
    assert new["region_share"] > 0 and new["psnr_face_db"] < 99
    assert new["changed_pixels_outside_region"] == 0 and new["psnr_outside_region_db"] == "inf"
    assert old["psnr_outside_region_db"] is None and old["changed_pixels_outside_region"] is None
    for e in (old, new):
        assert 0 <= e["success"] <= 1 and 0 <= e["kept"] <= 1 and e["ms_per_render"] > 0
        assert e["realism_swd"] > 0 and e["realism_swd_unedited"] > 0
        assert e["realism_ratio"] == pytest.approx(e["realism_swd"] / e["realism_swd_unedited"])
        assert set(e["per_attribute"]) == {"Smiling", "Eyeglasses", "Male"}
    assert "| new | " in text and "| inf | 0 |" in text and "n/a (no region)" in text
    # original + old/new for 3 attributes, 2 faces, at 100 %: 256-px cells, 4-px gaps, a 24-px header
    assert cv2.imread(str(grid)).shape == (24 + 2 * 260 + 4, 7 * 260 + 4, 3)


def test_without_a_refiner_the_new_engine_differs_in_hair_colour_only_and_says_so(setup, tmp_path, capsys):
    faces, attrs, _ = setup
    out = tmp_path / "r.json"
    code, text, err = _run(["--size", "256", "--faces", faces, "--attrs", attrs, "--holdout", "6", "--n", "2",
                            "--attributes", "Bangs", "--model", "icgan-t", "--judge", "judge-t", "--json", out],
                           capsys)
    assert code == 0, err
    assert "differs from the old one in hair colour only" in text
    e = json.loads(out.read_text())["engines"]
    assert not e["new"]["refined"] and e["new"]["success"] == e["old"]["success"]
    assert e["new"]["psnr_face_db"] == e["old"]["psnr_face_db"]


@pytest.mark.parametrize("argv, needle", [
    (["--size", "128"], "--size is 64"),
    (["--size", "256", "--attributes", "Young"], "unknown attribute 'Young'"),
    (["--size", "256", "--refiner", "missing.safetensors"], "not found"),
])
def test_bad_size_attribute_or_refiner_is_one_clear_error(setup, capsys, argv, needle):
    faces, attrs, _ = setup
    code, text, err = _run(["--faces", faces, "--attrs", attrs, "--model", "icgan-t", "--judge", "judge-t", *argv],
                           capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("studio: error: ") and needle in err[0], err
    assert "|" not in text  # nothing was measured


def test_whole_face_psnr_pools_the_squared_error_so_an_unchanged_render_counts_as_zero_error():
    from studio.bench.edit256 import pooled_psnr

    assert pooled_psnr([0.0, 0.01]) == pytest.approx(10 * np.log10(1 / 0.005))
    assert pooled_psnr([0.0, 0.0]) == float("inf")
