"""Reading and writing video with PyAV (FFmpeg's libraries): any container and codec FFmpeg reads.

Frames come out one at a time as RGB uint8 arrays in display orientation (a phone clip's rotation
matrix applied), so nothing holds a whole clip; callers keep what they need. The writer encodes
H.264 (libx264, quality as CRF) into a temporary file beside the output and renames it into place
when the last frame is in (studio/atomic.py), so a cancelled or failed run leaves no partial file.
It keeps what the user did not ask to change: the audio stream is copied packet by packet, not
re-encoded; each frame keeps its presentation time (variable frame rates stay in sync with the
audio); the rotation matrix is written back and the frames turned back to the stored orientation.

Bad input gets one VideoError each: not a video (or an image), no video stream, no frames, a
truncated or damaged file, a frame size above the limit.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from studio.atomic import write_atomic
from studio.errors import VideoError
from studio.imageio import format_pixels, pixel_limit

# 4096x2304 (9.4 megapixels): UHD and DCI 4K fit, 8K does not. The scene engine holds a window of
# frames (30 by default) and a few float copies of one: about 1.5 GB at this size.
MAX_VIDEO_PIXELS = 4096 * 2304
# Output containers that take H.264 and copied AAC/MP3/Opus audio alike (the FFmpeg muxer names).
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
# Inputs found in a folder batch (any file FFmpeg reads works when named directly).
VIDEO_EXTS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
              ".wmv", ".flv", ".ogv", ".3gp", ".gif")
CRF_DEFAULT = 18  # x264: visually lossless for most material; 23 is x264's own default
# First bytes of container formats, to tell a damaged video from a file that never was one.
_MAGIC = ((4, b"ftyp"), (4, b"moov"), (4, b"mdat"), (4, b"free"), (4, b"wide"), (0, b"\x1a\x45\xdf\xa3"),
          (0, b"RIFF"), (0, b"\x00\x00\x01\xba"), (0, b"\x00\x00\x01\xb3"), (0, b"FLV"), (0, b"OggS"),
          (0, b"\x30\x26\xb2\x75"), (0, b"GIF8"))


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    size: tuple[int, int]  # (width, height) as shown: the rotation applied
    fps: Fraction  # average frame rate
    frames: int  # frame count the container declares; 0 when it does not say (Matroska)
    rotation: int  # display rotation in degrees counter-clockwise: 0, 90, 180 or 270
    codec: str  # the video codec's FFmpeg name
    audio: str | None  # codec of the audio stream that is copied to the output; None: no audio
    time_base: Fraction  # of the video stream's timestamps
    pix_fmt: str = "yuv420p"  # the decoded frames' pixel format (4:4:4 inputs are written as 4:4:4)

    @property
    def stored_size(self) -> tuple[int, int]:
        """(width, height) of the frames as the file stores them."""
        return self.size[::-1] if self.rotation in (90, 270) else self.size


def max_video_pixels() -> int:
    return pixel_limit("STUDIO_MAX_VIDEO_PIXELS", MAX_VIDEO_PIXELS, VideoError)


def _looks_like_video(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(189)
    except OSError:
        return False
    transport = head[:1] == head[188:189] == b"\x47"  # MPEG-TS: a sync byte every 188
    return transport or any(head[at:at + len(magic)] == magic for at, magic in _MAGIC)


def _open(path: Path):
    """The opened container, or VideoError with what is wrong with the file."""
    import av

    try:
        os.stat(path)
    except FileNotFoundError:
        raise VideoError(f"{path} does not exist") from None
    if path.is_dir():
        raise VideoError(f"{path} is a folder, not a video")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as e:
        if isinstance(e, av.PermissionError):
            raise VideoError(f"{path.name}: permission denied") from None
        if path.stat().st_size and _looks_like_video(path):  # a video's start, but its index never came
            raise VideoError(f"{path.name} is truncated or damaged: it could not be opened "
                             "(a recording cut off before it finished?)") from None
        raise VideoError(f"{path.name} is not a video (or in a format this build cannot read)") from None


def _rotation(degrees) -> int:
    """A display rotation as 0, 90, 180 or 270 (others, which players ignore too, as 0)."""
    r = int(round(float(degrees or 0))) % 360
    return r if r in (90, 180, 270) else 0


def probe(path: str | os.PathLike) -> VideoInfo:
    """What the file holds, checked: it opens, has a video stream, its first frame decodes, its
    index does not point past its end, its frames are within the size limit. Reads one frame."""
    import av

    path = Path(path)
    container = _open(path)
    try:
        if container.format.name.endswith("_pipe") or container.format.name == "image2":
            raise VideoError(f"{path.name} is an image, not a video")
        if not container.streams.video:
            if container.streams.audio:
                raise VideoError(f"{path.name} has no video stream (it holds only audio)")
            raise VideoError(f"{path.name} holds no video frames")  # FFmpeg drops a track without samples
        stream = container.streams.video[0]
        _check_index(path, stream)
        first = _first_frame(path, container, stream)
        rotation = _rotation(first.rotation)
        w, h = first.width, first.height
        limit = max_video_pixels()
        if w * h > limit:
            raise VideoError(f"{path.name} is {w}x{h} ({format_pixels(w * h)}); videos may have at most "
                             f"{format_pixels(limit)} a frame (STUDIO_MAX_VIDEO_PIXELS sets the limit)")
        fps = stream.average_rate or stream.guessed_rate or Fraction(25)
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        return VideoInfo(path, (h, w) if rotation in (90, 270) else (w, h), Fraction(fps), int(stream.frames or 0),
                         rotation, stream.codec_context.name, audio, Fraction(stream.time_base or Fraction(1, 90000)),
                         first.format.name)
    finally:
        container.close()


def _check_index(path: Path, stream) -> None:
    """MP4 and AVI list where every frame lies; a file that ends before its last frame was cut."""
    try:
        entries = stream.index_entries
        end = max((e.pos + e.size for e in entries), default=0) if len(entries) > 1 else 0
    except (AttributeError, ValueError):  # an index PyAV cannot read: decoding will tell
        return
    size = path.stat().st_size
    if end > size:
        raise VideoError(f"{path.name} is truncated: its index lists frames up to byte {end:,}, the file "
                         f"ends at {size:,}")


def _first_frame(path: Path, container, stream):
    import av

    try:
        for frame in container.decode(stream):
            return frame
    except av.FFmpegError:
        raise VideoError(f"{path.name} is truncated or damaged: its first frame does not decode") from None
    raise VideoError(f"{path.name} holds no video frames")


def to_display(stored: np.ndarray, rotation: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(stored, rotation // 90)) if rotation else stored


def to_stored(shown: np.ndarray, rotation: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(shown, -(rotation // 90))) if rotation else shown


class VideoReader:
    """Iterate the frames of a video: RGB uint8 HxWx3 in display orientation, one at a time.

    `pts` grows with each frame read: its presentation timestamp (in `info.time_base`), which the
    writer gives the output frame of the same index. A frame that does not decode, or fewer
    frames than the container declares, raises VideoError (truncated or damaged)."""

    def __init__(self, path: str | os.PathLike, info: VideoInfo | None = None):
        self.info = info or probe(path)
        self.pts: list[int | None] = []

    def __iter__(self) -> Iterator[np.ndarray]:
        import av

        info = self.info
        self.pts = []
        w, h = info.stored_size
        container = _open(info.path)
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # frame threads: decoding keeps up with a 2-core machine
            try:
                for frame in container.decode(stream):
                    # A size change mid-stream (rare) is scaled to the first frame's size.
                    rgb = frame.to_ndarray(format="rgb24", width=w, height=h)
                    self.pts.append(frame.pts)
                    yield to_display(rgb, info.rotation)
            except av.FFmpegError:
                raise VideoError(f"{info.path.name} is truncated or damaged: frame {len(self.pts) + 1} does not "
                                 "decode") from None
        finally:
            container.close()
        if not self.pts:
            raise VideoError(f"{info.path.name} holds no video frames")
        if info.frames and len(self.pts) < info.frames:
            raise VideoError(f"{info.path.name} is truncated or damaged: it ends after {len(self.pts)} of its "
                             f"{info.frames} frames")


def output_container(path: Path) -> str:
    """The FFmpeg muxer for an output name (VideoError for another extension: checked before any work)."""
    fmt = CONTAINERS.get(path.suffix.lower())
    if fmt is None:
        raise VideoError(f"cannot write {path.name}: name the output video .mp4, .mov, .m4v or .mkv")
    return fmt


def _encoder(info: VideoInfo) -> str:
    """libx264 when this FFmpeg build has it, else the input's codec, else MPEG-4 Part 2."""
    import av

    for name in ("libx264", info.codec, "mpeg4"):
        try:
            av.codec.Codec(name, "w")
            return name
        except (av.FFmpegError, ValueError):  # no such encoder in this build
            continue
    raise VideoError("this FFmpeg build has no video encoder for MP4 (neither libx264 nor mpeg4)")


def write_video(path: str | os.PathLike, frames: Iterable[tuple[np.ndarray, int | None]], info: VideoInfo, *,
                crf: int = CRF_DEFAULT) -> list[str]:
    """Encode (frame, pts) pairs (RGB uint8 in display orientation; pts in info.time_base, or None
    for evenly spaced frames) into path, atomically, with the input's audio copied and its rotation
    kept. Returns notes (e.g. the encoder used when libx264 is missing). Whatever the frames
    iterator raises (a cancel, Ctrl-C, a bad frame) leaves no file behind."""
    path = Path(path)
    fmt = output_container(path)
    notes: list[str] = []
    write_atomic(path, lambda f: _encode(f, fmt, frames, info, crf, notes))
    return notes


def _encode(f, fmt: str, frames, info: VideoInfo, crf: int, notes: list[str]) -> None:
    import av

    codec = _encoder(info)
    w, h = info.stored_size
    out = av.open(f, "w", format=fmt)
    source, finished = None, False
    try:
        stream = out.add_stream(codec, rate=info.fps)
        stream.width, stream.height = w, h
        # Full colour resolution stays full (4:4:4, RGB inputs); 4:2:0 needs even sides, so x264 takes
        # an odd size as 4:4:4 too (fewer players show that).
        full = info.pix_fmt.startswith(("yuv444", "yuvj444", "gbr", "rgb", "bgr")) or w % 2 or h % 2
        stream.pix_fmt = "yuv444p" if full and codec == "libx264" else "yuv420p"
        stream.time_base = stream.codec_context.time_base = info.time_base  # keeps every frame's time
        if codec == "libx264":
            stream.options = {"crf": str(int(crf)), "preset": "medium"}
        else:
            notes.append(f"this FFmpeg build has no libx264: wrote {codec} (quality from --crf {crf} as qscale)")
            stream.codec_context.qscale = True
            stream.codec_context.global_quality = max(2, min(31, round(crf * 31 / 51))) * 118  # FF_QP2LAMBDA
        if info.rotation:
            stream.set_display_rotation(info.rotation)
        packets = iter(())
        if info.audio:
            source = av.open(str(info.path))
            audio_in = source.streams.audio[0]
            audio_out = out.add_stream_from_template(audio_in)
            packets = (p for p in source.demux(audio_in) if p.dts is not None)
        try:
            out.start_encoding()
        except av.FFmpegError as e:
            raise VideoError(f"the audio ({info.audio}) cannot be copied into a {fmt} file ({e.strerror}): "
                             "name the output .mkv, which takes any audio") from None
        pending = None  # the next audio packet, held until the video reaches its time

        def mux_audio(until: float | None) -> None:
            nonlocal pending
            while True:
                pending = pending or next(packets, None)
                if pending is None:
                    return
                t = pending.pts if pending.pts is not None else pending.dts
                if until is not None and t * pending.time_base > until:
                    return
                pending.stream = audio_out
                out.mux(pending)
                pending = None

        step = 1 / (info.fps * info.time_base)  # frame spacing in time_base units, for frames without pts
        for i, (rgb, pts) in enumerate(frames):
            if rgb.shape[:2] != (info.size[1], info.size[0]):
                raise ValueError(f"frame {i} is {rgb.shape[1]}x{rgb.shape[0]}, the video {info.size[0]}x{info.size[1]}")
            frame = av.VideoFrame.from_ndarray(to_stored(np.ascontiguousarray(rgb, np.uint8), info.rotation),
                                               format="rgb24")
            frame.pts = int(pts) if pts is not None else round(i * step)
            frame.time_base = info.time_base
            out.mux(stream.encode(frame))
            if info.audio:  # interleaved: audio up to this frame's time goes in beside it
                mux_audio(float(frame.pts * info.time_base))
        out.mux(stream.encode(None))
        if info.audio:
            mux_audio(None)
        finished = True
    finally:
        try:
            out.close()
        except av.FFmpegError:
            if finished:  # the trailer did not go in: the file is not whole
                raise
        if source is not None:
            source.close()
