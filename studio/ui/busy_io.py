"""File work (decode, encode, write) off the UI thread, with a plain synchronous call.

A 15-megapixel PNG takes seconds to encode; done on the UI thread the window would freeze
(no repaint, no job progress). `run_off_ui_thread` runs the function on a plain thread and
waits in a local event loop that handles paints, timers and worker signals but holds user
input back until the file work is done, so nothing can change the document under the
writer and callers keep their simple `ok = save()` flow.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QEventLoop, QObject, Qt, Signal
from PySide6.QtWidgets import QApplication


class _Done(QObject):
    finished = Signal()


def run_off_ui_thread(fn, *args, **kwargs):
    """fn(*args, **kwargs) on a worker thread; returns its value or raises its exception here."""
    box: dict = {}
    done = _Done()
    loop = QEventLoop()
    # Queued: quit runs on this thread inside loop.exec(), even if fn finishes first.
    done.finished.connect(loop.quit, Qt.ConnectionType.QueuedConnection)

    def work() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - handed to the caller on the UI thread
            box["error"] = e
        finally:
            done.finished.emit()

    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    thread = threading.Thread(target=work, name="studio-file-io", daemon=True)
    try:
        thread.start()
        loop.exec(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        thread.join()
    finally:
        QApplication.restoreOverrideCursor()
    if "error" in box:
        raise box["error"]
    return box.get("value")
