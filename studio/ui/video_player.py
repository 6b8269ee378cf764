"""The bar under the canvas while a video is open: play/pause, a scrub slider, the frame number.

It only counts frames: whoever shows them listens to frameChanged (the video panel). Playing
steps one frame per tick at the clip's rate and stops at the last frame; a slow decode makes
the ticks late rather than skipping frames (QTimer does not queue missed ticks).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget


def clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m)}:{s:05.2f}"


class VideoBar(QWidget):
    frameChanged = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 6, 2)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Play the clip as it is now (the result once there is one)")
        self.play_button.toggled.connect(self.play)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Scrub: the canvas shows this frame; paint the mask on any frame")
        self.slider.valueChanged.connect(self._moved)
        self.label = QLabel()
        self.label.setMinimumWidth(190)
        for w, stretch in ((self.play_button, 0), (self.slider, 1), (self.label, 0)):
            row.addWidget(w, stretch)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self._time_of = lambda i: 0.0

    @property
    def index(self) -> int:
        return self.slider.value()

    @property
    def count(self) -> int:
        return self.slider.maximum() + 1

    def set_clip(self, frames: int, fps: float, time_of) -> None:
        """A new clip: frames 0..frames-1, shown at fps; time_of(i) = seconds of frame i."""
        self.play(False)
        self._time_of = time_of
        self.timer.setInterval(max(1, round(1000 / fps)))
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, frames - 1))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self._show_label(0)

    def set_frame(self, i: int) -> None:
        self.slider.setValue(i)  # frameChanged only when it moves

    def play(self, on: bool) -> None:
        if on and self.index >= self.slider.maximum():
            self.slider.setValue(0)  # play again from the start
        self.play_button.blockSignals(True)
        self.play_button.setChecked(on)
        self.play_button.setText("Pause" if on else "Play")
        self.play_button.blockSignals(False)
        self.timer.start() if on else self.timer.stop()

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def _tick(self) -> None:
        if self.index >= self.slider.maximum():
            self.play(False)
            return
        self.slider.setValue(self.index + 1)

    def _moved(self, i: int) -> None:
        self._show_label(i)
        self.frameChanged.emit(i)

    def _show_label(self, i: int) -> None:
        self.label.setText(f"Frame {i + 1} / {self.count}  ·  {clock(self._time_of(i))}")
