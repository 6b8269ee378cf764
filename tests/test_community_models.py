"""Community SR models (no model card) through spandrel: tiny random ESRGAN, Real-ESRGAN compact,
SPAN and SwinIR nets saved as .pth and .safetensors, listed, loaded and run; a .pth that needs
Python objects is refused without building them; without spandrel, a clear line."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from studio import cli, community
from studio.checkpoints import find_checkpoint, list_checkpoints, load_model
from studio.errors import CheckpointError

ROOT = Path(__file__).resolve().parent.parent
RAN = []  # what a booby-trapped pickle would append to if it were ever built

pytestmark = pytest.mark.filterwarnings("ignore:torch.meshgrid")  # SwinIR, built by the tests themselves


def _ran(what):
    RAN.append(what)
    return what


class Trap:
    def __reduce__(self):
        return _ran, ("code from a pickle",)


@pytest.fixture
def models(model_folders):
    """An empty user models folder, searched before an empty bundled one."""
    return model_folders[0]


@pytest.fixture
def spandrel():
    if importlib.util.find_spec("spandrel") is None:
        pytest.skip(f"spandrel is not installed ({community.INSTALL})")
    return community.import_spandrel()


def tiny_nets(spandrel):
    """name -> (untrained net, scale, spandrel's architecture name), seeded."""
    arch = spandrel.architectures
    torch.manual_seed(0)
    return {
        "4x-esrgan": (arch.ESRGAN.ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4), 4, "ESRGAN"),
        "2x-compact": (arch.Compact.Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2), 2,
                       "RealESRGAN Compact"),
        "4x-span": (arch.SPAN.SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=4), 4, "SPAN"),
        "2x-swinir": (arch.SwinIR.SwinIR(img_size=16, embed_dim=12, depths=[1], num_heads=[2], window_size=4,
                                         mlp_ratio=2.0, upscale=2, upsampler="pixelshuffle"), 2, "SwinIR"),
    }


def save(folder: Path, name: str, net, fmt: str) -> Path:
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    path = folder / f"{name}.{fmt}"
    if fmt == "pth":
        torch.save({"params_ema": state}, path)  # as Real-ESRGAN's releases nest it
    else:
        save_file({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, str(path))
    return path


def save_all(folder: Path, spandrel) -> dict:
    nets = tiny_nets(spandrel)
    formats = {"4x-esrgan": "pth", "2x-compact": "safetensors", "4x-span": "safetensors", "2x-swinir": "pth"}
    for name, (net, _, _) in nets.items():
        save(folder, name, net, formats[name])
    save(folder, "4x-span-pth", nets["4x-span"][0], "pth")
    return nets


def test_listed_from_the_folder_without_torch(models, spandrel):
    save_all(models, spandrel)
    found, problems = list_checkpoints()
    assert problems == []
    assert sorted(i.name for i in found) == ["2x-compact", "2x-swinir", "4x-esrgan", "4x-span", "4x-span-pth"]
    if importlib.util.find_spec("torchvision") is None:
        assert "torchvision" not in sys.modules  # the stand-in spandrel was imported with is gone
    assert {i.architecture for i in found} == {community.ARCHITECTURE}
    assert find_checkpoint("4x-esrgan").card["format"] == "pth"
    code = ("import sys; from studio.checkpoints import list_checkpoints; found, _ = list_checkpoints(); "
            "print(len(found), 'torch' in sys.modules, 'spandrel' in sys.modules)")
    env = {**os.environ, "STUDIO_MODELS_DIR": str(models)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["5", "False", "False"]


def test_loaded_with_their_scale_and_run_like_the_original(models, spandrel):
    nets = save_all(models, spandrel)
    x = torch.rand(1, 3, 16, 16)
    for name, (net, scale, arch) in nets.items():
        module, info = load_model(name)
        assert info.architecture == community.ARCHITECTURE
        assert (module.scale, module.arch) == (scale, arch), name
        assert community.describe(info.weights) == f"{scale}x {arch}"
        assert community.scale_of(info.weights) == scale
        assert not module.training
        with torch.no_grad():
            y = module(x)
            want = spandrel.ModelLoader().load_from_state_dict(net.state_dict())(x)
        assert y.shape == (1, 3, 16 * scale, 16 * scale)
        assert 0 <= y.min() and y.max() <= 1
        tol = 1e-5 if info.weights.suffix == ".pth" else 2e-2  # the .safetensors files are float16
        assert torch.allclose(y, want, atol=tol), name


def test_the_upscaler_tiles_a_community_model(models, spandrel):
    from studio.catalogue import UpscaleOptions
    from studio.engines.upscale import Upscaler

    save_all(models, spandrel)
    rgb = np.random.default_rng(0).random((40, 36, 3), dtype=np.float32)
    for name, scale in (("2x-compact", 2), ("2x-swinir", 2), ("4x-span", 4)):
        module, _ = load_model(name)
        out = Upscaler(module, "cpu").run(rgb, None, UpscaleOptions(tile=32))
        assert out.shape == (40 * scale, 36 * scale, 3) and out.dtype == np.float32
        assert 0 <= out.min() and out.max() <= 1


def test_autocast_a_net_cannot_take_falls_back_to_float32(models, spandrel):
    net = tiny_nets(spandrel)["2x-swinir"][0]  # spandrel: SwinIR does not support float16
    save(models, "2x-swinir", net, "pth")
    module, _ = load_model("2x-swinir")
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        plain = module(x)
        with torch.autocast("cpu", dtype=torch.float16):
            auto = module(x)
    assert auto.dtype == torch.float32 and torch.equal(auto, plain)


def test_studio_models_says_the_scale(models, spandrel, capsys):
    save_all(models, spandrel)
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    for line in ("4x ESRGAN", "2x RealESRGAN Compact", "4x SPAN", "2x SwinIR"):
        assert line in out


def test_a_pth_that_needs_python_objects_is_refused_unbuilt(models):
    path = models / "4x-trap.pth"
    torch.save({"params": {"conv.weight": torch.zeros(1)}, "extra": Trap()}, path)
    assert "4x-trap" in [i.name for i in list_checkpoints()[0]]  # listing does not open a .pth
    with pytest.raises(CheckpointError, match=r"needs Python objects besides tensors to load \([\w.]*_ran\).*refused"):
        community.read_state_dict(path)
    with pytest.raises(CheckpointError):  # that, or without spandrel, that it needs spandrel
        load_model("4x-trap")
    assert RAN == []


def test_non_sr_and_unknown_models_are_refused(models, spandrel):
    torch.manual_seed(0)
    denoiser = spandrel.architectures.Compact.Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=1)
    save(models, "1x-denoise", denoiser, "safetensors")
    with pytest.raises(CheckpointError, match="Restoration model .*not single-image super-resolution"):
        load_model("1x-denoise")
    save_file({"foo.weight": torch.zeros(2, 2)}, str(models / "mystery.safetensors"))
    with pytest.raises(CheckpointError, match="spandrel does not recognise"):
        load_model("mystery")
    (models / "garbage.pth").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="not a readable .pth file"):
        load_model("garbage")


def test_without_spandrel_a_clear_line(models, monkeypatch, capsys):
    torch.manual_seed(0)
    save_file({"conv_first.weight": torch.rand(8, 3, 3, 3)}, str(models / "4x-someone.safetensors"))
    monkeypatch.setitem(sys.modules, "spandrel", None)  # as if not installed
    found, problems = list_checkpoints()
    assert [i.name for i in found] == ["4x-someone"] and problems == []
    with pytest.raises(CheckpointError, match="need spandrel, which is not installed .*pip install --no-deps spandrel"):
        load_model("4x-someone")
    assert cli.main(["models"]) == 0
    assert "need spandrel" in capsys.readouterr().out


def test_cardless_files_the_app_did_not_write_are_checked_in_the_listing(models):
    (models / "broken.safetensors").write_bytes(b"x")
    (models / "empty.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    found, problems = list_checkpoints()
    assert found == []
    assert len(problems) == 2
    assert "broken.safetensors is not a valid safetensors file" in problems[0]
    assert "empty.safetensors holds no tensors" in problems[1]
