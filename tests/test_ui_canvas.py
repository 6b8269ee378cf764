"""Canvas: painting and erasing the mask with the mouse, undo/redo, zoom, face box, compare."""

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent

from test_ui_support import opened, photo, view_point, window  # noqa: F401 - fixtures


def drag(qtbot, canvas, points, button=Qt.MouseButton.LeftButton):
    vp = canvas.viewport()
    qtbot.mousePress(vp, button, pos=view_point(canvas, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(vp, view_point(canvas, *p))
    qtbot.mouseRelease(vp, button, pos=view_point(canvas, *points[-1]))


def test_a_stroke_paints_the_mask_and_undo_redo_take_it_back(qtbot, opened):  # noqa: F811
    w, canvas = opened, opened.canvas
    canvas.set_brush(canvas.brush.__class__(radius=4, hardness=1.0))
    drag(qtbot, canvas, [(10, 20), (30, 20), (50, 20)])
    mask = w.document.mask
    assert mask[20, 10] == 255 and mask[20, 30] == 255 and mask[20, 50] == 255
    assert mask[5, 30] == 0 and mask[40, 30] == 0
    # The overlay shows it: translucent red where painted, nothing elsewhere.
    b, g, r, a = canvas.mask_item.buffer[20, 30]
    assert a > 0 and r > g and canvas.mask_item.buffer[40, 30, 3] == 0
    assert w.act_undo.isEnabled() and "Paint mask" in w.act_undo.text()

    w.undo()
    assert not w.document.mask.any() and canvas.mask_item.buffer[20, 30, 3] == 0
    w.redo()
    assert w.document.mask[20, 30] == 255 and canvas.mask_item.buffer[20, 30, 3] > 0
    assert w.document.dirty and w.isWindowModified()  # a painted mask is work (a project keeps it)


def test_right_button_and_eraser_tool_erase(qtbot, opened):  # noqa: F811
    w, canvas = opened, opened.canvas
    canvas.set_brush(canvas.brush.__class__(radius=6, hardness=1.0))
    drag(qtbot, canvas, [(10, 20), (50, 20)])
    drag(qtbot, canvas, [(30, 20), (30, 21)], button=Qt.MouseButton.RightButton)
    assert w.document.mask[20, 30] == 0 and w.document.mask[20, 12] == 255
    w.masks.toggle_eraser()
    assert canvas.tool == "eraser" and w.masks.act_eraser.isChecked()
    drag(qtbot, canvas, [(12, 20), (13, 20)])
    assert w.document.mask[20, 12] == 0
    w.masks.toggle_eraser()
    assert canvas.tool == "brush"
    assert len(w.document.history.steps) == 3


def test_soft_brush_feathers_the_edge(qtbot, opened):  # noqa: F811
    canvas = opened.canvas
    canvas.set_brush(canvas.brush.__class__(radius=10, hardness=0.0))
    drag(qtbot, canvas, [(32, 24), (32, 24)])
    row = opened.document.mask[24, 22:33]
    assert row[-1] > 240 and 0 < row[5] < 240 and row[0] < row[5]


def test_brush_keys_zoom_and_fit(qtbot, opened):  # noqa: F811
    w, canvas = opened, opened.canvas
    r = canvas.brush.radius
    w.masks.act_bigger.trigger()
    assert canvas.brush.radius > r and w.masks.size_spin.value() == round(canvas.brush.diameter)
    w.masks.act_smaller.trigger()
    w.masks.act_smaller.trigger()
    assert canvas.brush.radius < r
    w.act_100.trigger()
    assert abs(canvas.zoom - 1.0) < 1e-6 and w.zoom_label.text() == "100 %"
    w.act_zoom_in.trigger()
    assert abs(canvas.zoom - 1.25) < 1e-6
    centre = QPointF(canvas.viewport().rect().center())
    wheel = QWheelEvent(centre, canvas.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    canvas.wheelEvent(wheel)  # one notch in
    assert abs(canvas.zoom - 1.25 * 1.25) < 1e-6
    w.act_fit.trigger()
    vp = canvas.viewport().size()
    assert abs(canvas.zoom - min(vp.width() / 64, vp.height() / 48)) < 0.05 * canvas.zoom


def test_mask_clear_invert_hide_are_undoable(opened):  # noqa: F811
    w = opened
    w.masks.invert_mask()
    assert w.document.mask.all()
    w.masks.clear_mask()
    assert not w.document.mask.any()
    w.undo()
    assert w.document.mask.all()
    w.act_show_mask.trigger()
    assert not w.canvas.mask_item.isVisible()
    w.act_show_mask.trigger()
    assert w.canvas.mask_item.isVisible()


def test_face_box_tool_drags_a_square(qtbot, opened):  # noqa: F811
    w, canvas = opened, opened.canvas
    w.masks.set_tool("box")
    drag(qtbot, canvas, [(10, 8), (30, 20), (40, 30)])
    x, y, s, s2 = w.document.face_box
    assert (x, y) == (10, 8) and s == s2 and abs(s - 30) <= 1
    assert canvas.box_item.isVisible() and not w.document.mask.any()
    w.masks.act_clear_box.trigger()
    assert w.document.face_box is None and not canvas.box_item.isVisible()


def test_space_drag_and_middle_button_pan(qtbot, opened):  # noqa: F811
    w, canvas = opened, opened.canvas
    canvas.set_zoom(40)
    bar = canvas.horizontalScrollBar()
    bar.setValue(bar.maximum() // 2)
    start = bar.value()
    vp = canvas.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.MiddleButton, pos=vp.rect().center())
    qtbot.mouseMove(vp, vp.rect().center() + type(vp.rect().center())(40, 0))
    qtbot.mouseRelease(vp, Qt.MouseButton.MiddleButton)
    assert bar.value() == start - 40
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    drag(qtbot, canvas, [(30, 20), (31, 20)])  # pans, does not paint
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    assert not w.document.mask.any()
