"""The Qt-free job contract every engine follows.

An engine's `run(image, mask, options, job) -> result` calls
`job.progress(fraction, message, preview)` between steps; that call is also the cancel
point: once the token is cancelled it raises `Cancelled`, so an engine stops within one
step without checking anything itself. `job.note(text)` says what was done (e.g. which
engine `auto` chose); the caller shows the notes with the result. Engines never write
files, which is why a cancelled job leaves nothing half-written: the caller saves
(atomically) only a finished result.

The GUI's worker thread turns `on_progress` into a queued Qt signal; the CLI turns it into
a tqdm bar. Neither is known here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from studio.errors import Cancelled


@dataclass(frozen=True)
class Progress:
    fraction: float  # 0..1 of the whole job
    message: str = ""
    preview: Optional[np.ndarray] = None  # HxWx3 float32 in [0, 1], or None


class CancelToken:
    """Thread-safe flag set by whoever owns the job (the UI's cancel button, Ctrl-C)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


ProgressCallback = Callable[[Progress], None]


class Job:
    """Handed to an engine: report progress, get stopped when cancelled.

    `span(start, end)` gives a child job whose 0..1 maps onto [start, end] of this one, so a
    batch or a multi-stage engine can hand sub-jobs to inner engines unchanged.
    """

    def __init__(
        self,
        on_progress: Optional[ProgressCallback] = None,
        token: Optional[CancelToken] = None,
        *,
        _offset: float = 0.0,
        _scale: float = 1.0,
        _notes: list[str] | None = None,
    ) -> None:
        self.on_progress = on_progress
        self.token = token or CancelToken()
        self._offset = _offset
        self._scale = _scale
        self.notes: list[str] = [] if _notes is None else _notes  # shared with its spans

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def check(self) -> None:
        """Raise Cancelled if the job was cancelled."""
        if self.token.cancelled:
            raise Cancelled()

    def progress(self, fraction: float, message: str = "", preview: Optional[np.ndarray] = None) -> None:
        """Report progress and act as the cancel point."""
        self.check()
        if self.on_progress is not None:
            f = min(max(float(fraction), 0.0), 1.0)
            self.on_progress(Progress(self._offset + self._scale * f, message, preview))

    def note(self, text: str) -> None:
        """Say what was done, for the caller to show with the result."""
        self.notes.append(text)

    def span(self, start: float, end: float) -> "Job":
        return Job(
            self.on_progress,
            self.token,
            _offset=self._offset + self._scale * start,
            _scale=self._scale * (end - start),
            _notes=self.notes,
        )


def quiet_job() -> Job:
    """A job that reports nowhere and is never cancelled (tests, library use)."""
    return Job()
