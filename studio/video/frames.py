"""Frame i of a video, for a viewer that scrubs and plays: io.VideoReader only streams.

PyAV seeks to the key frame at or before frame i's timestamp and decodes forward to it; the
next frame in order (playback) comes from the same decoder without a seek, so playing costs
one decode per frame. Timestamps come from one pass over the packets (no decoding).
Qt-free; frames are RGB uint8 in display orientation like VideoReader's.
"""

from __future__ import annotations

import os

import numpy as np

from studio.errors import VideoError
from studio.video.io import VideoInfo, _open, probe, to_display


class FrameSource:
    def __init__(self, path: str | os.PathLike, info: VideoInfo | None = None):
        import av

        self.info = info or probe(path)
        self._container = _open(self.info.path)
        self._stream = self._container.streams.video[0]
        try:
            stamps = [p.pts for p in self._container.demux(self._stream) if p.size]
            if not stamps or None in stamps:  # a raw stream without timestamps: count frames by decoding
                self._container.seek(0)
                stamps = [f.pts for f in self._container.decode(self._stream)]
        except av.FFmpegError:
            self._container.close()
            raise VideoError(f"{self.info.path.name} is truncated or damaged: its frames cannot be listed") from None
        if None in stamps:
            self._container.close()
            raise VideoError(f"{self.info.path.name} has frames without timestamps; it cannot be scrubbed")
        self.pts: list[int] = sorted(stamps)  # presentation order
        self._decoder = None
        self._next = -1  # the index the decoder yields next (-1: none open)
        self._last: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.pts)

    def time(self, i: int) -> float:
        """Seconds from the first frame to frame i."""
        return float((self.pts[i] - self.pts[0]) * self.info.time_base)

    def frame(self, i: int) -> np.ndarray:
        import av

        if not 0 <= i < len(self.pts):
            raise IndexError(f"frame {i} of {len(self.pts)}")
        if self._last is not None and self._last[0] == i:
            return self._last[1]
        if i != self._next:
            self._container.seek(self.pts[i], stream=self._stream, backward=True)
            self._decoder = self._container.decode(self._stream)
        w, h = self.info.stored_size
        try:
            for frame in self._decoder:
                if frame.pts is not None and frame.pts < self.pts[i]:
                    continue  # between the key frame and the one asked for
                rgb = to_display(frame.to_ndarray(format="rgb24", width=w, height=h), self.info.rotation)
                self._next, self._last = i + 1, (i, rgb)
                return rgb
        except av.FFmpegError:
            pass
        self._next = -1
        raise VideoError(f"{self.info.path.name} is truncated or damaged: frame {i + 1} does not decode")

    def close(self) -> None:
        self._container.close()
