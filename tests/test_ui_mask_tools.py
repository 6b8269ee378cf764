"""The window's object tool, grow / shrink / feather, and Detect damage: each one undo step."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from studio.bench.damage import synthetic_damage
from studio.editing.damage import detect_damage
from studio.ui import mask_dialogs
from test_mask_tools import disc_scene, iou, smooth_photo
from test_ui_canvas import drag
from test_ui_support import paint_square, window  # noqa: F401


def wait_job(qtbot, w) -> None:
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=20_000)
    qtbot.wait(10)  # the result's queued callback


@pytest.fixture
def scene(window, tmp_path):  # noqa: F811
    img, truth = disc_scene()
    Image.fromarray(img).save(tmp_path / "disc.png")
    assert window.files.open_path(tmp_path / "disc.png")
    window.truth = truth
    return window


def test_object_tool_adds_the_object_as_one_step_and_undo_takes_it_back(qtbot, scene):
    w, canvas = scene, scene.canvas
    w.masks.act_object.trigger()
    assert canvas.tool == "object" and w.masks.act_object.isChecked()
    paint_square(w, 0, 0, 20, 20)  # something already there stays
    drag(qtbot, canvas, [(120, 40), (200, 120), (260, 180)])
    assert not canvas.shape_item.isVisible()
    wait_job(qtbot, w)
    doc = w.document
    assert iou(doc.mask[:, 30:], w.truth[:, 30:]) > 0.9 and (doc.mask[:20, :20] == 255).all()
    assert [s.label for s in doc.history.steps] == ["test mask", "Select object"]
    w.undo()
    assert not doc.mask[:, 30:].any() and (doc.mask[:20, :20] == 255).all()
    w.redo()
    assert iou(doc.mask[:, 30:], w.truth[:, 30:]) > 0.9


def test_a_click_selects_and_the_right_button_subtracts(qtbot, scene):
    w, canvas = scene, scene.canvas
    w.masks.set_tool("object")
    doc = w.document
    doc.set_mask(np.full_like(doc.mask, 255), "all")
    drag(qtbot, canvas, [(190, 110)], button=Qt.MouseButton.RightButton)  # a right click on the disc
    wait_job(qtbot, w)
    assert iou(255 - doc.mask, w.truth) > 0.9 and doc.mask[5, 5] == 255
    assert doc.history.next_undo().label == "Subtract object"
    doc.set_mask(np.zeros_like(doc.mask), "none")
    drag(qtbot, canvas, [(190, 110)])
    wait_job(qtbot, w)
    assert iou(doc.mask, w.truth) > 0.9


def test_a_box_off_the_image_says_so_and_changes_nothing(qtbot, scene):
    w = scene
    assert not w.masks.select_object((500, 400, 50, 50), None)
    assert "Drag the box over the image" in w.statusBar().currentMessage()
    assert not w.runner.busy and not w.document.history.steps


@pytest.mark.parametrize("kind, label", [("grow", "Grow mask 3 px"), ("shrink", "Shrink mask 3 px"),
                                         ("feather", "Feather mask 3 px")])
def test_grow_shrink_and_feather_are_one_step_each(qtbot, scene, monkeypatch, kind, label):
    w = scene
    asked = []
    monkeypatch.setattr(mask_dialogs, "ask_pixels", lambda parent, title, text, value, most: asked.append(value) or 3)
    paint_square(w, 40, 40, 100, 90)
    before = w.document.mask.copy()
    act = w.masks.edge_actions[["grow", "shrink", "feather"].index(kind)]
    assert act.isEnabled()
    act.trigger()
    wait_job(qtbot, w)
    mask = w.document.mask
    if kind == "grow":
        assert mask[37, 60] == 255 and mask[36, 60] == 0
    elif kind == "shrink":
        assert mask[43, 60] == 255 and mask[42, 60] == 0
    else:
        assert 0 < mask[40, 60] < 255 and mask[60, 60] == 255
    assert w.document.history.next_undo().label == label
    w.undo()
    assert np.array_equal(w.document.mask, before)
    act.trigger()  # the amount given last time is offered again
    wait_job(qtbot, w)
    assert asked == [4, 3]


def test_strokes_painted_while_the_mask_grows_stay(qtbot, scene, monkeypatch):
    w = scene
    monkeypatch.setattr(mask_dialogs, "ask_pixels", lambda *a: 2)
    paint_square(w, 40, 40, 100, 90)
    release = []
    monkeypatch.setattr(w.masks, "_when_idle", lambda doc, fn: release.append(fn))  # hold the result back
    w.masks.edge_actions[0].trigger()
    wait_job(qtbot, w)
    paint_square(w, 200, 150, 220, 170)  # painted while the job ran
    release[0]()
    mask = w.document.mask
    assert mask[38, 60] == 255 and mask[37, 60] == 0 and (mask[150:170, 200:220] == 255).all()
    assert w.document.history.next_undo().label == "Grow mask 2 px"


def test_edge_actions_on_an_empty_mask_say_so(qtbot, scene, monkeypatch):
    w = scene
    monkeypatch.setattr(mask_dialogs, "ask_pixels", lambda *a: pytest.fail("nothing to grow: no question"))
    w.masks.edge_actions[0].trigger()
    assert "The mask is empty" in w.statusBar().currentMessage() and not w.document.history.steps


def test_detect_damage_proposes_a_mask_as_one_undoable_step(qtbot, window, tmp_path, monkeypatch):  # noqa: F811
    w = window
    clean = smooth_photo(2)
    damaged = synthetic_damage(clean, 2)
    Image.fromarray(damaged).save(tmp_path / "scan.png")
    assert w.files.open_path(tmp_path / "scan.png")
    choices = [mask_dialogs.DamageChoice(60, False, False), mask_dialogs.DamageChoice(60, False, True), None]
    offered = []
    monkeypatch.setattr(mask_dialogs, "ask_damage", lambda parent, last: offered.append(last) or choices.pop(0))
    paint_square(w, 0, 0, 10, 10)
    assert w.masks.act_damage.isEnabled()
    w.masks.act_damage.trigger()
    wait_job(qtbot, w)
    expected = detect_damage(damaged, 0.6, tears=False)
    doc = w.document
    assert np.array_equal(doc.mask, expected)  # replaced: the painted square is gone
    assert doc.history.next_undo().label == "Detect damage (60 %)"
    assert "Touch it up with the brush" in w.statusBar().currentMessage()
    w.undo()
    assert (doc.mask[:10, :10] == 255).all() and doc.mask[10:].sum() == 0

    w.masks.act_damage.trigger()  # "add to the mask" keeps what was painted
    wait_job(qtbot, w)
    assert np.array_equal(doc.mask[10:], expected[10:]) and (doc.mask[:10, :10] == 255).all()
    assert offered[1] == mask_dialogs.DamageChoice(60, False, False)  # the last choice is offered again
    steps = len(doc.history.steps)
    assert not w.masks.detect_damage()  # cancelled: nothing runs
    assert not w.runner.busy and len(doc.history.steps) == steps


def test_the_damage_dialog_returns_what_is_set(qtbot):
    d = mask_dialogs.DamageDialog(mask_dialogs.DamageChoice(30, True, False))
    qtbot.addWidget(d)
    assert d.slider.value() == 30 and d.tears.isChecked() and d.replace.isChecked()
    d.slider.setValue(75)
    d.tears.setChecked(False)
    d.add.setChecked(True)
    assert d.spin.value() == 75 and d.choice() == mask_dialogs.DamageChoice(75, False, True)
