"""The History dock: the document's undo steps by name, the current one highlighted; clicking a
row undoes or redoes to that point (GIMP's Undo History, Krita's History docker).

It moves only through the window's undo() and redo(), one step at a time, so their rules hold
(no image undo while a job runs, none in the middle of a stroke); where one refuses, the list
stops there and shows where the document really is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QDockWidget, QListWidget, QListWidgetItem

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow


class HistoryPanel(QDockWidget):
    """Row 0 is the state before the first kept step; row k is the state after step k."""

    def __init__(self, window: MainWindow):
        super().__init__("History", window)
        self.setObjectName("history")
        self.main = window
        self.list = QListWidget()
        self.list.setToolTip("Undo steps: click one to go back (or forward) to it")
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the canvas keeps the keys (Space pans)
        self.list.currentRowChanged.connect(self._row_chosen)
        self.setWidget(self.list)
        self._shown: tuple | None = None  # (history, dropped, steps) listed: rebuild only when it changes

    def refresh(self) -> None:
        """Show the document's history (called after every change, undo and redo)."""
        doc = self.main.document
        history = doc.history if doc is not None else None
        shown = None if history is None else (history, history.dropped, list(history.steps))
        self.list.blockSignals(True)
        if not self._same(shown):
            self.list.clear()
            if history is not None:
                first = "Original" if not history.dropped else \
                    f"Oldest kept state ({history.dropped} older steps dropped for memory)"
                for label in (first, *(s.label for s in history.steps)):
                    self.list.addItem(QListWidgetItem(label))
            self._shown = shown
        if history is not None:
            redo = self.list.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
            normal = self.list.palette().color(QPalette.ColorRole.Text)
            for row in range(self.list.count()):  # steps past the position are the redo list: greyed
                self.list.item(row).setForeground(redo if row > history.position else normal)
            self.list.setCurrentRow(history.position)
            self.list.scrollToItem(self.list.currentItem())
        self.list.blockSignals(False)

    def _same(self, shown) -> bool:
        old = self._shown
        if old is None or shown is None:
            return old is shown
        return (old[0] is shown[0] and old[1] == shown[1] and len(old[2]) == len(shown[2])
                and all(a is b for a, b in zip(old[2], shown[2])))

    def _row_chosen(self, row: int) -> None:
        doc = self.main.document
        if doc is None or row < 0:
            return
        history = doc.history
        while history.position != row:
            before = history.position
            if row < before:
                self.main.undo()
            else:
                self.main.redo()
            if history.position == before:  # refused (a job runs, a stroke is open): stop here
                break
        self.refresh()
