"""Running engines off the UI thread: one worker QThread, studio.jobs as the contract.

A task is `fn(job) -> result`, run on the worker thread. The engine reports through
`job.progress(...)`, which here becomes a queued Qt signal (throttled, so a search calling it
every few milliseconds cannot flood the UI) and is also where Cancel takes effect. Results,
errors and cancellations come back as queued signals and reach the callbacks on the UI thread.

One user job at a time: starting another while one runs is refused (the caller says so in
the status bar). Background tasks (warm-up, live previews) queue behind whatever runs and do
not count as busy. `latest=KEY` makes requests coalesce, "the latest request wins": while a
task of that key is queued or running, a new one waits in its place, replacing any older
waiting one (which is dropped unrun), so dragging a slider never queues stale work.
"""

from __future__ import annotations

import itertools
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from studio.errors import Cancelled
from studio.jobs import CancelToken, Job, Progress

PROGRESS_INTERVAL = 0.05  # s between progress signals from one job (previews included)
# The time left is shown once the estimate is steady: earlier ones swing with start-up costs
# (loading a model, the first step's warm-up).
ETA_MIN_SECONDS, ETA_MIN_FRACTION = 2.0, 0.05


def time_left(fraction: float, elapsed: float, since: float = 0.0) -> str:
    """'about 12 s left' from the share done and the seconds spent doing it; '' while too early to say.
    since: the share done when the clock started (the first progress report: loading a model before
    it would make the rate look slower than it is)."""
    done = fraction - since
    if elapsed < ETA_MIN_SECONDS or done < ETA_MIN_FRACTION or fraction >= 1.0:
        return ""
    left = elapsed * (1.0 - fraction) / done
    if left < 20:
        return f"about {max(1, round(left))} s left"
    if left < 90:
        return f"about {5 * round(left / 5)} s left"  # steps of 5 s: the figure does not flicker
    if left < 3600:
        return f"about {round(left / 60)} min left"
    return f"about {left / 3600:.1f} h left"


@dataclass
class Task:
    id: int
    name: str
    fn: Callable[[Job], Any]
    token: CancelToken
    background: bool
    latest: str | None = None


class _Worker(QObject):
    progressed = Signal(int, float, str, object)
    finished = Signal(int, object)
    failed = Signal(int, object, str)
    cancelled = Signal(int)

    @Slot(object)
    def run(self, task: Task) -> None:
        last = {"any": 0.0, "preview": 0.0}

        def report(p: Progress) -> None:
            now = time.monotonic()
            # Text and previews are throttled apart, so a message just before the first
            # preview does not swallow it.
            key = "preview" if p.preview is not None else "any"
            if now - last[key] >= PROGRESS_INTERVAL or p.fraction >= 1.0:
                last[key] = last["any"] = now
                self.progressed.emit(task.id, p.fraction, p.message, p.preview)

        if task.token.cancelled:  # cancelled while it waited in the queue
            self.cancelled.emit(task.id)
            return
        try:
            result = task.fn(Job(report, task.token))
        except Cancelled:
            self.cancelled.emit(task.id)
        except BaseException as e:  # noqa: BLE001 - every failure goes back to the UI as a dialog
            self.failed.emit(task.id, e, traceback.format_exc())
        else:
            self.finished.emit(task.id, result)


@dataclass
class _Callbacks:
    on_result: Callable[[Any], None] | None
    on_error: Callable[[BaseException, str], None] | None
    on_cancel: Callable[[], None] | None
    on_progress: Callable[[float, str, Any], None] | None


class JobRunner(QObject):
    """Owns the worker thread. Signals are for the status bar; callbacks for the caller."""

    started = Signal(str)  # a user job's name
    progress = Signal(float, str)  # fraction, message of the current user job
    preview = Signal(object)  # HxWx3 float32 preview from an engine
    ended = Signal(str, str)  # name, outcome: "done", "failed" or "cancelled"
    _submit = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("studio-worker")
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._submit.connect(self._worker.run)
        self._worker.progressed.connect(self._on_progress)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)
        self._thread.start()
        self._ids = itertools.count(1)
        self._callbacks: dict[int, _Callbacks] = {}
        self._tasks: dict[int, Task] = {}
        self._waiting: dict[str, tuple[Task, _Callbacks]] = {}  # latest key -> the request held back
        self.current: Task | None = None  # the running (or queued) user job

    @property
    def busy(self) -> bool:
        return self.current is not None

    def start(self, name: str, fn: Callable[[Job], Any], on_result=None, *, on_error=None, on_cancel=None,
              on_progress=None, background: bool = False, latest: str | None = None) -> bool:
        """Queue fn on the worker; False (and nothing queued) if another user job is running.
        latest: a key; while a task of this key is pending, this request waits in its place."""
        task = Task(next(self._ids), name, fn, CancelToken(), background, latest)
        callbacks = _Callbacks(on_result, on_error, on_cancel, on_progress)
        same = [t for t in self._tasks.values() if latest is not None and t.latest == latest]
        if any(t.background != background for t in same):
            raise ValueError(f"requests under {latest!r} must all be background or all user jobs")
        if same:
            if not background and self.busy and self.current.latest != latest:
                return False
            self._waiting[latest] = (task, callbacks)  # an older waiting request is dropped
            return True
        if not background and self.busy:
            return False
        self._submit_task(task, callbacks)
        return True

    def _submit_task(self, task: Task, callbacks: _Callbacks) -> None:
        self._callbacks[task.id] = callbacks
        self._tasks[task.id] = task
        if not task.background:
            self.current = task
            self.started.emit(task.name)
        self._submit.emit(task)

    def drop_waiting(self, latest: str) -> None:
        """Forget the request waiting under this key (what it was for is gone)."""
        self._waiting.pop(latest, None)

    def pending(self, latest: str) -> bool:
        """Whether a task of this key is queued, running or waiting."""
        return latest in self._waiting or any(t.latest == latest for t in self._tasks.values())

    def cancel(self) -> bool:
        if self.current is None:
            return False
        self.current.token.cancel()
        return True

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Cancel everything and stop the thread (closing the window)."""
        self._waiting.clear()
        for task in self._tasks.values():
            task.token.cancel()
        self._thread.quit()
        self._thread.wait(timeout_ms)

    # --------------------------------------------------------- from the worker (UI thread)
    def _finish(self, task_id: int) -> tuple[Task | None, _Callbacks | None]:
        task = self._tasks.pop(task_id, None)
        cb = self._callbacks.pop(task_id, None)
        if task is not None and task is self.current:
            self.current = None
        return task, cb

    def _next_waiting(self, task: Task) -> None:
        """After a task's callbacks ran: the request that waited for its key, if any."""
        waiting = self._waiting.pop(task.latest, None) if task.latest is not None else None
        if waiting is not None and (waiting[0].background or not self.busy):
            self._submit_task(*waiting)

    @Slot(int, float, str, object)
    def _on_progress(self, task_id: int, fraction: float, message: str, preview) -> None:
        task, cb = self._tasks.get(task_id), self._callbacks.get(task_id)
        if task is None or task.token.cancelled:
            return
        if not task.background:
            self.progress.emit(fraction, message)
        if preview is not None:
            self.preview.emit(preview)
        if cb and cb.on_progress:
            cb.on_progress(fraction, message, preview)

    @Slot(int, object)
    def _on_finished(self, task_id: int, result) -> None:
        task, cb = self._finish(task_id)
        if task is None:
            return
        if not task.background:
            self.ended.emit(task.name, "done")
        if cb and cb.on_result:
            cb.on_result(result)
        self._next_waiting(task)

    @Slot(int, object, str)
    def _on_failed(self, task_id: int, error: BaseException, details: str) -> None:
        task, cb = self._finish(task_id)
        if task is None:
            return
        if not task.background:
            self.ended.emit(task.name, "failed")
        if cb and cb.on_error:
            cb.on_error(error, details)
        if task.latest is not None:  # what waited was asked of the same failing work: drop it
            self._waiting.pop(task.latest, None)

    @Slot(int)
    def _on_cancelled(self, task_id: int) -> None:
        task, cb = self._finish(task_id)
        if task is None:
            return
        if not task.background:
            self.ended.emit(task.name, "cancelled")
        if cb and cb.on_cancel:
            cb.on_cancel()
        self._next_waiting(task)
