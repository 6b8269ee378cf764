import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from studio.cli import main


def _image(path, w=48, h=40, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def _mask(path, w=48, h=40):
    m = np.zeros((h, w), np.uint8)
    m[h // 4: h // 2, w // 4: w // 2] = 255
    Image.fromarray(m).save(path)
    return path


def _err_lines(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_missing_input_is_one_clear_line(tmp_path, capsys):
    code = main(["inpaint", str(tmp_path / "nope.png"), str(tmp_path / "m.png"), "-o", str(tmp_path / "o.png")])
    lines = _err_lines(capsys)
    assert code == 2
    assert lines == [f"studio: error: input {tmp_path / 'nope.png'} does not exist"]


def test_corrupt_image_is_one_clear_line_and_verbose_adds_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    mask = _mask(tmp_path / "m.png")
    args = ["inpaint", str(bad), str(mask), "-o", str(tmp_path / "o.png"), "--engine", "classic", "--quiet"]
    assert main(args) == 2
    lines = _err_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith("studio: error:") and "bad.png" in lines[0]
    assert not (tmp_path / "o.png").exists()
    assert main(args + ["--verbose"]) == 2
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["edit", "x.png", "--set", "Smiling", "-o", "y.png"], "NAME=VALUE (e.g. Smiling=1)"),
        (["edit", "x.png", "--set", "Smiling=lots", "-o", "y.png"], "NAME=VALUE (e.g. Smiling=1)"),
        (["inpaint", "a", "b", "-o", "c", "--box", "1,2,3"], "x,y,w,h"),
        (["inpaint", "a", "b", "-o", "c", "--engine", "magic"], "invalid choice"),
        (["inpaint", "a", "b", "-o", "c", "--detail", "2"], "0 to 1"),
        (["inpaint", "a", "b", "-o", "c", "--detail", "lots"], "0 to 1"),
        (["upscale", "a.png"], "-o/--output"),
        (["train", "nosuchmodel"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_studio_error(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "studio: error:" in err and needle in err and "Traceback" not in err


def test_upscale_without_checkpoint_names_what_is_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(tmp_path / "empty"))
    img = _image(tmp_path / "a.png")
    assert main(["upscale", str(img), "-o", str(tmp_path / "b.png"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("studio: error:") and ("not found" in err or "not available" in err)


def test_classic_inpaint_fills_only_the_mask(tmp_path, capsys):
    img = _image(tmp_path / "a.png")
    mask = _mask(tmp_path / "m.png")
    out = tmp_path / "out" / "a.png"
    assert main(["inpaint", str(img), str(mask), "-o", str(out), "--engine", "classic", "--quiet"]) == 0
    a, b = np.asarray(Image.open(img)), np.asarray(Image.open(out))
    hole = np.asarray(Image.open(mask)) > 127
    assert np.array_equal(a[~hole], b[~hole])
    assert not np.array_equal(a[hole], b[hole])


def test_mask_of_another_size_is_rescaled_with_a_warning(tmp_path, capsys):
    img = _image(tmp_path / "a.png", 48, 40)
    mask = _mask(tmp_path / "m.png", 96, 80)
    assert main(["inpaint", str(img), str(mask), "-o", str(tmp_path / "o.png"), "--engine", "classic"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "rescaled" in err
    assert (tmp_path / "o.png").exists()


def test_batch_keeps_going_past_a_bad_file_and_pairs_by_stem(tmp_path, capsys):
    imgs, masks, out = tmp_path / "imgs", tmp_path / "masks", tmp_path / "out"
    imgs.mkdir(), masks.mkdir()
    for i in range(3):
        _image(imgs / f"p{i}.png", seed=i)
        _mask(masks / f"p{i}.png")
    _image(imgs / "jpeg.jpg")
    _mask(masks / "jpeg.png")  # pairs with jpeg.jpg by stem
    (imgs / "p1.png").write_bytes(b"garbage")
    _image(imgs / "lonely.png")  # no mask at all
    code = main(["inpaint", str(imgs), str(masks), "-o", str(out), "--engine", "classic", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert sorted(p.name for p in out.iterdir()) == ["jpeg.jpg", "p0.png", "p2.png"]
    assert "p1.png" in err and "lonely" in err and "2 of 5 files failed" in err


def test_batch_never_writes_over_its_inputs(tmp_path, capsys):
    imgs, masks = tmp_path / "imgs", tmp_path / "masks"
    imgs.mkdir(), masks.mkdir()
    _image(imgs / "a.png")
    _mask(masks / "a.png")
    before = (masks / "a.png").read_bytes()
    assert main(["inpaint", str(imgs), str(masks), "-o", str(imgs), "--engine", "classic", "--quiet"]) == 2
    assert "input folder" in capsys.readouterr().err
    # the mask folder as output would overwrite the mask it reads
    assert main(["inpaint", str(imgs), str(masks), "-o", str(masks), "--engine", "classic", "--quiet"]) == 2
    assert (masks / "a.png").read_bytes() == before


def test_single_file_may_overwrite_the_input_when_named(tmp_path):
    img = _image(tmp_path / "a.png")
    mask = _mask(tmp_path / "m.png")
    before = img.read_bytes()
    assert main(["inpaint", str(img), str(mask), "-o", str(img), "--engine", "classic", "--quiet"]) == 0
    assert img.read_bytes() != before


def test_models_lists_cards_and_metrics(tmp_path, capsys, monkeypatch):
    import torch

    from studio.checkpoints import save_checkpoint
    from studio.nets.tiny import TinyNet

    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(tmp_path))
    assert main(["models"]) == 0
    assert "no checkpoints found" in capsys.readouterr().out
    save_checkpoint(TinyNet(), tmp_path / "tiny-x", architecture="tiny", config={},
                    card={"task": "test", "metrics": {"psnr_db": 31.5}}, dtype=torch.float32)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "tiny-x" in out and "psnr_db=31.5" in out


def test_real_process_error_has_no_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "studio", "upscale", str(tmp_path / "x.png"), "-o", str(tmp_path / "y.png")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"studio: error: input {tmp_path / 'x.png'} does not exist"]


def test_auto_engine_falls_back_to_classic_without_a_face_or_models(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(tmp_path / "empty"))
    img = _image(tmp_path / "a.png")
    mask = _mask(tmp_path / "m.png")
    assert main(["inpaint", str(img), str(mask), "-o", str(tmp_path / "o.png"), "--quiet"]) == 0
    assert "studio: a.png: classic engine" in capsys.readouterr().err  # the choice is printed
    a, b = np.asarray(Image.open(img)), np.asarray(Image.open(tmp_path / "o.png"))
    hole = np.asarray(Image.open(mask)) > 127
    assert np.array_equal(a[~hole], b[~hole]) and not np.array_equal(a[hole], b[hole])


def test_a_file_as_first_argument_opens_it_in_the_gui(tmp_path, monkeypatch):
    import studio.cli as cli

    opened = []
    monkeypatch.setitem(cli.COMMANDS, "open", lambda args: opened.append(args.file) or 0)
    img = _image(tmp_path / "a.png")
    assert main([str(img)]) == 0 and opened == [img]
    with pytest.raises(SystemExit):
        main(["upscal"])  # a mistyped command is still an error, not a file to open


def test_a_missing_engine_named_on_the_command_line_fails_once_before_the_batch(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(tmp_path / "empty"))
    imgs, masks = tmp_path / "imgs", tmp_path / "masks"
    imgs.mkdir(), masks.mkdir()
    for n in ("a", "b", "c"):
        _image(imgs / f"{n}.png"), _mask(masks / f"{n}.png")
    code = main(["inpaint", str(imgs), str(masks), "-o", str(tmp_path / "out"), "--engine", "photo", "--quiet"])
    lines = _err_lines(capsys)
    assert code == 2 and len(lines) == 1 and "photo-inpaint" in lines[0], lines
    assert not (tmp_path / "out").exists()
