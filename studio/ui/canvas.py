"""The canvas: the image, its mask layer, the face box and the compare split, with zoom and pan.

Mouse: left paints the mask (or erases with the eraser tool), right always erases, middle or
space+left pans, the wheel zooms about the point under the mouse. The rectangle and lasso tools
add their shape to the mask (right button or Ctrl: take it away); the object tool drags a box
(or takes a click) and asks for the object in it (objectRequested), added or taken away the
same way; the face-box tool drags a square. In compare mode a left drag moves the split line instead of painting.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QTransform
from PySide6.QtWidgets import QGraphicsRectItem, QGraphicsScene, QGraphicsView

from studio.editing import brush as brushes
from studio.editing import shapes
from studio.editing.document import Change, Document
from studio.ui import qimage
from studio.ui.canvas_items import BrushOutline, PyramidItem, SelectionOutline, SplitLine

BACKGROUND = QColor(38, 38, 40)
MIN_ZOOM, MAX_ZOOM = 0.01, 64.0
WHEEL_STEP = 1.25  # zoom factor per wheel notch / Ctrl +
BAND = 512  # rows converted at a time, so a 20 MP refresh never holds a second float copy
MIN_BOX = 8  # a face box smaller than this (image px) is taken as a click: clears the box
SHAPE_TOOLS = {"rect": ("Rectangle mask", "Subtract rectangle"), "lasso": ("Lasso mask", "Subtract lasso"),
               "object": ("Select object", "Subtract object")}
CLICK = 4  # an object-tool drag shorter than this (screen px) both ways is a click on the object
# The mouse's part of the shortcut list (Help > Keyboard shortcuts): what the handlers below do.
MOUSE_HELP = (
    ("Paint the mask (brush), add a shape (rectangle, lasso, object)", "Left drag"),
    ("Select the object under the pointer (object tool)", "Left click"),
    ("Erase / subtract with any mask tool", "Right drag, or Ctrl+left drag"),
    ("Pan", "Middle drag, or Space+left drag"),
    ("Zoom about the mouse pointer", "Wheel"),
    ("Move the compare line", "Left drag (in compare view)"),
)


def fill_display(buf: np.ndarray, rgb: np.ndarray, alpha: np.ndarray | None, rect=None) -> None:
    """Write the display pixels of `rect` (x, y, w, h; None = all) into buf, band by band."""
    x, y, w, h = rect if rect is not None else (0, 0, rgb.shape[1], rgb.shape[0])
    for y0 in range(y, y + h, BAND):
        y1 = min(y + h, y0 + BAND)
        a = None if alpha is None else alpha[y0:y1, x:x + w]
        buf[y0:y1, x:x + w] = qimage.display_rgb(rgb[y0:y1, x:x + w], a, origin=(x, y0))


class Canvas(QGraphicsView):
    zoomChanged = Signal(float)
    maskEdited = Signal()  # a stroke was recorded in the history
    boxChanged = Signal(object)  # the face box (x, y, w, h) or None
    fileDropped = Signal(str)
    brushChanged = Signal()
    objectRequested = Signal(object, object, bool)  # box (x, y, w, h) or None, point (x, y) or None, subtract

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QBrush(BACKGROUND))
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.document: Document | None = None
        self.brush = brushes.Brush()
        self.tool = "brush"  # "brush", "eraser", "rect", "lasso", "object" or "box"
        self.mask_lut = qimage.mask_lut()
        self.image_item: PyramidItem | None = None
        self.mask_item: PyramidItem | None = None
        self.before_item: PyramidItem | None = None
        self.mask_visible = True
        self.outline = BrushOutline()
        self.outline.hide()
        self.scene().addItem(self.outline)
        self.box_item = QGraphicsRectItem()
        pen = QPen(QColor(255, 210, 0), 2, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self.box_item.setPen(pen)
        self.box_item.setZValue(50)
        self.box_item.hide()
        self.scene().addItem(self.box_item)
        self.shape_item = SelectionOutline()  # the rectangle or lasso being dragged
        self.shape_item.hide()
        self.scene().addItem(self.shape_item)
        self.split_line: SplitLine | None = None
        self.compare = False
        self.compare_label = "Before"
        self.split_x = 0.0
        self._fit_mode = True
        self._space = False
        self._pan_last = None
        self._stroke_last: tuple[float, float] | None = None
        self._stroke_erase = False
        self._shape: list[tuple[float, float]] | None = None  # rect: [corner, corner]; lasso: the path
        self._box_from: tuple[float, float] | None = None
        self._split_drag = False
        self._update_cursor()

    # ------------------------------------------------------------ document
    def set_document(self, doc: Document | None, *, keep_view: bool = False) -> None:
        old_w, centre = None, None
        if keep_view and self.image_item is not None:  # the size changed under the same view
            old = self.image_item.boundingRect()
            old_w = old.width()
            c = self.mapToScene(self.viewport().rect().center())
            centre = (c.x() / old.width(), c.y() / old.height())
        self.set_compare(False)
        self._cancel_shape()
        for item in (self.image_item, self.mask_item):
            if item is not None:
                self.scene().removeItem(item)
        self.image_item = self.mask_item = None
        self.document = doc
        if doc is None:
            self.box_item.hide()
            self.viewport().update()
            return
        w, h = doc.size
        buf = np.empty((h, w, 4), np.uint8)
        fill_display(buf, doc.picture.rgb, doc.picture.alpha)
        self.image_item = PyramidItem(buf)
        self.scene().addItem(self.image_item)
        self.mask_item = PyramidItem(qimage.display_mask(doc.mask, self.mask_lut), premultiplied=True)
        self.mask_item.setZValue(10)
        self.mask_item.setVisible(self.mask_visible)
        self.scene().addItem(self.mask_item)
        self.scene().setSceneRect(QRectF(0, 0, w, h))
        self._show_box()
        if old_w and not self._fit_mode:
            self.set_zoom(self.zoom * old_w / w)  # an upscaled image keeps its size and place on screen
            self.centerOn(centre[0] * w, centre[1] * h)
        else:
            self.fit()

    def refresh(self, change: Change) -> None:
        """Redraw what an edit (new result, undo, redo, mask change) touched."""
        doc = self.document
        if doc is None:
            return
        if change.resized:
            self.set_document(doc, keep_view=True)
            return
        if change.image is not False:
            fill_display(self.image_item.buffer, doc.picture.rgb, doc.picture.alpha, change.image)
            self.image_item.refresh_rect(change.image)
        if change.mask is not False:
            self._refresh_mask(change.mask)
        self._show_box()

    def _refresh_mask(self, rect) -> None:
        doc = self.document
        if rect is None:
            self.mask_item.buffer[:] = qimage.display_mask(doc.mask, self.mask_lut)
        else:
            x, y, w, h = rect
            self.mask_item.buffer[y:y + h, x:x + w] = qimage.display_mask(doc.mask[y:y + h, x:x + w], self.mask_lut)
        self.mask_item.refresh_rect(rect)

    def set_mask_color(self, color: QColor) -> None:
        self.mask_lut = qimage.mask_lut((color.red(), color.green(), color.blue()))
        if self.mask_item is not None:
            self._refresh_mask(None)

    def set_mask_visible(self, visible: bool) -> None:
        self.mask_visible = visible
        if self.mask_item is not None:
            self.mask_item.setVisible(visible and not self.compare)

    # ------------------------------------------------------------ zoom
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, z: float, *, at: QPoint | None = None) -> None:
        """Zoom to z keeping the image point under viewport point `at` (default: the centre) in place.

        Done by hand: Qt's AnchorUnderMouse uses the scene point of the view's last own mouse
        move, which our mouse handlers never pass on, so the image slid ~150 px per notch."""
        z = min(MAX_ZOOM, max(MIN_ZOOM, z))
        self._fit_mode = False
        at = self.viewport().rect().center() if at is None else at
        fixed = self.mapToScene(at)
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setTransform(QTransform.fromScale(z, z))
        self.setTransformationAnchor(anchor)
        moved = self.viewportTransform().map(fixed) - QPointF(at)
        for bar, d in ((self.horizontalScrollBar(), moved.x()), (self.verticalScrollBar(), moved.y())):
            bar.setValue(bar.value() + round(d))
        self._zoom_changed()

    def zoom_by(self, factor: float, *, at: QPoint | None = None) -> None:
        self.set_zoom(self.zoom * factor, at=at)

    def fit(self) -> None:
        if self.image_item is None:
            return
        self.fitInView(self.image_item.boundingRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self._fit_mode = True
        self._zoom_changed()

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def _zoom_changed(self) -> None:
        self.outline.set_radius(self.brush.radius)
        self.zoomChanged.emit(self.zoom)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self.zoom_by(WHEEL_STEP ** (delta / 120), at=event.position().toPoint())
        event.accept()

    # ------------------------------------------------------------ tools
    def set_tool(self, tool: str) -> None:
        self.tool = tool
        self.outline.erasing = tool == "eraser"
        self.outline.update()
        self._cancel_shape()
        self._update_cursor()

    def set_brush(self, brush: brushes.Brush) -> None:
        self.brush = brush
        self.outline.set_radius(brush.radius)
        self.brushChanged.emit()

    def set_box(self, box) -> None:
        if self.document is not None:
            self.document.face_box = box
        self._show_box()
        self.boxChanged.emit(box)

    def _show_box(self) -> None:
        box = self.document.face_box if self.document is not None else None
        if box is None or self.compare:
            self.box_item.hide()
            return
        self.box_item.setRect(QRectF(*box))
        self.box_item.show()

    def _image_point(self, pos) -> tuple[float, float]:
        p = self.mapToScene(pos)
        return p.x(), p.y()

    def _painting_tool(self) -> bool:
        return self.tool in ("brush", "eraser") and not self.compare

    @staticmethod
    def _erases(event) -> bool:
        """The eraser modifier of every mask tool: the right button, or Ctrl."""
        return (event.button() == Qt.MouseButton.RightButton
                or bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier))

    def _update_cursor(self) -> None:
        if self._pan_last is not None:
            shape = Qt.CursorShape.ClosedHandCursor
        elif self._space:
            shape = Qt.CursorShape.OpenHandCursor
        elif self.compare:
            shape = Qt.CursorShape.SplitHCursor
        else:
            shape = Qt.CursorShape.CrossCursor
        self.viewport().setCursor(shape)
        show_outline = self._painting_tool() and not self._space and self._pan_last is None
        if not show_outline:
            self.outline.hide()

    # ------------------------------------------------------------ mouse
    def mousePressEvent(self, event) -> None:
        pos = event.position().toPoint()
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space):
            self._pan_last = pos
            self._update_cursor()
            return
        if self.document is None:
            return
        if self.compare and button == Qt.MouseButton.LeftButton:
            self._split_drag = True
            self.set_split(self._image_point(pos)[0])
            return
        if self.tool == "box" and button == Qt.MouseButton.LeftButton:
            self._box_from = self._image_point(pos)
            return
        if button not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton) or self.compare:
            return
        if self._painting_tool():
            self._stroke_erase = self.tool == "eraser" or self._erases(event)
            self._start_stroke(self._image_point(pos))
        elif self.tool in SHAPE_TOOLS and self._shape is None:
            self._stroke_erase = self._erases(event)
            p = self._image_point(pos)
            self._shape = [p] if self.tool == "lasso" else [p, p]
            self._show_shape()

    def mouseMoveEvent(self, event) -> None:
        pos = event.position().toPoint()
        p = self._image_point(pos)
        if self._pan_last is not None:
            d = pos - self._pan_last
            self._pan_last = pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - d.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - d.y())
            return
        if self._split_drag:
            self.set_split(p[0])
            return
        if self._box_from is not None:
            self._drag_box(p)
            return
        if self._painting_tool() and not self._space:
            self.outline.setPos(QPointF(*p))
            self.outline.show()
        if self._stroke_last is not None:
            self._continue_stroke(p)
        elif self._shape is not None:
            if self.tool != "lasso":
                self._shape[1] = p
            else:
                self._shape.append(p)
            self._show_shape()

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_last is not None:
            self._pan_last = None
            self._update_cursor()
            return
        if self._split_drag:
            self._split_drag = False
            return
        if self._box_from is not None:
            box = self._drag_box(self._image_point(event.position().toPoint()))
            self._box_from = None
            self.set_box(box)
            return
        if self._stroke_last is not None:
            self._end_stroke()
        elif self._shape is not None:
            self._end_shape()

    def leaveEvent(self, event) -> None:
        self.outline.hide()
        super().leaveEvent(event)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self._update_cursor()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._update_cursor()
            return
        super().keyReleaseEvent(event)

    # ------------------------------------------------------------ strokes
    def _start_stroke(self, p) -> None:
        if not self.mask_visible:
            self.set_mask_visible(True)  # painting blind helps nobody
        self.document.begin_stroke()
        self._stroke_last = p
        self._stroke_rect(brushes.stroke(self.document.mask, p, p, self.brush, self._stroke_erase, first=True))

    def _continue_stroke(self, p) -> None:
        rect = brushes.stroke(self.document.mask, self._stroke_last, p, self.brush, self._stroke_erase)
        self._stroke_last = p
        self._stroke_rect(rect)

    def _stroke_rect(self, rect) -> None:
        if rect is not None:
            self.document.note_stroke(rect)
            self._refresh_mask(rect)

    def _end_stroke(self) -> None:
        self._stroke_last = None
        label = "Erase mask" if self._stroke_erase else "Paint mask"
        if self.document.end_stroke(label) is not None:
            self.maskEdited.emit()

    # ------------------------------------------------------------ rectangle and lasso
    def _show_shape(self) -> None:
        path = QPainterPath()
        if self.tool != "lasso":
            path.addRect(QRectF(QPointF(*self._shape[0]), QPointF(*self._shape[1])).normalized())
        else:
            path.moveTo(*self._shape[0])
            for p in self._shape[1:]:
                path.lineTo(*p)
            path.closeSubpath()  # show the edge the release will close
        self.shape_item.set_path(path, self._stroke_erase, self.zoom)
        self.shape_item.show()

    def _cancel_shape(self) -> None:
        self._shape = None
        self.shape_item.hide()

    def _end_shape(self) -> None:
        """Add (or subtract) the dragged shape as one undo step."""
        points, tool = self._shape, self.tool
        self._cancel_shape()
        if not self.mask_visible:
            self.set_mask_visible(True)
        if tool == "object":
            self._request_object(*points)
            return
        doc = self.document
        doc.begin_stroke()
        if tool == "rect":
            rect = shapes.fill_rect(doc.mask, points[0], points[1], self._stroke_erase)
        else:
            rect = shapes.fill_polygon(doc.mask, points, self._stroke_erase)
        self._stroke_rect(rect)
        if doc.end_stroke(SHAPE_TOOLS[tool][self._stroke_erase]) is not None:
            self.maskEdited.emit()

    def _request_object(self, p0, p1) -> None:
        on_screen = self.mapFromScene(QPointF(*p1)) - self.mapFromScene(QPointF(*p0))
        if abs(on_screen.x()) < CLICK and abs(on_screen.y()) < CLICK:
            self.objectRequested.emit(None, p0, self._stroke_erase)
            return
        (x0, x1), (y0, y1) = sorted((p0[0], p1[0])), sorted((p0[1], p1[1]))
        self.objectRequested.emit((x0, y0, x1 - x0, y1 - y0), None, self._stroke_erase)

    # ------------------------------------------------------------ face box
    def _drag_box(self, p) -> tuple[int, int, int, int] | None:
        x0, y0 = self._box_from
        side = max(abs(p[0] - x0), abs(p[1] - y0))
        if side < MIN_BOX:
            self.box_item.hide()
            return None
        x = x0 if p[0] >= x0 else x0 - side
        y = y0 if p[1] >= y0 else y0 - side
        box = (int(round(x)), int(round(y)), int(round(side)), int(round(side)))
        self.box_item.setRect(QRectF(*box))
        self.box_item.show()
        return box

    # ------------------------------------------------------------ compare
    def set_compare(self, on: bool, before_q: np.ndarray | None = None, label: str = "Before") -> None:
        """Show `before_q` (quantized HxWx3) left of a draggable split, the current image right."""
        if self.before_item is not None:
            self.scene().removeItem(self.before_item)
            self.before_item = None
        if self.split_line is not None:
            self.scene().removeItem(self.split_line)
            self.split_line = None
        self.compare = bool(on and self.document is not None and before_q is not None)
        if self.compare:
            self.compare_label = label
            w, h = self.document.size
            self.before_item = PyramidItem(qimage.display_quantized(before_q))
            self.before_item.setScale(w / before_q.shape[1])  # an upscale's "before" shown at the new size
            self.before_item.setZValue(5)
            self.scene().addItem(self.before_item)
            self.split_line = SplitLine(h)
            self.scene().addItem(self.split_line)
            self.set_split(w / 2)
        if self.mask_item is not None:
            self.mask_item.setVisible(self.mask_visible and not self.compare)
        self._show_box()
        self._update_cursor()
        self.viewport().update()

    def set_split(self, x: float) -> None:
        if not self.compare:
            return
        w = self.document.size[0]
        self.split_x = min(max(0.0, x), float(w))
        self.before_item.clip_right = self.split_x / self.before_item.scale()
        self.before_item.update()
        self.split_line.setPos(self.split_x, 0)
        self.viewport().update()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if not self.compare:
            return
        painter.save()
        painter.resetTransform()
        x = self.mapFromScene(QPointF(self.split_x, 0)).x()
        font = QFont(painter.font())
        font.setBold(True)
        painter.setFont(font)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for text, left in ((self.compare_label, True), ("After", False)):
            width = painter.fontMetrics().horizontalAdvance(text) + 16
            box = QRectF(x - width - 8 if left else x + 8, 10, width, 24)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 150))
            painter.drawRoundedRect(box, 5, 5)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    # ------------------------------------------------------------ drops
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                event.acceptProposedAction()
                self.fileDropped.emit(str(Path(url.toLocalFile())))
                return
