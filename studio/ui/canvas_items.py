"""Scene items of the canvas: image layers drawn from a mip pyramid, brush and shape outlines,
split line.

A 20 MP image is never redrawn whole: each paint draws only the exposed rectangle, from the
pyramid level closest to the screen's resolution (so a zoomed-out view samples a
pre-averaged image instead of aliasing), and edits refresh only the rectangle they changed.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from studio.ui import qimage

MIN_LEVEL_SIDE = 64  # no pyramid level smaller than this


class PyramidItem(QGraphicsItem):
    """An HxWx4 uint8 display buffer, drawn through lazily built half-size levels."""

    def __init__(self, level0: np.ndarray, premultiplied: bool = False, parent=None):
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.premultiplied = premultiplied
        self.clip_right: float | None = None  # draw only x < clip_right (item coords): compare view
        self._levels: list[np.ndarray] = []
        self._images = []
        self.set_buffer(level0)

    @property
    def buffer(self) -> np.ndarray:
        return self._levels[0]

    def set_buffer(self, level0: np.ndarray) -> None:
        self.prepareGeometryChange()
        level0 = np.ascontiguousarray(level0)
        self._levels = [level0]
        self._images = [qimage.wrap(level0, self.premultiplied)]
        self.update()

    def boundingRect(self) -> QRectF:
        h, w = self._levels[0].shape[:2]
        return QRectF(0, 0, w, h)

    def _level(self, k: int) -> int:
        """Build levels up to k (or as far as they stay useful); returns the level available."""
        while len(self._levels) <= k:
            prev = self._levels[-1]
            h, w = prev.shape[:2]
            if min(h, w) // 2 < MIN_LEVEL_SIDE:
                return len(self._levels) - 1
            nxt = cv2.resize(prev, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
            self._levels.append(np.ascontiguousarray(nxt))
            self._images.append(qimage.wrap(self._levels[-1], self.premultiplied))
        return k

    def refresh_rect(self, rect: tuple[int, int, int, int] | None = None) -> None:
        """Level 0 changed inside rect (x, y, w, h; None = all): rebuild that part of the others."""
        if rect is None:
            del self._levels[1:], self._images[1:]
            self.update()
            return
        x, y, w, h = rect
        x0, y0, x1, y1 = x, y, x + w, y + h
        for k in range(1, len(self._levels)):
            prev, cur = self._levels[k - 1], self._levels[k]
            x0, y0 = x0 // 2, y0 // 2
            x1, y1 = min(cur.shape[1], (x1 + 1) // 2), min(cur.shape[0], (y1 + 1) // 2)
            src = prev[2 * y0:2 * y1, 2 * x0:2 * x1]
            if x1 > x0 and y1 > y0 and src.size:
                cur[y0:y1, x0:x1] = cv2.resize(src, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        self.update(QRectF(x, y, w, h))

    def paint(self, painter: QPainter, option, widget=None) -> None:
        scale = option.levelOfDetailFromTransform(painter.worldTransform())  # includes our own scale
        exposed = option.exposedRect.intersected(self.boundingRect())
        if self.clip_right is not None:
            exposed.setRight(min(exposed.right(), self.clip_right))
        if exposed.isEmpty():
            return
        k = 0 if scale >= 1 else self._level(int(math.floor(math.log2(1 / scale))))
        f = float(2 ** k)
        src = QRectF(exposed.x() / f, exposed.y() / f, exposed.width() / f, exposed.height() / f)
        # Magnified pixels stay crisp squares; reduced ones are filtered.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 2)
        painter.drawImage(exposed, self._images[k], src)


class BrushOutline(QGraphicsItem):
    """The brush's circle under the mouse: a black and a white ring, visible on any image."""

    def __init__(self):
        super().__init__()
        self.radius = 10.0
        self.erasing = False
        self.setZValue(100)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_radius(self, r: float) -> None:
        self.prepareGeometryChange()
        self.radius = r

    def boundingRect(self) -> QRectF:
        r = self.radius + 2
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        dark = QPen(QColor(0, 0, 0, 200), 1.5)
        dark.setCosmetic(True)
        painter.setPen(dark)
        painter.drawEllipse(QPointF(0, 0), self.radius, self.radius)
        light = QPen(QColor(255, 255, 255, 230), 1)
        light.setCosmetic(True)
        light.setStyle(Qt.PenStyle.DashLine if self.erasing else Qt.PenStyle.SolidLine)
        painter.setPen(light)
        painter.drawEllipse(QPointF(0, 0), self.radius, self.radius)


class SelectionOutline(QGraphicsPathItem):
    """The rectangle or lasso being dragged: black with white dashes (dots when it subtracts)."""

    def __init__(self):
        super().__init__()
        self.erasing = False
        self.pad = 1.0  # image px around the path that the 1-screen-px lines may cover
        self.setZValue(100)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_path(self, path: QPainterPath, erasing: bool, zoom: float) -> None:
        self.erasing = erasing
        self.pad = 2 / zoom
        self.setPath(path)  # also announces the geometry change

    def boundingRect(self) -> QRectF:
        p = self.pad
        return self.path().controlPointRect().adjusted(-p, -p, p, p)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        dark = QPen(QColor(0, 0, 0, 220), 1)
        dark.setCosmetic(True)
        painter.setPen(dark)
        painter.drawPath(self.path())
        light = QPen(QColor(255, 255, 255), 1, Qt.PenStyle.DotLine if self.erasing else Qt.PenStyle.DashLine)
        light.setCosmetic(True)
        painter.setPen(light)
        painter.drawPath(self.path())


class SplitLine(QGraphicsItem):
    """The compare view's vertical divider with a round handle in the middle."""

    def __init__(self, height: float):
        super().__init__()
        self.height = height
        self.setZValue(90)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def boundingRect(self) -> QRectF:
        # Cosmetic pens and the handle have a fixed on-screen size; be generous.
        return QRectF(-4000, -10, 8000, self.height + 20)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        scale = option.levelOfDetailFromTransform(painter.worldTransform()) or 1.0
        pen = QPen(QColor(255, 255, 255), 2)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawLine(QPointF(0, 0), QPointF(0, self.height))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = 9 / scale
        painter.setBrush(QColor(40, 40, 40, 220))
        painter.drawEllipse(QPointF(0, self.height / 2), r, r)
