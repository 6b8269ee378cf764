"""User settings (QSettings) and the Settings dialog: device, models folder, default engine."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QWidget)

from studio.catalogue import INPAINT_ENGINES
from studio.devices import CHOICES as DEVICES
from studio.editing.brush import MAX_SIZE, MIN_SIZE
from studio.ui import qimage

DEVICE_LABELS = {"auto": "Auto (CUDA, then MPS, then CPU)", "cpu": "CPU", "cuda": "CUDA GPU", "mps": "Apple MPS"}
MAX_RECENT = 10
MASK_COLOR = "#%02x%02x%02x" % qimage.MASK_RGB


class Settings:
    """Typed access to the QSettings store (tests hand in one backed by a temporary file)."""

    def __init__(self, store: QSettings | None = None):
        self.store = store if store is not None else QSettings()
        self._env_models_dir = os.environ.get("STUDIO_MODELS_DIR")  # what the user started us with

    def _get(self, key: str, default: str) -> str:
        value = self.store.value(key, default)
        return str(value) if value is not None else default

    @property
    def device(self) -> str:
        d = self._get("device", "auto")
        return d if d in DEVICES else "auto"

    @device.setter
    def device(self, value: str) -> None:
        self.store.setValue("device", value)

    @property
    def models_dir(self) -> str:
        return self._get("models_dir", "")

    @models_dir.setter
    def models_dir(self, value: str) -> None:
        self.store.setValue("models_dir", value)

    def _int(self, key: str, default: int, lo: int, hi: int) -> int:
        try:
            return min(hi, max(lo, int(self._get(key, str(default)))))
        except ValueError:
            return default

    @property
    def brush_size(self) -> int:
        """The brush diameter in image pixels."""
        return self._int("brush/size", 48, MIN_SIZE, MAX_SIZE)

    @brush_size.setter
    def brush_size(self, value: int) -> None:
        self.store.setValue("brush/size", int(value))

    @property
    def brush_hardness(self) -> int:
        """Percent: 100 = hard edge."""
        return self._int("brush/hardness", 70, 0, 100)

    @brush_hardness.setter
    def brush_hardness(self, value: int) -> None:
        self.store.setValue("brush/hardness", int(value))

    @property
    def mask_color(self) -> str:
        """The mask overlay's colour as #rrggbb."""
        value = self._get("mask/color", MASK_COLOR)
        return value if re.fullmatch(r"#[0-9a-fA-F]{6}", value) else MASK_COLOR

    @mask_color.setter
    def mask_color(self, value: str) -> None:
        self.store.setValue("mask/color", value)

    def tool_values(self, tool: str) -> dict:
        """A tool panel's last option values (what a new session starts with)."""
        try:
            values = json.loads(self._get(f"tools/{tool}", "{}"))
        except ValueError:
            return {}
        return values if isinstance(values, dict) else {}

    def set_tool_values(self, tool: str, values: dict) -> None:
        self.store.setValue(f"tools/{tool}", json.dumps(values))

    @property
    def inpaint_engine(self) -> str:
        e = self.tool_values("inpaint").get("engine", self._get("inpaint_engine", "auto"))  # the old key first
        return e if e in INPAINT_ENGINES else "auto"

    @inpaint_engine.setter
    def inpaint_engine(self, value: str) -> None:
        self.set_tool_values("inpaint", {**self.tool_values("inpaint"), "engine": value})

    @property
    def recent(self) -> list[str]:
        value = self.store.value("recent", [])
        if isinstance(value, str):  # QSettings gives a lone string for a one-item list
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: Path) -> None:
        p = str(Path(path).resolve())
        items = [p] + [r for r in self.recent if r != p]
        self.store.setValue("recent", items[:MAX_RECENT])

    def apply_models_dir(self) -> None:
        """The models folder setting means what $STUDIO_MODELS_DIR means to the checkpoint finder."""
        if self.models_dir:
            os.environ["STUDIO_MODELS_DIR"] = self.models_dir
        elif self._env_models_dir is not None:
            os.environ["STUDIO_MODELS_DIR"] = self._env_models_dir
        else:
            os.environ.pop("STUDIO_MODELS_DIR", None)


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        form = QFormLayout(self)
        self.device = QComboBox()
        for d in DEVICES:
            self.device.addItem(DEVICE_LABELS[d], d)
        self.device.setCurrentIndex(DEVICES.index(settings.device))
        form.addRow("Device:", self.device)
        self.models_dir = QLineEdit(settings.models_dir)
        from studio.checkpoints import user_models_dir

        self.models_dir.setPlaceholderText(str(user_models_dir()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.models_dir, 1)
        row.addWidget(browse)
        form.addRow("Models folder:", row)
        hint = QLabel("Checkpoints here override the bundled ones of the same name.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(mid);")
        form.addRow("", hint)
        self.engine = QComboBox()
        self.engine.addItems(list(INPAINT_ENGINES))
        self.engine.setCurrentText(settings.inpaint_engine)
        form.addRow("Default inpaint engine:", self.engine)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Models folder", self.models_dir.text())
        if d:
            self.models_dir.setText(d)

    def save(self) -> None:
        self.settings.device = self.device.currentData()
        self.settings.models_dir = self.models_dir.text().strip()
        self.settings.inpaint_engine = self.engine.currentText()
        self.settings.apply_models_dir()
