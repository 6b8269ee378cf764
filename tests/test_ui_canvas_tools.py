"""Canvas tools as GIMP and Krita users expect them: zoom about the pointer, + and - keys, the
brush size as a diameter, rectangle and lasso mask tools, the mask colour, the shortcut list,
the history panel, and brush and colour remembered between launches."""

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QColor, QWheelEvent
from PySide6.QtWidgets import QApplication, QColorDialog

from studio.editing import history as hist
from studio.ui import qimage
from studio.ui.shortcuts_dialog import ShortcutsDialog, shortcut_rows
from test_ui_canvas import drag
from test_ui_support import make_window, opened, photo, window, write_photo  # noqa: F401


def wheel(canvas, pos: QPoint, notches: int) -> None:
    p = QPointF(pos)
    event = QWheelEvent(p, QPointF(canvas.viewport().mapToGlobal(pos)), QPoint(0, 0), QPoint(0, 120 * notches),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas.viewport(), event)


def on_screen(canvas, scene_point: QPointF) -> QPointF:
    return canvas.viewportTransform().map(scene_point)


def second_window(qtbot, tmp_path):
    """Another launch: a new window on the same settings file."""
    w = make_window(qtbot, tmp_path)
    w.ask_before_closing = False
    return w


# ---------------------------------------------------------------- zoom
def test_wheel_zoom_keeps_the_image_point_under_the_pointer(qtbot, opened):  # noqa: F811
    canvas = opened.canvas
    canvas.set_zoom(30)  # 1920x1440: larger than the view, so it can scroll
    assert canvas.horizontalScrollBar().maximum() > 0 and canvas.verticalScrollBar().maximum() > 0
    vp = canvas.viewport().rect()
    for pos in (QPoint(vp.width() // 4, vp.height() * 3 // 4), QPoint(vp.width() * 4 // 5, vp.height() // 5)):
        for notches in (1, 1, -1, 2, -3):
            under = canvas.mapToScene(pos)
            before = canvas.zoom
            wheel(canvas, pos, notches)
            assert abs(canvas.zoom - before * 1.25 ** notches) < 1e-6
            moved = on_screen(canvas, QPointF(under)) - QPointF(pos)
            assert abs(moved.x()) <= 1 and abs(moved.y()) <= 1, (notches, moved)


def test_plus_and_minus_zoom_but_not_while_typing_in_a_box(qtbot, opened):  # noqa: F811
    w, canvas = opened, opened.canvas
    w.activateWindow()
    qtbot.waitActive(w)
    canvas.setFocus()
    canvas.actual_size()
    qtbot.keyClick(canvas, Qt.Key.Key_Plus)
    assert abs(canvas.zoom - 1.25) < 1e-6
    qtbot.keyClick(canvas, Qt.Key.Key_Minus)
    qtbot.keyClick(canvas, Qt.Key.Key_Minus)
    assert abs(canvas.zoom - 0.8) < 1e-6
    qtbot.keyClick(canvas, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)  # Ctrl+- still works
    assert abs(canvas.zoom - 0.64) < 1e-6

    spin = w.masks.size_spin
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "3")
    qtbot.keyClick(spin, Qt.Key.Key_Minus)  # text for the box, not a zoom
    qtbot.keyClick(spin, Qt.Key.Key_Plus)
    assert abs(canvas.zoom - 0.64) < 1e-6 and spin.value() == 3


# ---------------------------------------------------------------- brush size is the diameter
def test_size_box_is_the_painted_width(qtbot, window, tmp_path):  # noqa: F811
    w, canvas = window, window.canvas
    assert w.files.open_path(write_photo(tmp_path / "wide.png", 200, 150))
    w.masks.size_spin.setValue(48)
    w.masks.hardness_spin.setValue(100)
    assert canvas.outline.radius * 2 == 48  # the outline drawn is the size too
    drag(qtbot, canvas, [(40, 75), (100, 75), (160, 75)])
    column = w.document.mask[:, 100]
    assert abs(int((column > 127).sum()) - 48) <= 2
    w.masks.act_bigger.trigger()  # ] and [ work on the diameter
    assert w.masks.size_spin.value() == 60 and canvas.brush.diameter == 60


# ---------------------------------------------------------------- rectangle and lasso
def test_rectangle_adds_and_right_button_or_ctrl_subtracts(qtbot, opened):  # noqa: F811
    w, canvas = opened, opened.canvas
    w.masks.act_rect.trigger()
    assert canvas.tool == "rect" and w.masks.act_rect.isChecked()
    drag(qtbot, canvas, [(10, 8), (25, 20), (40, 30)])
    mask, steps = w.document.mask, w.document.history.steps
    assert (mask[8:30, 10:40] == 255).all() and mask.sum() == 255 * 22 * 30
    assert len(steps) == 1 and steps[0].label == "Rectangle mask"
    assert not canvas.shape_item.isVisible()

    drag(qtbot, canvas, [(15, 10), (20, 15)], button=Qt.MouseButton.RightButton)
    assert (mask[10:15, 15:20] == 0).all() and mask[20, 30] == 255
    vp = canvas.viewport()
    ctrl = Qt.KeyboardModifier.ControlModifier
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, ctrl, canvas.mapFromScene(QPointF(30, 20)))
    qtbot.mouseMove(vp, canvas.mapFromScene(QPointF(35, 25)))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, ctrl, canvas.mapFromScene(QPointF(35, 25)))
    assert (mask[20:25, 30:35] == 0).all() and mask[26, 36] == 255
    assert [s.label for s in steps] == ["Rectangle mask", "Subtract rectangle", "Subtract rectangle"]
    w.undo()
    w.undo()
    w.undo()
    assert not w.document.mask.any()


def test_lasso_adds_its_inside_as_one_step_and_subtracts(qtbot, opened):  # noqa: F811
    w, canvas = opened, opened.canvas
    w.masks.act_lasso.trigger()
    # A 40x30 box traced by hand; the release closes it back to the start.
    path = [(10 + x, 8) for x in range(0, 41, 5)] + [(50, 8 + y) for y in range(5, 31, 5)] + \
           [(50 - x, 38) for x in range(5, 41, 5)]
    drag(qtbot, canvas, path)
    mask = w.document.mask
    assert mask[20, 30] == 255 and mask[4, 30] == 0 and mask[20, 55] == 0 and mask[42, 30] == 0
    assert abs(int((mask > 127).sum()) - 40 * 30) < 0.1 * 40 * 30
    assert [s.label for s in w.document.history.steps] == ["Lasso mask"]

    drag(qtbot, canvas, [(20, 15), (30, 15), (30, 25), (20, 25)], button=Qt.MouseButton.RightButton)
    assert mask[20, 25] == 0 and mask[30, 40] == 255
    assert [s.label for s in w.document.history.steps] == ["Lasso mask", "Subtract lasso"]
    w.undo()
    assert mask[20, 25] == 255


# ---------------------------------------------------------------- mask colour and brush, remembered
def test_mask_colour_is_chosen_shown_and_remembered(qtbot, opened, tmp_path, monkeypatch):  # noqa: F811
    w = opened
    monkeypatch.setattr(QColorDialog, "getColor", staticmethod(lambda *a, **k: QColor(32, 128, 255)))
    w.masks.invert_mask()
    w.masks.act_mask_color.trigger()
    b, g, r, a = (int(v) for v in w.canvas.mask_item.buffer[15, 20])
    assert a > 0 and b > g > r  # the painted mask turned blue at once
    w2 = second_window(qtbot, tmp_path)
    try:
        assert np.array_equal(w2.canvas.mask_lut, qimage.mask_lut((32, 128, 255)))
    finally:
        w2.shutdown()


def test_brush_size_and_hardness_are_remembered(qtbot, window, tmp_path):  # noqa: F811
    window.masks.size_spin.setValue(30)
    window.masks.hardness_spin.setValue(40)
    w2 = second_window(qtbot, tmp_path)
    try:
        assert w2.masks.size_spin.value() == 30 and w2.masks.hardness_spin.value() == 40
        assert w2.canvas.brush.diameter == 30 and w2.canvas.brush.hardness == 0.4
    finally:
        w2.shutdown()


# ---------------------------------------------------------------- shortcut list
def test_shortcut_list_comes_from_the_menus(qtbot, opened):  # noqa: F811
    window = opened
    window.masks.invert_mask()  # Undo's menu text now names the step; the list keeps the name
    rows = shortcut_rows(window)
    assert ("Edit", "Undo", "Ctrl+Z") in rows
    keys = {text: k for _, text, k in rows}
    assert keys["Rectangle"] == "R" and keys["Lasso"] == "L" and keys["Zoom in"].startswith("+")
    extra = QAction("Frobnicate", window)
    extra.setShortcut("Ctrl+Shift+F")
    window.menuBar().actions()[0].menu().addAction(extra)  # a new action shows up without any list to update
    assert ("File", "Frobnicate", "Ctrl+Shift+F") in shortcut_rows(window)
    dialog = ShortcutsDialog(window)
    qtbot.addWidget(dialog)
    assert dialog.tree.topLevelItemCount() >= 5
    dialog.filter.setText("ctrl+z")
    shown = [dialog.tree.topLevelItem(i) for i in range(dialog.tree.topLevelItemCount())]
    shown = [h.child(j).text(0) for h in shown if not h.isHidden() for j in range(h.childCount())
             if not h.child(j).isHidden()]
    assert shown == ["Undo"]


# ---------------------------------------------------------------- history panel
def click_row(qtbot, panel, row: int) -> None:
    lst = panel.list
    qtbot.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=lst.visualItemRect(lst.item(row)).center())


def test_history_panel_lists_steps_and_clicking_moves_there(qtbot, opened, monkeypatch):  # noqa: F811
    w = opened
    panel, doc = w.history_panel, w.document
    assert panel.isVisible() and panel.list.count() == 1
    w.masks.act_rect.trigger()
    for x in (0, 20, 40):
        drag(qtbot, w.canvas, [(x, 0), (x + 10, 10)])
    w.masks.act_lasso.trigger()
    drag(qtbot, w.canvas, [(0, 20), (60, 20), (30, 40)])
    labels = [panel.list.item(i).text() for i in range(panel.list.count())]
    assert labels == ["Original", *["Rectangle mask"] * 3, "Lasso mask"] and panel.list.currentRow() == 4

    click_row(qtbot, panel, 1)
    assert doc.history.position == 1 and doc.mask[5, 5] == 255 and doc.mask[5, 25] == 0
    assert w.canvas.mask_item.buffer[5, 5, 3] > 0 and w.canvas.mask_item.buffer[5, 25, 3] == 0  # the canvas shows it
    assert panel.list.currentRow() == 1
    assert panel.list.item(3).foreground().color() != panel.list.item(1).foreground().color()  # redo: greyed
    click_row(qtbot, panel, 3)
    assert doc.history.position == 3 and doc.mask[5, 45] == 255

    # An image step cannot be undone while a job runs: the list stops at it and says where it is.
    out = doc.quantized()
    out[40:44, 0:4] = 0
    w.apply_step(hist.image_step("Inpaint", doc.quantized(), out), "done")
    assert panel.list.count() == 5 and panel.list.currentRow() == 4  # the redo step was replaced
    monkeypatch.setattr(type(w.runner), "busy", property(lambda self: True))
    click_row(qtbot, panel, 0)
    assert doc.history.position == 4 and panel.list.currentRow() == 4
    monkeypatch.undo()
    click_row(qtbot, panel, 0)
    assert doc.history.position == 0 and not doc.mask.any()


def test_shapes_clip_to_the_image_and_take_corners_in_any_order():
    from studio.editing import shapes

    mask = np.zeros((20, 30), np.uint8)
    assert shapes.fill_rect(mask, (25, 15), (40, -5)) == (25, 0, 5, 15)  # dragged up-right past the edges
    assert (mask[0:15, 25:30] == 255).all() and mask.sum() == 255 * 75
    assert shapes.fill_rect(mask, (3, 3), (3.2, 9)) is None  # no pixel centre inside: nothing
    rect = shapes.fill_polygon(mask, [(-10, -10), (20, -10), (-10, 20)])  # a triangle mostly off the image
    assert rect[:2] == (0, 0) and rect[2] <= 21 and rect[3] <= 20
    assert mask[1, 1] == 255 and mask[3, 5] == 255 and mask[9, 9] == 0 and mask[5, 8] == 0
    assert shapes.fill_polygon(mask, [(40, 40), (50, 40), (45, 50)]) is None
    shapes.fill_polygon(mask, [(24, -1), (31, -1), (31, 16), (24, 16)], erase=True)
    assert not mask[:, 25:].any()
