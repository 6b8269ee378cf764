"""4x upscaling: tiling without seams, memory fallback, cancel, precision, the CLI around it.

The tiling machinery itself (spans, blending weights, any image function) is tests/test_tiling.py."""

import numpy as np
import pytest
import torch
from PIL import Image

from studio.catalogue import UpscaleOptions
from studio.cli import main
from studio.engines import tiling
from studio.engines import upscale as up
from studio.errors import Cancelled, StudioError
from studio.jobs import CancelToken, Job, quiet_job
from studio.nets.srresnet import SRResNet


def small_net(seed=0) -> SRResNet:
    """A stand-in with a non-trivial learned residual (the real tail starts at zero)."""
    torch.manual_seed(seed)
    net = SRResNet(blocks=2, channels=16)
    torch.nn.init.normal_(net.tail.weight, 0, 0.02)
    return net.eval()


def photo(h=70, w=90, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.random((h // 8, w // 8, 3)).astype(np.float32)
    img = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC), np.float32) / 255
    return np.clip(img + rng.normal(0, 0.05, img.shape), 0, 1).astype(np.float32)


def test_tiled_output_matches_untiled_output():
    eng = up.Upscaler(small_net(), torch.device("cpu"), autocast=False)
    img = photo()
    whole = eng.run(img, None, UpscaleOptions(tile=1000), quiet_job())
    tiled = eng.run(img, None, UpscaleOptions(tile=40), quiet_job())
    assert whole.shape == (280, 360, 3)
    diff = np.abs(whole - tiled)
    # Below what an 8-bit file can show: no seam anywhere.
    assert diff.max() < 1 / 255 and diff.mean() < 1e-4


def test_untrained_net_is_bicubic_and_output_is_4x():
    eng = up.Upscaler(SRResNet(blocks=1, channels=8), torch.device("cpu"), autocast=False)
    img = photo(20, 24)
    out = eng.run(img, None, None, None)  # no mask, default options, a quiet job
    ref = torch.nn.functional.interpolate(torch.from_numpy(img).permute(2, 0, 1)[None], scale_factor=4,
                                          mode="bicubic", align_corners=False)
    np.testing.assert_allclose(out, ref[0].permute(1, 2, 0).clamp(0, 1).numpy(), atol=1e-5)


def test_progress_per_tile_and_cancel_between_tiles():
    eng = up.Upscaler(small_net(), torch.device("cpu"), autocast=False)
    seen = []
    token = CancelToken()

    def report(p):
        seen.append(p.message)
        if p.message.startswith("tile 2 "):
            token.cancel()

    with pytest.raises(Cancelled):
        eng.run(photo(), None, UpscaleOptions(tile=40), Job(report, token))
    assert [m for m in seen if m.startswith("tile")] == ["tile 1 of 12", "tile 2 of 12"]


def test_out_of_memory_halves_the_tile_and_finishes(monkeypatch):
    eng = up.Upscaler(small_net(), torch.device("cpu"), autocast=False)
    real = eng._forward
    sizes = []

    def forward(lr):
        sizes.append(max(lr.shape[:2]))
        if max(lr.shape[:2]) > 80:  # the whole 90px-wide image fails, 64px tiles + context fit
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB")
        return real(lr)

    monkeypatch.setattr(eng, "_forward", forward)
    img = photo()
    out = eng.run(img, None, UpscaleOptions(tile=128))
    assert out.shape == (280, 360, 3) and eng.fitted_tiles == {128: 64}
    expected = up.Upscaler(small_net(), torch.device("cpu"), autocast=False).run(img)
    assert np.abs(out - expected).max() < 1 / 255
    # The next image of a batch starts from the tile that fitted: no failing attempt again.
    sizes.clear()
    eng.run(img, None, UpscaleOptions(tile=128))
    assert sizes and max(sizes) <= 80 and eng.fitted_tiles == {128: 64}
    sizes.clear()  # another tile size is tried as asked
    eng.run(img, None, UpscaleOptions(tile=96))
    assert max(sizes) > 80 and eng.fitted_tiles == {128: 64, 96: 48}


def test_other_errors_are_not_retried(monkeypatch):
    eng = up.Upscaler(small_net(), torch.device("cpu"), autocast=False)
    monkeypatch.setattr(eng, "_forward", lambda lr: (_ for _ in ()).throw(ValueError("boom")))
    with pytest.raises(ValueError):
        eng.run(photo(), None, UpscaleOptions(tile=64))
    assert eng.fitted_tiles == {}  # nothing was halved or remembered


def test_sixteen_bit_gradient_keeps_more_than_256_levels():
    eng = up.Upscaler(small_net(), torch.device("cpu"))  # with autocast where the CPU has it
    ramp = np.linspace(0.2, 0.3, 64, dtype=np.float32)  # 0.1 of range: ~26 levels in 8 bits
    img = np.repeat(np.repeat(ramp[None, :, None], 16, 0), 3, 2)
    out = eng.run(img)
    levels = np.unique(np.round(out[30, 8:-8, 0] * 65535))
    assert len(levels) > 100


def test_auto_tile_is_bounded():
    t = up.auto_tile(torch.device("cpu"))
    assert tiling.MIN_TILE <= t <= up.MAX_TILE


def _install(tmp_path, monkeypatch, name="span-x4", net=None, arch="srresnet"):
    from studio.checkpoints import save_checkpoint

    net = net or small_net()
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(tmp_path / "ck"))
    save_checkpoint(net, tmp_path / "ck" / name, architecture=arch,
                    config=dict(blocks=2, channels=16, head_kernel=3) if arch == "srresnet" else {},
                    card={"task": "4x super-resolution"}, dtype=torch.float32)


def test_cli_upscale_keeps_alpha_and_icc(tmp_path, monkeypatch):
    _install(tmp_path, monkeypatch)
    rgba = np.zeros((20, 24, 4), np.uint8)
    rgba[..., :3] = (photo(20, 24) * 255).astype(np.uint8)
    rgba[:, :12, 3] = 255  # left half opaque, right half clear
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(rgba, "RGBA").save(tmp_path / "in.png", icc_profile=icc)
    assert main(["upscale", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--quiet"]) == 0
    with Image.open(tmp_path / "out.png") as im:
        assert im.size == (96, 80) and im.mode == "RGBA"
        assert im.info.get("icc_profile") == icc
        a = np.asarray(im)[..., 3]
    assert a[:, :40].min() > 250 and a[:, 56:].max() < 5


def test_cli_upscale_refuses_a_checkpoint_of_another_kind(tmp_path, monkeypatch, capsys):
    from studio.nets.tiny import TinyNet

    _install(tmp_path, monkeypatch, name="not-sr", net=TinyNet(), arch="tiny")
    Image.fromarray((photo(20, 24) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    assert main(["upscale", str(tmp_path / "in.png"), "-o", str(tmp_path / "o.png"), "--model", "not-sr", "--quiet"]) == 2
    assert "not an upscaling model" in capsys.readouterr().err


def test_tile_too_small_is_refused(capsys):
    message = "Tile size wants a whole number from 32 to 4096, got 8"
    with pytest.raises(StudioError, match=f"^{message}$"):
        UpscaleOptions(tile=8)
    with pytest.raises(SystemExit) as e:  # the CLI's check is the same one, named by its flag, before any loading
        main(["upscale", "in.png", "-o", "out.png", "--tile", "8"])
    assert e.value.code == 2 and "--tile wants a whole number from 32 to 4096, got '8'" in capsys.readouterr().err


def test_the_engine_refuses_a_result_over_the_pixel_limit(monkeypatch):
    monkeypatch.setenv("STUDIO_MAX_PIXELS", str(100 * 100))
    eng = up.Upscaler(small_net(), torch.device("cpu"), autocast=False)
    with pytest.raises(StudioError, match="4x upscale of 30×30 would be"):
        eng.run(np.zeros((30, 30, 3), np.float32))  # 120x120 > 100x100
    assert eng.run(np.zeros((25, 25, 3), np.float32)).shape == (100, 100, 3)


def test_bench_crop_grid_shows_each_rows_own_corner_at_100_percent(tmp_path, monkeypatch):
    from PIL import Image

    from studio.cli import main

    _install(tmp_path, monkeypatch)
    hr = tmp_path / "hr"
    hr.mkdir()
    rng = np.random.default_rng(4)
    pics = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(2)]
    for i, p in enumerate(pics):
        Image.fromarray(p).save(hr / f"{i}.png")
    out = tmp_path / "grid.png"
    assert main(["bench", "sr", "--hr", str(hr), "--model", "span-x4", "--crops", str(out), "--crop-rows", "2",
                 "--crop-size", "16", "--crop-zoom", "1", "--crop-at", "0,0", "--crop-at", "32,16"]) == 0
    grid = np.asarray(Image.open(out).convert("RGB"))
    assert grid.shape == (2 * 16 + 4, 3 * 16 + 2 * 4, 3)  # bicubic | model | original, per row
    assert np.abs(grid[20:36, 40:56].astype(int) - pics[1][16:32, 32:48]).max() <= 1  # row 2: its own corner, unscaled
    assert np.abs(grid[:16, 40:56].astype(int) - pics[0][:16, :16]).max() <= 1
    assert main(["bench", "sr", "--hr", str(hr), "--model", "span-x4", "--crops", str(out), "--crop-zoom", "0"]) == 2
