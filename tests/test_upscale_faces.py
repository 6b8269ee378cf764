"""Upscaling with --faces: the face model's result blended over detected faces only.

Generated data only: a small random SRResNet stands in for both the general and the face model,
and face detection is replaced by a fixed box."""

import numpy as np
import pytest
import torch
from PIL import Image

from studio.catalogue import UpscaleOptions
from studio.cli import build_parser, main
from studio.engines import faces
from studio.engines import upscale as up
from studio.jobs import Job
from studio.metrics import colour_shift
from test_ui_support import window  # noqa: F401
from test_upscale import _install, photo, small_net

FACE = (30, 20, 26, 26)  # a Haar box (x, y, w, h) inside the 90x70 test photo
EDGE_FACE = (62, 42, 28, 28)  # its framed square reaches past the right and bottom borders


@pytest.fixture
def face_model(tmp_path, monkeypatch):
    """Installs the general model and the face SR model (another small random net)."""
    _install(tmp_path, monkeypatch)
    _install(tmp_path, monkeypatch, name=up.FACE_MODEL, net=small_net(seed=1))
    return tmp_path


def outside(boxes, shape, scale=4) -> np.ndarray:
    """True outside every box's framed square, in output pixels."""
    keep = np.ones(shape[:2], bool)
    for det in boxes:
        x, y, s, _ = (v * scale for v in faces.crop_box_for_detection(det))
        keep[max(0, y):y + s, max(0, x):x + s] = False
    return keep


def engine():
    return up.Upscaler(small_net(), torch.device("cpu"), autocast=False)


def test_faces_change_only_their_squares(face_model, monkeypatch):
    monkeypatch.setattr(faces, "detect_faces", lambda rgb: [FACE, EDGE_FACE])
    img = photo()
    eng = engine()
    plain = eng.run(img, None, UpscaleOptions())
    messages = []
    job = Job(lambda p: messages.append(p.message))
    out = eng.run(img, None, UpscaleOptions(faces=True), job)
    assert out.shape == plain.shape == (280, 360, 3)
    keep = outside([FACE, EDGE_FACE], out.shape)
    assert np.array_equal(out[keep], plain[keep])  # bit for bit
    for det in (FACE, EDGE_FACE):
        x, y, s, _ = (v * 4 for v in faces.crop_box_for_detection(det))
        centre = (slice(y + s // 3, y + 2 * s // 3), slice(x + s // 3, min(360, x + 2 * s // 3)))
        assert np.abs(out[centre] - plain[centre]).max() > 1e-3
    assert job.notes == ["2 faces enhanced"]
    assert "finding faces" in messages and "face 2 of 2" in messages


def test_a_colour_cast_of_the_face_model_does_not_show(monkeypatch):
    monkeypatch.setattr(faces, "detect_faces", lambda rgb: [FACE])
    eng = engine()
    cast = np.array([0.08, 0.0, -0.08], np.float32)  # a face model that tints everything it returns
    monkeypatch.setattr(up, "face_upscaler", lambda device: lambda rgb: eng.run(rgb) + cast)
    img = 0.25 + 0.5 * photo()  # mid-range: nothing clipped
    plain = eng.run(img)
    out = eng.run(img, None, UpscaleOptions(faces=True))
    x, y, s, _ = (v * 4 for v in faces.crop_box_for_detection(FACE))
    square = (slice(y, y + s), slice(x, x + s))
    assert np.abs(out[square].mean((0, 1)) - plain[square].mean((0, 1))).max() < 0.5 / 255
    assert colour_shift(out[square], plain[square]) < 0.5  # nowhere, not only on average


def test_no_face_leaves_the_upscale_alone_and_says_so(face_model, monkeypatch):
    monkeypatch.setattr(faces, "detect_faces", lambda rgb: [])
    loads = []
    monkeypatch.setattr(up, "face_upscaler", lambda device: loads.append(device))
    img = photo()
    eng = engine()
    job = Job()
    out = eng.run(img, None, UpscaleOptions(faces=True), job)
    assert np.array_equal(out, eng.run(img, None, UpscaleOptions()))
    assert job.notes == ["no face found: faces not enhanced"] and loads == []  # nothing loaded for nothing


def test_faces_too_small_or_too_large_are_left_to_the_general_model(face_model, monkeypatch):
    big = (0, 0, 200, 200)  # framed: 312 px, beyond what the face model learnt
    monkeypatch.setattr(faces, "detect_faces", lambda rgb: [big, (40, 30, 16, 16)])
    img = photo()
    eng = engine()
    job = Job()
    assert np.array_equal(eng.run(img, None, UpscaleOptions(faces=True), job), eng.run(img))
    assert job.notes == ["2 faces left to the general model (narrower than 24 px or framed wider than 256 px)"]


def test_the_face_model_is_loaded_once_and_its_absence_is_said(tmp_path, monkeypatch):
    monkeypatch.setattr(faces, "detect_faces", lambda rgb: [FACE])
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(tmp_path / "none"))
    real, loads = up.face_upscaler, []
    monkeypatch.setattr(up, "face_upscaler", lambda device: loads.append(device) or real(device))
    img = photo()
    eng = engine()
    for _ in range(2):
        job = Job()
        assert np.array_equal(eng.run(img, None, UpscaleOptions(faces=True), job), eng.run(img))
        assert job.notes == [f"the face model ({up.FACE_MODEL}) is not installed: faces not enhanced"]
    assert len(loads) == 1


def test_cli_faces_flag(face_model, monkeypatch, capsys):
    assert build_parser().parse_args(["upscale", "in.png", "-o", "out.png", "--faces"]).faces is True
    monkeypatch.setattr(faces, "detect_faces", lambda rgb: [FACE])
    Image.fromarray((photo() * 255).astype(np.uint8)).save(face_model / "in.png")
    for name, extra in (("plain.png", []), ("faces.png", ["--faces"])):
        assert main(["upscale", str(face_model / "in.png"), "-o", str(face_model / name), *extra]) == 0
    assert "1 face enhanced" in capsys.readouterr().err
    plain, enhanced = (np.asarray(Image.open(face_model / n)) for n in ("plain.png", "faces.png"))
    keep = outside([FACE], plain.shape)
    assert np.array_equal(plain[keep], enhanced[keep]) and not np.array_equal(plain, enhanced)


def test_upscale_panel_has_an_enhance_faces_checkbox(window):  # noqa: F811
    from PySide6.QtWidgets import QCheckBox

    box = window.panel("upscale").form.controls["faces"]
    assert isinstance(box, QCheckBox) and box.text() == "Enhance faces" and not box.isChecked()
