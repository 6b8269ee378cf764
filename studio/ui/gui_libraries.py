"""Before Qt starts on X11: are the system libraries of Qt's xcb plugin there? Without them Qt
aborts the process (exit 134) with a message that may name the wrong library, so we name the
missing ones and their Debian/Ubuntu packages ourselves. No Qt import here: this runs first."""

from __future__ import annotations

import ctypes
import os
import sys

# Qt 6's xcb platform plugin (libqxcb.so and libQt6XcbQpa) links these; PySide6 wheels do not ship them.
XCB_LIBRARIES = {
    "libxcb.so.1": "libxcb1", "libX11-xcb.so.1": "libx11-xcb1", "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0", "libxcb-sync.so.1": "libxcb-sync1", "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1", "libxcb-util.so.1": "libxcb-util1",
    "libxkbcommon.so.0": "libxkbcommon0", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1", "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}


def uses_xcb(environ=os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt will start its xcb plugin: Linux with an X display, no other platform asked for."""
    if not platform.startswith("linux") or not environ.get("DISPLAY"):
        return False
    asked = environ.get("QT_QPA_PLATFORM", "")
    if asked:
        return asked.split(";")[0].split(":")[0] == "xcb"
    return not environ.get("WAYLAND_DISPLAY")  # under Wayland Qt 6 tries its wayland plugin first


def missing_libraries(load=None) -> list[str]:
    """The sonames of XCB_LIBRARIES that the dynamic loader (load: ctypes.CDLL) cannot load."""
    load = load or ctypes.CDLL
    missing = []
    for name in XCB_LIBRARIES:
        try:
            load(name)
        except OSError:
            missing.append(name)
    return missing


def problem(environ=os.environ, platform: str | None = None, load=None) -> str | None:
    """One line naming the missing libraries and the packages that hold them, or None when Qt can start."""
    missing = missing_libraries(load) if uses_xcb(environ, platform or sys.platform) else []
    if not missing:
        return None
    packages = " ".join(XCB_LIBRARIES[name] for name in missing)
    return (f"the GUI needs these system libraries: {', '.join(missing)} "
            f"(Debian/Ubuntu: sudo apt install {packages})")
