"""SR metrics (literature protocol), training data, feature nets and a smoke run of both trainers."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from studio.data.images import bicubic_down
from studio.errors import CheckpointError, StudioError
from studio.metrics import crop_to_multiple, psnr, rgb_to_y, sr_scores, ssim
from studio.nets.features import RELU_5_4, FeatureNet, vgg19_features
from studio.train.sr_data import SRPatches


def test_y_channel_is_bt601_studio_range():
    assert rgb_to_y(np.zeros(3)) == pytest.approx(16.0)
    assert rgb_to_y(np.ones(3)) == pytest.approx(235.0)


def test_psnr_and_ssim_known_values():
    rng = np.random.default_rng(0)
    a = rng.random((64, 64)) * 255
    assert psnr(a, a + 1.0) == pytest.approx(10 * np.log10(255**2), abs=1e-6)  # MSE 1
    assert ssim(a, a) == pytest.approx(1.0)
    assert 0.5 < ssim(a, a + rng.normal(0, 80, a.shape)) < 0.75 < 0.98 < ssim(a, a + rng.normal(0, 10, a.shape)) < 1


def test_scores_shave_the_border():
    hr = np.full((32, 32, 3), 128 / 255)
    out = hr.copy()
    out[:4] = 0  # damage only the 4-px border
    p, s = sr_scores(out, hr)
    assert p == float("inf") and s == pytest.approx(1.0)


def test_bicubic_on_set5_matches_the_literature(shared_data):
    from studio.data.images import bicubic_up, find_images, read_rgb

    scores = []
    for f in find_images([shared_data / "sr" / "Set5"]):
        hr8 = crop_to_multiple(read_rgb(f), 4)
        scores.append(sr_scores(bicubic_up(bicubic_down(hr8, 4), 4), hr8 / 255.0)[0])
    assert np.mean(scores) == pytest.approx(28.43, abs=0.02)  # Ledig et al. Table 2


def test_patches_are_deterministic_and_lr_is_bicubic_of_hr():
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (64, 80, 3), dtype=np.uint8), rng.integers(0, 256, (100, 50, 3), dtype=np.uint8)]
    data = SRPatches(imgs, lr_patch=8)
    lr, hr = data.pair(123)
    lr2, hr2 = data.pair(123)
    assert lr.shape == (8, 8, 3) and hr.shape == (32, 32, 3)
    assert np.array_equal(lr, lr2) and np.array_equal(hr, hr2)
    assert np.array_equal(lr, bicubic_down(hr, 4))
    assert not np.array_equal(data.pair(124)[1], hr)
    lrb, hrb = data.get_batch([1, 2, 3])
    assert lrb.shape == (3, 3, 8, 8) and hrb.shape == (3, 3, 32, 32) and 0 <= lrb.min() and hrb.max() <= 1
    noisy = SRPatches(imgs, lr_patch=8, degrade=True).pair(7)[0]
    assert noisy.shape == (8, 8, 3) and noisy.dtype == np.uint8


def test_patches_refuse_images_smaller_than_a_crop():
    with pytest.raises(StudioError):
        SRPatches([np.zeros((20, 20, 3), np.uint8)], lr_patch=8)


def test_vgg19_weights_are_checked_before_loading(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(3)
    ref = FeatureNet((RELU_5_4,))
    tensors = {f"features.{k}": v.contiguous() for k, v in ref.features.state_dict().items()}
    tensors["classifier.0.weight"] = torch.zeros(4, 4)  # other keys of a full VGG19 file are ignored
    save_file(tensors, str(tmp_path / "vgg19.safetensors"))
    net = vgg19_features(tmp_path / "vgg19.safetensors")
    x = torch.rand(1, 3, 32, 32)
    assert torch.allclose(net(x)[0], ref(x)[0])

    tensors["features.0.weight"] = torch.zeros(64, 3, 5, 5)
    save_file(tensors, str(tmp_path / "bad.safetensors"))
    with pytest.raises(CheckpointError, match="wrong shapes"):
        vgg19_features(tmp_path / "bad.safetensors")
    (tmp_path / "vgg19.pth").write_bytes(b"not read")
    with pytest.raises(CheckpointError, match="pickles"):
        vgg19_features(tmp_path / "vgg19.pth")


def _photos(folder, n=3, size=72):
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        small = rng.integers(0, 256, (9, 9, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BICUBIC).save(folder / f"{i}.png")
    return folder


def test_srresnet_then_srgan_smoke_run_exports_loadable_checkpoints(tmp_path, monkeypatch):
    from studio.checkpoints import load_model
    from studio.cli import main
    from studio.engines.upscale import Upscaler

    data = _photos(tmp_path / "photos")
    tiny = ["--blocks", "1", "--channels", "8", "--batch", "2", "--patch", "8", "--threads", "1", "--val-holdout", "1",
            "--val-every", "2", "--sample-every", "2", "--no-bf16"]
    assert main(["train", "srresnet", "--data", str(data), "--out", str(tmp_path / "r1"), "--max-steps", "3",
                 "--export", str(tmp_path / "ck" / "sr-a"), *tiny]) == 0
    card = json.loads((tmp_path / "ck" / "sr-a.json").read_text())
    assert card["architecture"] == "srresnet" and card["training"]["steps"] == 3
    assert card["training"]["loss"] == "L1" and "psnr" in card["validation"]
    assert "non-commercial" in card["license"] and card["hardware"]
    assert (tmp_path / "r1" / "samples" / "final.png").exists()

    assert main(["train", "srgan", "--init", str(tmp_path / "ck" / "sr-a.safetensors"), "--data", str(data),
                 "--out", str(tmp_path / "r2"), "--max-steps", "2", "--export", str(tmp_path / "ck" / "sr-b"),
                 "--fm-weight", "1", "--shift-weight", "1", *tiny]) == 0
    card = json.loads((tmp_path / "ck" / "sr-b.json").read_text())
    assert card["initialised_from"]["name"] == "sr-a" and card["training"]["content_loss"].startswith("critic feature matching")
    assert card["training"]["ema"] == 0.999 and "random 0-7 px" in card["training"]["critic"]
    assert card["training"]["shift_weight"] == 1 and card["training"]["artifact_weight"] > 0
    net, _ = load_model(str(tmp_path / "ck" / "sr-b.safetensors"))
    out = Upscaler(net, torch.device("cpu")).run(np.full((10, 12, 3), 0.5, np.float32))
    assert out.shape == (40, 48, 3)


def test_srgan_needs_a_matching_init(tmp_path):
    from studio.cli import main

    data = _photos(tmp_path / "photos")
    args = ["train", "srgan", "--data", str(data), "--out", str(tmp_path / "r"), "--max-steps", "1",
            "--blocks", "1", "--channels", "8", "--batch", "2", "--patch", "8", "--no-bf16"]
    assert main(args) == 2  # no --init for a new run


def test_detail_ratio_falls_with_blur():
    import cv2

    from studio.metrics import detail_ratio

    rng = np.random.default_rng(0)
    hr = rng.random((48, 48, 3))
    assert detail_ratio(hr, hr) == pytest.approx(1.0)
    soft = cv2.GaussianBlur(hr, (0, 0), 1.0)
    assert detail_ratio(soft, hr) < 0.5 * detail_ratio(cv2.GaussianBlur(hr, (0, 0), 0.4), hr)


def test_span_starts_at_bicubic_with_equal_subpixel_kernels_and_trains_to_an_upscaler(tmp_path):
    """The efficient net: ICNR init (every 4x4 group of output pixels starts from one kernel, so no
    checkerboard at the start), an untrained net close to bicubic, and the trainer's --arch span
    exports a checkpoint the Upscaler and the catalogue accept."""
    import torch.nn.functional as F

    from studio import catalogue
    from studio.cli import main
    from studio.engines.upscale import Upscaler
    from studio.nets.span import SPAN

    net = SPAN(blocks=2, channels=8)
    w = net.tail.weight.detach()
    assert torch.equal(w[0::16], w[15::16]) and torch.equal(w[0::16], w[5::16])
    x = torch.rand(1, 3, 12, 12)
    base = F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)
    assert (net(x) - base).abs().max() < 0.05
    data = _photos(tmp_path / "photos")
    assert main(["train", "srresnet", "--arch", "span", "--blocks", "1", "--channels", "8", "--batch", "2",
                 "--patch", "8", "--threads", "1", "--val-holdout", "1", "--val-every", "2", "--no-bf16",
                 "--data", str(data), "--out", str(tmp_path / "r"), "--max-steps", "2",
                 "--export", str(tmp_path / "ck" / "span-t")]) == 0
    card = json.loads((tmp_path / "ck" / "span-t.json").read_text())
    assert card["architecture"] == "span" and card["config"] == {"blocks": 1, "channels": 8}
    assert card["architecture"] in catalogue.tool("upscale").architectures and "SPAN" in card["method"]
    out = Upscaler(str(tmp_path / "ck" / "span-t.safetensors"), torch.device("cpu")).run(np.full((10, 12, 3), 0.5,
                                                                                                 np.float32))
    assert out.shape == (40, 48, 3)


def test_the_critic_sees_every_image_at_one_offset_that_changes_from_step_to_step():
    from studio.nets.sr_critic import SRCritic
    from studio.train.srgan import SHIFT, random_crop

    index = torch.arange(40 * 40, dtype=torch.float32).view(1, 1, 40, 40)
    corners = set()
    for step in range(30):
        a, b = random_crop((0, step, 0), index, index + 0.5)
        assert a.shape[-2:] == (40 - SHIFT, 40 - SHIFT) and torch.equal(b - a, torch.full_like(a, 0.5))
        corners.add(int(a[0, 0, 0, 0]))
    assert len(corners) > 8  # not a fixed grid: a repeating 4-px pattern cannot hide in it
    assert random_crop((0, 5, 0), index)[0].equal(random_crop((0, 5, 0), index)[0])  # resumable
    logits, feats = SRCritic(8)(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 1, 4, 4) and len(feats) == 4


def test_a_faithful_span_starts_the_sharp_model_with_its_output_stage_at_zero(tmp_path):
    from studio.checkpoints import load_model
    from studio.cli import main

    data = _photos(tmp_path / "photos")
    tiny = ["--arch", "span", "--blocks", "1", "--channels", "8", "--batch", "2", "--patch", "8", "--threads", "1",
            "--val-holdout", "1", "--val-every", "50", "--sample-every", "50", "--no-bf16"]
    assert main(["train", "srresnet", "--data", str(data), "--out", str(tmp_path / "r1"), "--max-steps", "2",
                 "--export", str(tmp_path / "ck" / "faithful"), *tiny]) == 0
    faithful, _ = load_model(str(tmp_path / "ck" / "faithful.safetensors"))
    assert main(["train", "srgan", "--init", str(tmp_path / "ck" / "faithful.safetensors"), "--hr-channels", "4",
                 "--data", str(data), "--out", str(tmp_path / "r2"), "--max-steps", "1", "--ema", "0", "--fm-weight", "0",
                 "--lr", "1e-12", "--d-lr", "1e-12", "--export", str(tmp_path / "ck" / "sharp"), *tiny]) == 0
    sharp, info = load_model(str(tmp_path / "ck" / "sharp.safetensors"))
    assert info.card["config"]["hr_channels"] == 4 and sharp.hr is not None
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        assert torch.allclose(sharp(x), faithful(x), atol=2e-3)  # the new stage adds nothing yet
    assert main(["train", "srresnet", "--data", str(data), "--out", str(tmp_path / "r3"), "--max-steps", "1",
                 "--hr-channels", "4", "--blocks", "1", "--channels", "8", "--patch", "8"]) == 2  # span only


def test_shift_consistency_is_zero_for_a_grid_free_upscaler_and_not_for_a_4x4_pattern():
    import torch.nn.functional as F

    from studio.train.srgan import shift_consistency

    hr = F.interpolate(torch.rand(2, 3, 5, 5), size=(48, 48), mode="bicubic", align_corners=False).clamp(0, 1)
    lr = F.interpolate(hr, scale_factor=0.25, mode="bicubic", antialias=True, align_corners=False)

    def smooth(x):  # shift-equivariant: bicubic
        return F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)

    def dotted(x):  # the same plus a dot in every 4x4 block
        dots = torch.zeros(1, 1, 4, 4)
        dots[..., 1, 2] = 0.3
        return smooth(x) + dots.repeat(1, 1, x.shape[-2], x.shape[-1])

    cpu = torch.device("cpu")
    clean = [shift_consistency(smooth, hr, smooth(lr), (0, s), cpu, False).item() for s in range(4)]
    bad = [shift_consistency(dotted, hr, dotted(lr), (0, s), cpu, False).item() for s in range(4)]
    assert max(clean) < 0.012 and min(bad) > 3 * max(clean)
