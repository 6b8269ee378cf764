"""Start the GUI: show the window first, then load the file, offer recovery and warm up torch."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from studio.errors import StudioError


def _seconds_since_process_start() -> float | None:
    """Linux: from /proc; elsewhere None (STUDIO_TIMING then reports from app start)."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _dark_palette(app) -> None:
    """Fusion in dark greys: photos are judged against a neutral dark surround."""
    from PySide6.QtGui import QColor, QPalette

    app.setStyle("Fusion")
    p = QPalette()
    roles = QPalette.ColorRole
    for role, rgb in ((roles.Window, (45, 45, 48)), (roles.WindowText, (225, 225, 225)),
                      (roles.Base, (32, 32, 34)), (roles.AlternateBase, (45, 45, 48)),
                      (roles.ToolTipBase, (60, 60, 64)), (roles.ToolTipText, (235, 235, 235)),
                      (roles.Text, (225, 225, 225)), (roles.Button, (55, 55, 58)),
                      (roles.ButtonText, (225, 225, 225)), (roles.BrightText, (255, 80, 80)),
                      (roles.Highlight, (60, 120, 200)), (roles.HighlightedText, (255, 255, 255)),
                      (roles.Link, (100, 160, 240)), (roles.Mid, (140, 140, 145)),
                      (roles.PlaceholderText, (130, 130, 135))):
        p.setColor(role, QColor(*rgb))
    for role in (roles.Text, roles.ButtonText, roles.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 120))
    app.setPalette(p)


def _install_excepthook(window) -> None:
    """A bug in a Qt slot shows a dialog instead of going unnoticed; the app keeps running."""
    import traceback

    from studio.ui import dialogs

    previous = sys.excepthook

    def hook(kind, value, tb):
        if issubclass(kind, KeyboardInterrupt):
            return previous(kind, value, tb)
        details = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(details)
        dialogs.show_exception(window, "Unexpected error", value, details)

    sys.excepthook = hook


ICON_SIZES = (16, 32, 48, 64, 128, 256)


def _app_icon():
    """The window icon: resources/icons beside the studio package (a checkout, or the PyInstaller
    bundle's sys._MEIPASS); else the theme icon that resources/install-desktop.sh installs."""
    from PySide6.QtGui import QIcon

    roots = [Path(sys._MEIPASS)] if hasattr(sys, "_MEIPASS") else []
    roots.append(Path(__file__).resolve().parents[2])
    for root in roots:
        icon = QIcon()
        for n in ICON_SIZES:  # PNGs, not the SVG: no QtSvg needed
            png = root / "resources" / "icons" / "hicolor" / f"{n}x{n}" / "apps" / "gan-studio.png"
            if png.is_file():
                icon.addFile(str(png))
        if not icon.isNull():
            return icon
    return QIcon.fromTheme("gan-studio")


def run_app(file: Path | None = None, argv: list[str] | None = None) -> int:
    t0 = time.perf_counter()
    from studio.ui import gui_libraries

    missing = gui_libraries.problem()
    if missing:  # before Qt, which would abort the process over them
        raise StudioError(missing)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from studio.ui.main_window import MainWindow

    if file is not None and not Path(file).exists():
        raise StudioError(f"{file} does not exist")
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("GAN Studio")
    app.setOrganizationName("gan-studio")
    app.setDesktopFileName("gan-studio")
    app.setWindowIcon(_app_icon())
    _dark_palette(app)
    # Smoke check of a bundle (packaging/check_bundle.sh): STUDIO_QUIT_AFTER_LOAD=1 quits once the
    # window is shown and the file is loaded, exit 0, or 1 when loading failed. No dialog may wait
    # for a person: errors go to stderr, recovery and the torch warm-up are skipped.
    quit_after_load = os.environ.get("STUDIO_QUIT_AFTER_LOAD") == "1"
    if quit_after_load:
        from studio.ui import dialogs

        dialogs.show_error = lambda parent, title, text, details=None: print(f"studio: error: {text}",
                                                                               file=sys.stderr)
    window = MainWindow(warm_up=not quit_after_load)
    _install_excepthook(window)
    window.show()

    def shown():
        if os.environ.get("STUDIO_TIMING"):
            since_start = _seconds_since_process_start()
            where = f"{since_start:.2f} s after the process started" if since_start is not None else ""
            print(f"studio: window shown {time.perf_counter() - t0:.2f} s after run_app; {where}", file=sys.stderr,
                  flush=True)
        if quit_after_load:
            ok = file is None or window.files.open_path(Path(file))
            app.setQuitOnLastWindowClosed(False)  # so the exit code below is the one returned
            window.ask_before_closing = False
            window.close()
            app.exit(0 if ok else 1)
            return
        # A crash's unsaved work first; declined (or none), the file asked for.
        if not window.files.offer_recovery() and file is not None:
            window.files.open_path(Path(file))

    QTimer.singleShot(0, shown)
    return app.exec()
