"""Inpaint with Variants > 1: the first result applied as one undo step, a bar and keys to flip
between the results in its place, undo back to the photo, compare against the photo."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from test_ui_support import (FakeInpainter, fake_engines, opened, paint_square, photo,  # noqa: F401 - fixtures
                             window)
from test_ui_tools import wait_idle

COLOURS = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 1.0, 0.0)]


class VariantInpainter(FakeInpainter):
    """run() fills with green as the plain stand-in; run_variants() fills each result with its own colour."""

    def __init__(self):
        super().__init__()
        self.variant_calls = 0

    def run_variants(self, rgb, mask, options, job):
        self.variant_calls += 1
        job.note("fake engine")
        outs = []
        for colour in COLOURS[:options.variants]:
            out = rgb.copy()
            out[mask > 0.5] = colour
            outs.append(out)
        return outs


@pytest.fixture
def engine(monkeypatch):
    e = VariantInpainter()
    fake_engines(monkeypatch, inpaint=e)
    return e


def fill(qtbot, w, variants: int):
    paint_square(w)
    w.panel("inpaint").form.set_value("variants", variants)
    assert w.panel("inpaint").run()
    wait_idle(qtbot, w)


def shown(w):
    return tuple(w.document.picture.rgb[12, 15])


def test_flipping_shows_each_variant_and_one_undo_brings_back_the_photo(qtbot, opened, engine):  # noqa: F811
    w = opened
    before = w.document.picture.rgb.copy()
    steps = len(w.document.history.steps)
    fill(qtbot, w, 3)
    bar = w.panel("inpaint").variants
    assert engine.variant_calls == 1 and engine.calls == 0
    assert shown(w) == COLOURS[0] and bar.isVisible() and bar.text.text() == "Variant 1 of 3"
    assert "Alt+Right" in w.statusBar().currentMessage()
    assert w.act_next_variant.isEnabled() and w.act_previous_variant.isEnabled()
    seen = [shown(w)]
    for _ in range(3):  # the next key, round to the first again
        qtbot.keyClick(w.canvas, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
        seen.append(shown(w))
    assert seen == [COLOURS[0], COLOURS[1], COLOURS[2], COLOURS[0]]
    assert tuple(w.canvas.image_item.buffer[12, 15, :3]) == (0, 0, 255)  # red on screen (B, G, R)
    bar.previous.click()  # from the first to the last
    assert shown(w) == COLOURS[2] and bar.text.text() == "Variant 3 of 3"
    assert tuple(w.canvas.image_item.buffer[12, 15, :3]) == (255, 0, 0)  # blue on screen
    assert np.array_equal(w.document.picture.rgb[30, 40], before[30, 40])  # outside the mask: untouched
    # Still one step for the whole fill, named after the variant on screen; the mask cleared with it.
    assert len(w.document.history.steps) == steps + 2  # the test's mask, the fill
    assert w.document.history.next_undo().label.endswith("variant 3 of 3") and not w.document.mask.any()
    w.undo()
    assert np.array_equal(w.document.picture.rgb, before) and not w.document.image_dirty
    assert w.document.mask[12, 15] == 255  # the mask back, ready for another try
    assert not bar.isVisible() and not w.act_next_variant.isEnabled()
    w.flip_variant(1)  # nothing to flip: says so, changes nothing
    assert np.array_equal(w.document.picture.rgb, before) and "No variants" in w.statusBar().currentMessage()
    w.redo()  # the variant chosen comes back, and the bar with it
    assert shown(w) == COLOURS[2] and bar.isVisible() and bar.text.text() == "Variant 3 of 3"
    w.undo()
    w.undo()  # the test's mask
    assert not w.document.history.can_undo()


def test_compare_shows_the_variant_on_screen_against_the_photo(qtbot, opened, engine):  # noqa: F811
    w, canvas = opened, opened.canvas
    photo_pixel = tuple(w.document.quantized()[12, 15])
    fill(qtbot, w, 2)
    w.act_compare.trigger()
    canvas.set_split(20)
    w.act_next_variant.trigger()
    assert canvas.compare and canvas.split_x == 20  # the view stays as the user set it
    assert tuple(canvas.before_item.buffer[12, 15, :3]) == photo_pixel[::-1]  # the photo (B, G, R)
    assert tuple(canvas.image_item.buffer[12, 15, :3]) == (0, 255, 0)  # variant 2: green


def test_another_change_of_the_image_ends_the_choice(qtbot, opened, engine):  # noqa: F811
    w = opened
    fill(qtbot, w, 2)
    bar = w.panel("inpaint").variants
    paint_square(w, 40, 30, 50, 40)  # a mask stroke leaves the fill the last image change: still flips
    w.act_next_variant.trigger()
    assert shown(w) == COLOURS[1] and w.document.mask[35, 45] == 255
    w.panel("inpaint").form.set_value("variants", 1)
    assert w.panel("inpaint").run()  # a plain fill over it
    wait_idle(qtbot, w)
    assert not bar.isVisible() and not w.act_next_variant.isEnabled()
    w.undo()  # back to the variant: the bar returns
    assert bar.isVisible() and shown(w) == COLOURS[1]


def test_one_variant_runs_as_before(qtbot, opened, engine):  # noqa: F811
    w = opened
    fill(qtbot, w, 1)
    assert engine.calls == 1 and engine.variant_calls == 0  # the engine's plain run, as always
    assert shown(w) == (0.0, 1.0, 0.0) and not w.panel("inpaint").variants.isVisible()
    assert "variant" not in w.document.history.next_undo().label and "Alt" not in w.statusBar().currentMessage()
    assert not w.act_next_variant.isEnabled()


def test_an_engine_that_makes_one_result_shows_no_bar(qtbot, opened, monkeypatch):  # noqa: F811
    class OneResult(FakeInpainter):
        def run_variants(self, rgb, mask, options, job):
            job.note("the photo engine makes one result")
            return [self.run(rgb, mask, options, job)]

    fake_engines(monkeypatch, inpaint=OneResult())
    fill(qtbot, opened, 3)
    assert shown(opened) == (0.0, 1.0, 0.0) and not opened.panel("inpaint").variants.isVisible()
    assert "one result" in opened.statusBar().currentMessage()


def test_the_variant_keys_are_taken_by_nothing_else(window):  # noqa: F811
    keys = [k.toString() for a in window.actions() for k in a.shortcuts()]
    for key in ("Alt+Left", "Alt+Right"):
        assert keys.count(QKeySequence(key).toString()) == 1


def test_only_the_last_image_change_can_be_replaced(photo):  # noqa: F811
    from studio.editing import history as hist
    from studio.editing.document import Document
    from studio.imageio import load_image

    doc = Document(load_image(photo))

    def fill(value):
        out = doc.quantized()
        out[5:9, 5:9] = value
        return hist.image_step("fill", doc.quantized(), out)

    first = fill(10)
    doc.push(first)
    doc.push(fill(20))  # a later change of the image: the first is no longer the one on screen
    with pytest.raises(ValueError):
        doc.replace_step(first, fill(30))
    assert doc.quantized()[6, 6, 0] == 20 and doc.history.steps[0] is first
