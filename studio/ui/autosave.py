"""Session autosave and crash recovery.

About every minute of changes the current image (PNG at its bit depth, alpha kept), the mask
(npz), its ICC/EXIF bytes and a small JSON go into this process's folder under the user state
dir. Encoding runs on a plain thread; the files are written under temporary names and renamed
into place by the UI thread only if the image did not change meanwhile, the JSON last, so a
folder with a JSON is always complete. A clean exit deletes the folder; a folder left by a
process that is gone is offered for recovery at the next start.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from studio.editing import history as hist

INTERVAL_MS = 60_000
SESSION_JSON = "session.json"
IMAGE, MASK, ICC, EXIF = "image.png", "mask.npz", "icc.bin", "exif.bin"


def default_state_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir("gan-studio", appauthor=False))


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _encode_png(q: np.ndarray, alpha_q: np.ndarray | None) -> bytes:
    import cv2

    bgr = q[..., ::-1]
    if alpha_q is not None:
        bgr = np.dstack([bgr, alpha_q])
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(bgr), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise OSError("PNG encoding failed")
    return buf.tobytes()


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else (or we cannot tell): leave it alone
    return True


class Autosaver(QObject):
    written = Signal()  # a snapshot was committed (tests wait on it)
    _encoded = Signal(object)

    def __init__(self, get_document, state_dir: Path | None = None, interval_ms: int = INTERVAL_MS, parent=None):
        super().__init__(parent)
        self.get_document = get_document
        self.root = Path(state_dir or default_state_dir()) / "autosave"
        self.folder = self.root / f"session-{os.getpid()}"
        self._busy = False
        self._saved: tuple[int, int] | None = None  # (id(document), revision) last written
        self._encoded.connect(self._commit)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.save_now)
        self.timer.start()

    def save_now(self) -> bool:
        """Start writing a snapshot if anything changed since the last one."""
        doc = self.get_document()
        if doc is None or self._busy:
            return False
        key = (id(doc), doc.revision)
        if key == self._saved or (doc.revision == 0 and doc.source is not None):
            return False  # nothing to lose: unchanged since opened or since last time
        self._busy = True
        job = dict(doc=doc, key=key, image_revision=doc.image_revision, mask=doc.mask.copy(),
                   rgb=doc.picture.rgb, alpha=doc.picture.alpha, bits=doc.bit_depth)
        threading.Thread(target=self._encode, args=(job,), name="studio-autosave", daemon=True).start()
        return True

    def _encode(self, job: dict) -> None:  # on the autosave thread
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            q = hist.quantize(job["rgb"], job["bits"])
            a = None if job["alpha"] is None else hist.quantize(job["alpha"], job["bits"])
            _write_bytes_atomic(self.folder / f".pending-{IMAGE}", _encode_png(q, a))
            tmp_mask = self.folder / f".pending-{MASK}"
            with open(tmp_mask, "wb") as f:
                np.savez_compressed(f, mask=job["mask"])
            job["error"] = None
        except Exception as e:  # noqa: BLE001 - autosave must never take the editor down
            job["error"] = e
        self._encoded.emit(job)

    def _commit(self, job: dict) -> None:  # UI thread
        self._busy = False
        doc = job["doc"]
        if job["error"] is not None or doc is not self.get_document() or doc.image_revision != job["image_revision"]:
            return  # changed while encoding (or failed): the next tick writes a fresh one
        pic = doc.picture
        os.replace(self.folder / f".pending-{IMAGE}", self.folder / IMAGE)
        os.replace(self.folder / f".pending-{MASK}", self.folder / MASK)
        for name, data in ((ICC, pic.icc), (EXIF, pic.exif)):
            if data:
                _write_bytes_atomic(self.folder / name, data)
            elif (self.folder / name).exists():
                (self.folder / name).unlink()
        info = dict(version=1, pid=os.getpid(), time=time.time(), name=doc.name,
                    source=str(doc.source) if doc.source else None,
                    save_path=str(doc.save_path) if doc.save_path else None,
                    size=list(doc.size), bit_depth=doc.bit_depth, was_gray=bool(pic.was_gray), format=pic.format,
                    history_position=doc.history.position, history_steps=len(doc.history.steps))
        _write_bytes_atomic(self.folder / SESSION_JSON, (json.dumps(info, indent=1) + "\n").encode())
        self._saved = job["key"]
        self.written.emit()

    def discard(self) -> None:
        """Clean exit (or the user saved and closed): nothing to recover."""
        self.timer.stop()
        remove_session(self.folder)

    # ------------------------------------------------------------ recovery
    def recoverable(self) -> list[Path]:
        """Folders of sessions whose process is gone, newest first."""
        found = []
        if not self.root.is_dir():
            return found
        for d in self.root.iterdir():
            try:
                info = json.loads((d / SESSION_JSON).read_text())
            except (OSError, ValueError):
                continue
            if not _pid_alive(int(info.get("pid", 0))):
                found.append((info.get("time", 0), d))
        return [d for _, d in sorted(found, reverse=True)]


def read_session(folder: Path):
    """(Picture, mask uint8, info dict) of a saved session."""
    import dataclasses

    from studio.imageio import load_image

    info = json.loads((folder / SESSION_JSON).read_text())
    pic = load_image(folder / IMAGE)
    icc = (folder / ICC).read_bytes() if (folder / ICC).exists() else None
    exif = (folder / EXIF).read_bytes() if (folder / EXIF).exists() else None
    pic = dataclasses.replace(pic, icc=icc, exif=exif, was_gray=bool(info.get("was_gray")),
                              format=info.get("format"), source=None)
    with np.load(folder / MASK) as data:
        mask = data["mask"].astype(np.uint8)
    if mask.shape != pic.rgb.shape[:2]:
        mask = np.zeros(pic.rgb.shape[:2], np.uint8)
    return pic, mask, info


def remove_session(folder: Path) -> None:
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        try:
            p.unlink()
        except OSError:
            pass
    try:
        folder.rmdir()
    except OSError:
        pass
