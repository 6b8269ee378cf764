"""Photo inpainting: the net, hole generators, trainer smoke run, engine, benchmark, old-photo mask."""

import json

import cv2
import numpy as np
import pytest
import torch

from studio.catalogue import InpaintOptions
from studio.data import masks as im
from studio.engines.inpaint_photo import PhotoInpainter, regions, scale_for
from studio.errors import Cancelled, CheckpointError, StudioError
from studio.jobs import Job
from studio.nets import registry
from studio.nets.inpaint_net import Discriminator, InpaintNet, push_pull_fill


def _smooth_image(rng, h, w):
    small = rng.random((6, 6, 3)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _net(width=8):
    torch.manual_seed(0)
    net = InpaintNet(width, (1, 2))
    with torch.no_grad():  # a non-zero tail: the untrained net is exactly the push-pull fill otherwise
        net.tail.weight.normal_(0, 0.05)
    return net


# ----------------------------------------------------------------------------- net


def test_net_shapes_registry_and_exact_known_pixels_at_init():
    net = registry.build("photo-inpaint", {"width": 8, "dilations": [1, 2]})
    assert isinstance(net, InpaintNet)
    x = torch.rand(2, 3, 37, 50)
    hole = torch.zeros(2, 1, 37, 50)
    hole[:, :, 10:20, 5:30] = 1
    out = net(x, hole)
    assert out.shape == x.shape
    # The tail starts at zero: the untrained net is the push-pull fill, known pixels exact.
    assert torch.equal(out * (1 - hole), x * (1 - hole))
    resize = registry.build("photo-inpaint", {"width": 8, "dilations": [1, 2], "upsample": "resize"})
    assert resize.upsample == "resize" and not any("pixel_shuffle" in str(m) for m in resize.modules())
    assert torch.equal(resize(x, hole) * (1 - hole), x * (1 - hole))
    with pytest.raises(ValueError, match="upsample"):
        InpaintNet(8, (1,), "deconv")
    x, hole = torch.rand(2, 3, 64, 96), torch.ones(2, 1, 64, 96)
    g, p = Discriminator(8)(x, hole)
    assert g.shape == (2,) and p.shape == (2, 1, 4, 6)


def test_push_pull_fills_a_flat_image_flat_and_ignores_hole_pixels():
    x = torch.full((1, 3, 40, 40), 0.25)
    hole = torch.zeros(1, 1, 40, 40)
    hole[..., 5:35, 5:35] = 1
    x[..., 5:35, 5:35] = 1.0  # damaged pixels must not leak into the fill
    filled = push_pull_fill(x, hole)
    assert torch.allclose(filled, torch.full_like(filled, 0.25), atol=1e-5)


# ----------------------------------------------------------------------------- masks


def test_feature_matching_sees_only_what_differs_inside_the_hole():
    from studio.train.photo_inpaint import feature_matching

    torch.manual_seed(0)
    D = Discriminator(8).eval()  # eval: spectral norm's power iteration does not move between calls
    img = torch.rand(2, 3, 64, 64)
    hole = torch.zeros(2, 1, 64, 64)
    hole[:, :, 16:40, 16:40] = 1
    g, p, maps = D(img, hole, features=True)
    g0, p0 = D(img, hole)
    assert torch.equal(g, g0) and torch.equal(p, p0) and len(maps) == 4
    assert feature_matching(D, img, hole, maps, False, "cpu").item() == 0
    blurred = img.clone()
    blurred[:, :, 16:40, 16:40] = img[:, :, 16:40, 16:40].mean(dim=(2, 3), keepdim=True)  # a flat fill
    *_, maps = D(blurred, hole, features=True)
    assert feature_matching(D, img, hole, maps, False, "cpu").item() > 0


def test_generated_holes_cover_their_ranges_and_repeat_per_seed():
    for seed in range(12):
        s = im.brush_strokes(64, np.random.default_rng(seed), (0.1, 0.3))
        assert 0.08 <= s.mean() <= 0.45 and set(np.unique(s)) <= {0.0, 1.0}
        b = im.boxes(64, np.random.default_rng(seed), (0.1, 0.3))
        assert 0.03 <= b.mean() <= 0.35
    a = im.brush_strokes(64, np.random.default_rng(5))
    assert np.array_equal(a, im.brush_strokes(64, np.random.default_rng(5)))
    assert not np.array_equal(a, im.brush_strokes(64, np.random.default_rng(6)))


def _mask_folder(path, per_bin=3):
    path.mkdir()
    rng = np.random.default_rng(0)
    for b in range(6):
        for i in range(per_bin):
            cov = (max(0.02, b / 10), b / 10 + 0.08)
            m = im.brush_strokes(64, np.random.default_rng((b, i)), cov)
            cv2.imwrite(str(path / f"{b * 2000 + i:05d}.png"), (m * 255).astype(np.uint8))
    (path / "readme.txt").write_text("not a mask")
    return path


def test_mask_bins_and_holdout_split(tmp_path):
    folder = _mask_folder(tmp_path / "masks")
    bins = im.mask_bins(folder)
    assert sorted(bins) == [0, 1, 2, 3, 4, 5] and all(len(v) == 3 for v in bins.values())
    train, val = im.split_masks(folder, 1)
    assert len(train) == 12 and all(len(v) == 1 and v[0].stem.endswith("2") for v in val.values())
    assert not set(train) & {p for v in val.values() for p in v}
    sampler = im.MaskSampler(train)
    m1 = [sampler(32, np.random.default_rng(i)) for i in range(10)]
    m2 = [sampler(32, np.random.default_rng(i)) for i in range(10)]
    assert all(np.array_equal(a, b) for a, b in zip(m1, m2))
    assert all(0.01 <= m.mean() <= 0.7 and m.shape == (32, 32) for m in m1)


# ----------------------------------------------------------------------------- trainer + engine


def _photo_folder(path, n, rng, size=(80, 96)):
    path.mkdir(parents=True)
    for i in range(n):
        img = (_smooth_image(rng, *size) * 255).astype(np.uint8)
        cv2.imwrite(str(path / f"{i + 1}.png"), img)
    return path


def test_trainer_smoke_run_exports_a_checkpoint_the_engine_loads(tmp_path, monkeypatch):
    from studio.cli import main

    rng = np.random.default_rng(0)
    photos = _photo_folder(tmp_path / "photos" / "test", 5, rng)
    masks = _mask_folder(tmp_path / "masks")
    common = ["--data", str(tmp_path / "photos"), "--val", str(photos), "--val-holdout", "2", "--masks", str(masks),
              "--mask-holdout", "1", "--size", "64", "--batch", "2", "--width", "8", "--dilations", "1,2",
              "--d-width", "8", "--adv-after", "1", "--val-every", "2", "--sample-every", "2", "--threads", "1",
              "--out", str(tmp_path / "run")]
    assert main(["train", "photo-inpaint", *common, "--max-steps", "2"]) == 0
    assert main(["train", "photo-inpaint", *common, "--max-steps", "3", "--export", str(tmp_path / "ck" / "photo-inpaint")]) == 0
    log = (tmp_path / "run" / "train.log").read_text()
    assert "3 training photos" in log and "resumed" in log and "val step 2: hole PSNR" in log
    assert (tmp_path / "run" / "samples" / "final.png").exists()
    card = json.loads((tmp_path / "ck" / "photo-inpaint.json").read_text())
    assert card["architecture"] == "photo-inpaint" and card["config"] == {"width": 8, "dilations": [1, 2]}
    assert card["training"]["steps"] == 3 and card["dtype"] == "float16" and card["hardware"]
    assert "non-commercial" in card["license"] and "telea_hole_psnr" in card["validation"]
    from studio.train import photo_inpaint

    with pytest.raises(StudioError, match="started with"):  # another architecture cannot resume this run
        photo_inpaint.main([*common, "--width", "16", "--max-steps", "4"])

    # Fine-tuning: a new run at another crop size starts from this run's weights, its own step 0.
    tune = [a if a != str(tmp_path / "run") else str(tmp_path / "tune") for a in common]
    tune[tune.index("--size") + 1] = "80"
    state = tmp_path / "run" / "state.pt"
    assert main(["train", "photo-inpaint", *tune, "--init", str(state), "--max-steps", "0"]) == 0
    a, b = (torch.load(d / "state.pt", weights_only=False) for d in (tmp_path / "run", tmp_path / "tune"))
    assert b["step"] == 0 and b["config"]["size"] == 80 and b["extra"]["init"]["step"] == 3
    for k, v in a["modules"]["generator"].items():
        assert torch.equal(v, b["modules"]["generator"][k]), k
    assert "weights from" in (tmp_path / "tune" / "train.log").read_text()
    wide = [*tune, "--width", "16", "--out", str(tmp_path / "tune-wide")]
    with pytest.raises(StudioError, match="needs the same architecture"):
        photo_inpaint.main([*wide, "--init", str(state), "--max-steps", "0"])
    with pytest.raises(StudioError, match="upsample"):  # other layers: the weights cannot carry over
        photo_inpaint.main([*tune, "--upsample", "resize", "--out", str(tmp_path / "tune-rs"), "--init", str(state),
                            "--max-steps", "0"])

    # The resize-conv generator trains, exports its choice in the config, and the engine builds it.
    rs = [a if a != str(tmp_path / "run") else str(tmp_path / "run-rs") for a in common]
    assert main(["train", "photo-inpaint", *rs, "--upsample", "resize", "--max-steps", "2", "--fm-weight", "1", "--d-shift", "8",
                 "--export", str(tmp_path / "ck-rs" / "photo-inpaint")]) == 0
    assert " fm " in (tmp_path / "run-rs" / "train.log").read_text()  # the feature-matching loss ran
    with pytest.raises(StudioError, match="upsample"):  # nor may a resume switch it back
        photo_inpaint.main([*rs, "--max-steps", "3"])
    card = json.loads((tmp_path / "ck-rs" / "photo-inpaint.json").read_text())
    assert card["config"]["upsample"] == "resize" and "feature matching" in card["training"]["loss"]
    assert "shifted by 0-7 px" in card["training"]["loss"]
    rs_engine = PhotoInpainter(str(tmp_path / "ck-rs" / "photo-inpaint.safetensors"), device="cpu")
    assert rs_engine.net.upsample == "resize" and rs_engine.smooth == 0  # no checkerboard to smooth away
    assert PhotoInpainter(str(tmp_path / "ck" / "photo-inpaint.safetensors"), device="cpu").smooth > 0

    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(tmp_path / "ck"))
    engine = PhotoInpainter("photo-inpaint", device="cpu")  # found by name in the bundled folder
    img = _smooth_image(rng, 70, 90)
    mask = np.zeros((70, 90), np.float32)
    mask[20:40, 30:60] = 1
    out = engine.run(img, mask)
    assert out.shape == img.shape and np.isfinite(out).all()
    far = cv2.dilate(mask, np.ones((7, 7), np.uint8)) == 0
    assert np.array_equal(out[far], img[far])
    # The CLI's --detail reaches the photo engine's run (through the inpaint tool); without it,
    # the default.
    from studio import model_cache
    from studio.catalogue import DETAIL_STRENGTH as STRENGTH
    from studio.engines.inpaint import Inpainter

    seen = []

    class Recorded:
        def run(self, rgb, mask, options, job):
            seen.append(options)
            return engine.run(rgb, mask, options, job)

    monkeypatch.setattr(model_cache, "build_engine", lambda *_: Inpainter(makers={"photo": Recorded}))
    cv2.imwrite(str(tmp_path / "in.png"), (img * 255).astype(np.uint8))
    cv2.imwrite(str(tmp_path / "mask.png"), (mask * 255).astype(np.uint8))
    for detail in (["--detail", "0.8"], []):
        assert main(["inpaint", str(tmp_path / "in.png"), str(tmp_path / "mask.png"), "-o", str(tmp_path / "out.png"),
                     "--engine", "photo", "--quiet", *detail]) == 0
    assert [o.detail for o in seen] == [0.8, STRENGTH] and InpaintOptions().detail == STRENGTH


def _two_holes():
    rng = np.random.default_rng(3)
    img = _smooth_image(rng, 160, 240)
    mask = np.zeros((160, 240), np.float32)
    mask[20:40, 20:50] = 1
    mask[100:130, 170:220] = 1
    return img, mask


def test_engine_changes_only_masked_and_feathered_pixels_region_by_region():
    img, mask = _two_holes()
    assert len(regions(mask > 0.5, 24, (24, 256, 0.5))) == 2
    seen = []
    out = PhotoInpainter(_net(), device="cpu", feather=2).run(img, mask, None, Job(seen.append))
    assert [p.fraction for p in seen] == [0.0, 0.5, 1.0]
    assert out.dtype == img.dtype and not np.array_equal(out[mask > 0], img[mask > 0])
    near = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))) > 0
    assert np.array_equal(out[~near], img[~near])  # bit for bit beyond the 2-px feather
    sharp = PhotoInpainter(_net(), device="cpu", feather=0).run(img, mask)
    assert np.array_equal(sharp[mask == 0], img[mask == 0])


def test_engine_is_cancellable_between_crops():
    img, mask = _two_holes()
    job = Job()
    calls = []

    def on_progress(p):
        calls.append(p.fraction)
        if len(calls) == 2:
            job.token.cancel()

    job.on_progress = on_progress
    with pytest.raises(Cancelled):
        PhotoInpainter(_net(), device="cpu").run(img, mask, None, job)
    assert calls == [0.0, 0.5]


def test_close_holes_share_a_crop_and_crops_never_overlap():
    hole = np.zeros((300, 300), bool)
    hole[50:60, 50:60] = hole[50:60, 75:85] = True  # 15 px apart: merged
    hole[250:260, 250:260] = True
    boxes = regions(hole, 24, (24, 256, 0.5))
    assert len(boxes) == 2
    (a, b) = boxes
    assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
    assert all(x0 <= 50 and y0 <= 50 for x0, y0, _, _ in boxes[:1])


def test_large_hole_is_filled_from_scaled_down_context():
    img = np.full((600, 600, 3), 0.3, np.float32)
    img[:, 300:] = 0.7  # two halves: the fill must follow each side
    mask = np.zeros((600, 600), np.float32)
    mask[150:450, 150:450] = 1
    assert scale_for(mask > 0.5, 40, 1 << 20) < 0.3
    out = PhotoInpainter(InpaintNet(8, (1, 2)), device="cpu").run(img, mask)
    far = cv2.dilate(mask, np.ones((7, 7), np.uint8)) == 0
    assert np.array_equal(out[far], img[far])
    assert 0.29 < out[300, 170].mean() < 0.4 and 0.6 < out[300, 430].mean() < 0.71  # each edge follows its side
    assert np.isfinite(out).all() and 0 <= out.min() and out.max() <= 1


def test_wrong_architecture_is_refused(tmp_path, monkeypatch):
    from studio.checkpoints import save_checkpoint
    from studio.nets.tiny import TinyNet

    save_checkpoint(TinyNet(), tmp_path / "photo-inpaint", architecture="tiny", config={}, card={})
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(tmp_path))
    with pytest.raises(CheckpointError, match="not a photo inpainting"):
        PhotoInpainter("photo-inpaint", device="cpu")


def test_auto_engine_picks_the_photo_engine_without_a_face_model():
    from studio.engines.inpaint import Inpainter
    from studio.engines.inpaint_classic import ClassicInpainter

    def no_face():
        raise CheckpointError("not installed")

    auto = Inpainter(makers={"face": no_face, "photo": lambda: PhotoInpainter(_net(), device="cpu"),
                             "classic": ClassicInpainter})
    img, mask = _two_holes()
    options = InpaintOptions(engine="auto")
    assert auto.choose(img, mask, options) == ("photo", options)
    job = Job()
    auto.run(img, mask, options, job)
    assert job.notes == ["photo engine"]


# ----------------------------------------------------------------------------- benchmark, old photo


def test_photo_bench_reports_every_bin_and_method(tmp_path, monkeypatch, capsys):
    from studio.checkpoints import save_checkpoint
    from studio.cli import main

    photos = _photo_folder(tmp_path / "photos", 3, np.random.default_rng(1), size=(64, 64))
    masks = _mask_folder(tmp_path / "masks")
    save_checkpoint(_net(), tmp_path / "ck" / "photo-inpaint", architecture="photo-inpaint",
                    config={"width": 8, "dilations": [1, 2]}, card={})
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(tmp_path / "ck"))
    out = tmp_path / "bench.json"
    assert main(["bench", "inpaint", "--photos", str(photos), "--masks", str(masks), "--holdout", "2", "--n", "2",
                 "--mask-holdout", "1", "--bins", "2,4", "--size", "64", "--json", str(out),
                 "--grid", str(tmp_path / "grid.jpg")]) == 0
    res = json.loads(out.read_text())
    assert res["n"] == 2 and list(res["bins"]) == ["20-30%", "40-50%"]
    for by_method in res["bins"].values():
        assert set(by_method) == {"photo", "net", "patchmatch", "telea", "ns"}
        for r in by_method.values():
            assert 0 < r["psnr_hole"] <= r["psnr_whole"] < 99 and r["sec_per_image"] > 0
            assert 0 < r["texture"] < 1e4 and r["detail_hole"] > 0
    assert "| 40-50% | photo |" in capsys.readouterr().out
    grid = cv2.imread(str(tmp_path / "grid.jpg"))
    assert grid.shape[0] == 6 * (64 + 4) + 4 and grid.shape[1] == 2 * (64 + 4) + 4  # hole, 4 methods, truth


def test_views_make_the_fill_consistent_under_flips_and_transposes():
    # An untrained net returns the push-pull fill, which is already symmetric: give it a
    # random (lopsided) output layer so the views have something to even out.
    torch.manual_seed(0)
    net = InpaintNet(8, (1, 2))
    torch.nn.init.normal_(net.tail.weight, std=0.2)
    img = _smooth_image(np.random.default_rng(5), 64, 64)
    mask = np.zeros((64, 64), np.float32)
    mask[16:44, 10:40] = 1  # its crop (hole + margin) is the whole 64x64 image: no padding
    # Telea and detail transfer are not symmetric: only the net's views are tested here.
    no_detail = InpaintOptions(detail=0)
    for views in (1, 2, 8):
        eng = PhotoInpainter(net, device="cpu", bf16=False, views=views, classic_share=0)
        a = eng.run(img, mask, no_detail)
        mirrored = eng.run(img[:, ::-1].copy(), mask[:, ::-1].copy(), no_detail)[:, ::-1]
        swapped = eng.run(img.transpose(1, 0, 2).copy(), mask.T.copy(), no_detail).transpose(1, 0, 2)
        gap_m, gap_t = float(np.abs(a - mirrored).max()), float(np.abs(a - swapped).max())
        assert gap_m < 1e-5 if views > 1 else gap_m > 1e-2, (views, gap_m)
        assert gap_t < 1e-5 if views == 8 else gap_t > 1e-2, (views, gap_t)


def test_views_fit_the_net_time_budget():
    from studio.engines.inpaint_photo import VIEW_BUDGET, views_for

    assert views_for(256 * 256) == 8  # the benchmark's crops
    assert views_for(1024 * 1024) == 2  # the speed target's one big region
    assert views_for(VIEW_BUDGET // 4) == 4 and views_for(VIEW_BUDGET // 4 + 1) == 2
    assert views_for(4096 * 4096) == 1
    with pytest.raises(ValueError):
        PhotoInpainter(_net(), device="cpu", views=3)
    with pytest.raises(ValueError):
        PhotoInpainter(_net(), device="cpu", classic_share=1.5)


def test_classic_share_blends_telea_into_the_hole_only():
    img, mask, hole = _textured_with_hole(2)
    net = _net()
    no_detail = InpaintOptions(detail=0)
    pure = PhotoInpainter(net, device="cpu", bf16=False, classic_share=0, feather=0).run(img, mask, no_detail)
    mixed = PhotoInpainter(net, device="cpu", bf16=False, classic_share=0.5, feather=0).run(img, mask, no_detail)
    telea = cv2.inpaint(np.round(img * 255).astype(np.uint8), hole.astype(np.uint8), 5, cv2.INPAINT_TELEA) / 255
    assert np.array_equal(mixed[~hole], img[~hole])
    assert np.abs(mixed[hole] - (pure[hole] + telea[hole]) / 2).max() < 1e-5


def _textured(seed=0, size=96):
    """Fine noise over a smooth gradient: the texture the fill should pick up."""
    rng = np.random.default_rng(seed)
    base = _smooth_image(rng, size, size)
    return np.clip(base + rng.normal(0, 0.06, base.shape).astype(np.float32), 0, 1)


def _textured_with_hole(seed):
    """A textured image, a float mask over a box inside it, and that mask as bool."""
    img = _textured(seed)
    mask = np.zeros(img.shape[:2], np.float32)
    mask[30:66, 24:70] = 1
    return img, mask, mask > 0.5


def _two_textures(seed=0, size=96):
    """Left half: fine reddish noise; right half: blue horizontal stripes of period 6."""
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size, 3), np.float32)
    half = size // 2
    img[:, :half] = (0.7, 0.3, 0.2) + rng.normal(0, 0.08, (size, half, 3))
    stripes = (np.arange(size) % 6 < 3).astype(np.float32)[:, None]
    img[:, half:, 0], img[:, half:, 1], img[:, half:, 2] = 0.15, 0.25, 0.4 + 0.4 * stripes
    return np.clip(img, 0, 1)


def test_texture_synthesis_copies_each_side_s_texture_where_the_guide_says():
    from studio.engines.texture import synthesise, textured_fill
    from studio.metrics import detail_ratio

    img = _two_textures()
    hole = np.zeros(img.shape[:2], bool)
    hole[28:68, 24:72] = True  # straddles both textures
    guide = cv2.GaussianBlur(img, (0, 0), 6)  # what a smooth net fill knows: the colours, no texture
    out = synthesise(img * ~hole[..., None], hole, guide, seed=1)
    assert np.array_equal(out[~hole], (img * ~hole[..., None])[~hole])  # only the hole changes
    left, right = hole.copy(), hole.copy()
    left[:, 44:], right[:, :52] = False, False  # away from the seam
    # Each side's fill came from that side: red on the left, blue on the right.
    assert out[left][:, 0].mean() > 0.6 and out[right][:, 2].mean() > 0.5 and out[right][:, 0].mean() < 0.25
    # The stripes are copied, not smeared: rows alternate with the original's period (any phase).
    rows = out[32:64, 56:68, 2].mean(1)
    assert rows.std() > 0.1 and np.corrcoef(rows[6:], rows[:-6])[0, 1] > 0.7 > -0.5 > np.corrcoef(rows[3:], rows[:-3])[0, 1]
    assert detail_ratio(guide, img, hole) < 0.3 < 0.7 < detail_ratio(out, img, hole) < 1.4
    assert np.array_equal(out, synthesise(img * ~hole[..., None], hole, guide, seed=1))  # a seed repeats
    # textured_fill: strength 0 is the fill, strength 1 the texture with the fill's local colour.
    fill = np.where(hole[..., None], guide, img)
    assert np.array_equal(textured_fill(img, hole, fill, 0.0), fill)
    full = textured_fill(img, hole, fill, 1.0, seed=1)
    half = textured_fill(img, hole, fill, 0.5, seed=1)
    assert np.allclose(half[hole], 0.5 * (fill[hole] + full[hole]), atol=1e-5)
    low = lambda a: cv2.GaussianBlur(a, (0, 0), 8)[hole]
    assert np.abs(low(full) - low(fill)).mean() < 0.03
    # No known patch to copy (a hole leaving a thin frame): the fill stays as it is.
    big = np.ones_like(hole)
    big[:3], big[-3:], big[:, :3], big[:, -3:] = False, False, False, False
    assert np.array_equal(textured_fill(img, big, np.where(big[..., None], guide, img), 1.0),
                          np.where(big[..., None], guide, img))


def test_texture_distance_ranks_copied_texture_above_blur():
    from studio.metrics import pyramid_patches, sliced_wasserstein, swd_levels

    rng = np.random.default_rng(0)
    img = _two_textures(1, 128)
    other = _two_textures(2, 128)  # the same textures, other noise
    blur = cv2.GaussianBlur(img, (0, 0), 3)
    where = np.ones((128, 128), bool)
    n = swd_levels(where.shape)
    truth = pyramid_patches(img, where, n, 256, rng)
    same = sliced_wasserstein(pyramid_patches(other, where, n, 256, rng), truth)
    blurred = sliced_wasserstein(pyramid_patches(blur, where, n, 256, rng), truth)
    assert n == 4 and 0 < same < 0.5 * blurred


def test_engine_adds_detail_inside_the_hole_only():
    from studio.metrics import detail_ratio

    img, mask, hole = _textured_with_hole(1)
    engine = PhotoInpainter(_net(), device="cpu", bf16=False)  # detail is per run: one engine serves both
    plain = engine.run(img, mask, InpaintOptions(detail=0))
    rich = engine.run(img, mask, InpaintOptions(detail=1.0))
    far = cv2.dilate(mask, np.ones((7, 7), np.uint8)) == 0
    assert np.array_equal(rich[far], img[far])
    assert detail_ratio(rich, img, hole) > 2 * detail_ratio(plain, img, hole)
