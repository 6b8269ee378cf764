"""Start the GUI."""

from __future__ import annotations

import sys
from pathlib import Path

from studio.errors import StudioError


def run_app(file: Path | None = None, argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from studio.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("GAN Studio")
    app.setOrganizationName("gan-studio")
    window = MainWindow()
    window.show()
    if file is not None:
        if not Path(file).exists():
            raise StudioError(f"{file} does not exist")
        window.open_path(Path(file))
    return app.exec()
