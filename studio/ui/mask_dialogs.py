"""The Mask menu's small questions: how many pixels to grow, shrink or feather by, and how to
detect damage. Tests replace ask_pixels and ask_damage to answer without a person."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QInputDialog,
                               QLabel, QRadioButton, QSlider, QSpinBox, QWidget)


def ask_pixels(parent: QWidget | None, title: str, text: str, value: int, most: int) -> int | None:
    """A number of pixels from 1 to most, or None when cancelled."""
    value, ok = QInputDialog.getInt(parent, title, text, value, 1, most, 1)
    return value if ok else None


@dataclass(frozen=True)
class DamageChoice:
    sensitivity: int = 50  # percent
    tears: bool = True
    add: bool = False  # add to the mask rather than replace it


class DamageDialog(QDialog):
    def __init__(self, choice: DamageChoice, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Detect damage")
        form = QFormLayout(self)
        intro = QLabel("Proposes a mask of the tears, scratches, creases and dust of an old photo. "
                       "Touch it up with the brush, then fill it with the Restore tool.")
        intro.setWordWrap(True)
        form.addRow(intro)
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100)
        self.spin = QSpinBox(minimum=0, maximum=100, suffix=" %")
        self.slider.valueChanged.connect(self.spin.setValue)
        self.spin.valueChanged.connect(self.slider.setValue)
        self.spin.setValue(choice.sensitivity)
        self.slider.setToolTip("Low: only the plainest damage. High: faint scratches too, and more of the "
                               "photo's own detail")
        row = QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)
        form.addRow("Sensitivity:", row)
        self.tears = QCheckBox("Tears: wide white areas where the paper shows")
        self.tears.setToolTip("Untick for a photo without tears: the sky between leaves or a white shirt "
                              "can look like one")
        self.tears.setChecked(choice.tears)
        form.addRow(self.tears)
        self.replace = QRadioButton("Replace the mask")
        self.add = QRadioButton("Add to the mask")
        (self.add if choice.add else self.replace).setChecked(True)
        modes = QHBoxLayout()
        modes.addWidget(self.replace)
        modes.addWidget(self.add)
        form.addRow(modes)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Detect")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def choice(self) -> DamageChoice:
        return DamageChoice(self.spin.value(), self.tears.isChecked(), self.add.isChecked())


def ask_damage(parent: QWidget | None, choice: DamageChoice) -> DamageChoice | None:
    dialog = DamageDialog(choice, parent)
    return dialog.choice() if dialog.exec() == QDialog.DialogCode.Accepted else None
