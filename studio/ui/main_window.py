"""The main window: canvas, menus, status bar."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QPixmap
from PySide6.QtWidgets import QFileDialog, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QMainWindow, QMessageBox

from studio.errors import StudioError
from studio.ui.qimage import array_to_qimage

OPEN_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp);;All files (*)"


class Canvas(QGraphicsView):
    """Zoom with the wheel, pan by dragging."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._item = QGraphicsPixmapItem()
        self.scene().addItem(self._item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)

    def set_pixmap(self, pixmap: QPixmap) -> None:
        self._item.setPixmap(pixmap)
        self.scene().setSceneRect(self._item.boundingRect())
        self.fit()

    def fit(self) -> None:
        self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)

    def wheelEvent(self, event):
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.scale(factor, factor)


class MainWindow(QMainWindow):
    def __init__(self):
        super().__init__()
        self.setWindowTitle("GAN Studio")
        self.resize(1100, 760)
        self.canvas = Canvas(self)
        self.setCentralWidget(self.canvas)
        self.picture = None
        self.setAcceptDrops(True)
        menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open…", self, shortcut=QKeySequence.StandardKey.Open, triggered=self.choose_file)
        menu.addAction(open_action)
        menu.addAction(QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit, triggered=self.close))
        self.statusBar().showMessage("Open an image (Ctrl+O) or drop one here")

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", "", OPEN_FILTER)
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path) -> bool:
        from studio.imageio import load_image

        try:
            picture = load_image(path)
        except StudioError as e:
            QMessageBox.warning(self, "Cannot open image", str(e))
            return False
        self.picture = picture
        self.canvas.set_pixmap(QPixmap.fromImage(array_to_qimage(picture.rgb, picture.alpha)))
        w, h = picture.size
        self.setWindowTitle(f"{path.name} — GAN Studio")
        self.statusBar().showMessage(f"{path}  {w}x{h}  {picture.bit_depth}-bit")
        return True

    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_path(Path(urls[0].toLocalFile()))
