"""About / Models: every installed checkpoint with its model card, and where they were looked for."""

from __future__ import annotations

import json

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem, QPlainTextEdit,
                               QSplitter, QVBoxLayout, QWidget)

from studio import __version__


class ModelsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        from studio.checkpoints import list_checkpoints, search_dirs

        self.setWindowTitle("About GAN Studio — Models")
        self.resize(820, 520)
        found, problems = list_checkpoints()
        layout = QVBoxLayout(self)
        where = "<br>".join(str(d) for d in search_dirs())
        about = QLabel(f"<b>GAN Studio {__version__}</b> — offline generative image editing.<br>"
                       f"Models are looked up in, first match wins:<br>{where}")
        about.setWordWrap(True)
        layout.addWidget(about)
        split = QSplitter()
        self.list = QListWidget()
        self.card = QPlainTextEdit(readOnly=True)
        self.card.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        split.addWidget(self.list)
        split.addWidget(self.card)
        split.setSizes([220, 600])
        layout.addWidget(split, 1)
        for info in found:
            item = QListWidgetItem(f"{info.name}  ({info.architecture})")
            item.setData(256, json.dumps(info.card, indent=2) + f"\n\n{info.weights}")
            self.list.addItem(item)
        for line in problems:
            item = QListWidgetItem("⚠ problem")
            item.setData(256, line)
            self.list.addItem(item)
        if not found and not problems:
            self.card.setPlainText("No checkpoints are installed.")
        self.list.currentItemChanged.connect(lambda cur, _: self.card.setPlainText(cur.data(256) if cur else ""))
        if self.list.count():
            self.list.setCurrentRow(0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
