"""Help > Keyboard shortcuts: every action that has a shortcut, grouped by the menu it is in,
read from the window's menus when the dialog opens (so it cannot go stale), then the mouse.
"""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLineEdit, QMainWindow, QMenu, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from studio.ui.canvas import MOUSE_HELP

OTHER = "Other"  # actions with a shortcut that no menu shows


def _plain(text: str) -> str:
    """Menu text without its access-key ampersand and trailing ellipsis."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").rstrip(".").strip()


def _menu_actions(menu: QMenu):
    for action in menu.actions():
        if action.menu() is not None:
            yield from _menu_actions(action.menu())
        elif not action.isSeparator():
            yield action


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(group, action text, shortcuts) for each action with a shortcut, in menu order."""
    rows, seen = [], set()

    def add(group, action):
        keys = action.shortcuts()
        if keys and action not in seen:
            seen.add(action)
            text = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
            rows.append((group, _plain(action.iconText()), text))  # iconText: Undo's name without its step

    for top in window.menuBar().actions():
        if top.menu() is not None:
            for action in _menu_actions(top.menu()):
                add(_plain(top.text()), action)
    for action in window.actions():
        add(OTHER, action)
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, window: QMainWindow, parent: QWidget | None = None):
        super().__init__(parent or window)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(660, 680)
        layout = QVBoxLayout(self)
        self.filter = QLineEdit(placeholderText="Filter (action or key)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._filter)
        layout.addWidget(self.filter)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Action", "Shortcut"])
        self.tree.setRootIsDecorated(False)
        groups: dict[str, QTreeWidgetItem] = {}
        rows = shortcut_rows(window) + [("Mouse on the image", what, how) for what, how in MOUSE_HELP]
        for group, text, keys in rows:
            if group not in groups:
                head = QTreeWidgetItem(self.tree, [group])
                font = head.font(0)
                font.setBold(True)
                head.setFont(0, font)
                head.setFirstColumnSpanned(True)
                groups[group] = head
            QTreeWidgetItem(groups[group], [text, keys])
        self.tree.expandAll()
        self.tree.resizeColumnToContents(0)
        self.tree.resizeColumnToContents(1)
        layout.addWidget(self.tree, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(i)
            shown = 0
            for j in range(head.childCount()):
                row = head.child(j)
                hit = not needle or needle in row.text(0).lower() or needle in row.text(1).lower()
                row.setHidden(not hit)
                shown += hit
            head.setHidden(shown == 0)


def show_shortcuts(window: QMainWindow) -> None:
    ShortcutsDialog(window).exec()
