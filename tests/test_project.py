"""Project files: everything comes back (16-bit pixels, alpha, mask, face box, ICC/EXIF, undo and
redo steps across a resize), damaged or future files give one clear error, saves are atomic,
and stale temporary files of killed saves are cleaned up."""

import json
import os
import time
import zipfile

import numpy as np
import pytest

from studio import atomic, project
from studio.editing import history as hist
from studio.editing import history_io
from studio.editing.document import Document
from studio.imageio import Picture, save_image
from studio.project import ProjectError, load_project, save_project


def levels(rng, shape, bits):
    top = 65535 if bits == 16 else 255
    return rng.integers(0, top + 1, shape, dtype=np.uint16 if bits == 16 else np.uint8)


def worked_document(bits: int, tmp_path) -> tuple[Document, list]:
    """A document with alpha, ICC/EXIF, a mask stroke, an image edit, an upscale and one undone
    edit (a redo step); returns it and the (image, mask) states after each step."""
    rng = np.random.default_rng(bits)
    q, a = levels(rng, (24, 32, 3), bits), levels(rng, (24, 32), bits)
    pic = Picture(rgb=hist.dequantize(q), alpha=hist.dequantize(a), bit_depth=bits, icc=b"\0icc-bytes",
                  exif=b"Exif\0\0MM-bytes", format="PNG")
    doc = Document(pic, source=tmp_path / "photo.png")
    states = [(doc.quantized(), doc.mask.copy())]
    m = doc.mask.copy()
    m[3:9, 4:20] = 255
    doc.set_mask(m, "Paint mask")
    states.append((doc.quantized(), doc.mask.copy()))
    after = doc.quantized()
    after[5:10, 6:12] = levels(rng, (5, 6, 3), bits)
    doc.push(hist.image_step("Inpaint", doc.quantized(), after))
    states.append((doc.quantized(), doc.mask.copy()))
    big = np.repeat(np.repeat(doc.quantized(), 2, 0), 2, 1)
    doc.push(doc.resize_step("Upscale 2x", big, np.ones((48, 64), np.float32)))
    states.append((doc.quantized(), doc.mask.copy()))
    edited = doc.quantized()
    edited[0:4, 0:4] = 0
    doc.push(hist.image_step("Edit", doc.quantized(), edited))
    doc.undo()  # leaves a redo step
    doc.face_box = (-3, 5, 20, 20)  # may reach past the edge
    return doc, states


@pytest.mark.parametrize("bits", [8, 16])
def test_round_trip_keeps_everything_and_undo_works(tmp_path, bits):
    doc, states = worked_document(bits, tmp_path)
    path = tmp_path / "work.ganstudio"
    save_project(path, doc)
    back = load_project(path)

    assert back.bit_depth == bits and back.picture.rgb.dtype == np.float32
    assert np.array_equal(back.quantized(), doc.quantized())  # every level, 16-bit included
    assert np.array_equal(back.picture.alpha, doc.picture.alpha)
    assert np.array_equal(back.mask, doc.mask) and back.mask.any()
    assert back.face_box == (-3, 5, 20, 20)
    assert back.picture.icc == b"\0icc-bytes" and back.picture.exif == b"Exif\0\0MM-bytes"
    assert back.source == tmp_path / "photo.png" and back.project_path == path
    assert not back.dirty and back.name == "work.ganstudio"
    assert [s.label for s in back.history.steps] == ["Paint mask", "Inpaint", "Upscale 2x", "Edit"]
    assert back.history.position == 3

    back.redo()  # the undone edit is still there to redo
    assert back.quantized()[0:4, 0:4].max() == 0 and back.dirty
    back.undo()
    for image, mask in reversed(states):  # step back through every saved state
        assert np.array_equal(back.quantized(), image) and np.array_equal(back.mask, mask)
        back.undo()
    assert back.size == (32, 24) and back.picture.alpha.shape == (24, 32)


def test_loading_trims_history_to_the_memory_budget(tmp_path):
    doc, _ = worked_document(8, tmp_path)
    save_project(tmp_path / "w.ganstudio", doc)
    back = load_project(tmp_path / "w.ganstudio", budget=1)
    assert back.history.position == 1 and back.history.dropped >= 2  # only the newest done step stays
    assert back.history.steps[0].label == "Upscale 2x"


def damaged(path, tmp_path, how: str):
    """A copy of a good project damaged in one way."""
    out = tmp_path / f"{how}.ganstudio"
    data = path.read_bytes()
    if how == "truncated":
        out.write_bytes(data[:len(data) // 2])
    elif how == "not a zip":
        out.write_bytes(b"GIF89a this is not a project at all" * 10)
    elif how == "empty":
        out.write_bytes(b"")
    else:
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
            manifest = json.loads(src.read("manifest.json"))
            for item in src.infolist():
                body = src.read(item)
                if how == "future version" and item.filename == "manifest.json":
                    body = json.dumps({**manifest, "version": 99}).encode()
                elif how == "no manifest" and item.filename == "manifest.json":
                    continue
                elif how == "rect outside" and item.filename == "manifest.json":
                    manifest["history"]["steps"][0]["patches"][0]["rect"] = [60, 0, 50, 5]
                    body = json.dumps(manifest).encode()
                elif how == "missing step" and item.filename.startswith("history/0001/p0_after"):
                    continue
                elif how == "wrong image" and item.filename == "image.png":
                    body = project.png_bytes(np.zeros((5, 5, 3), np.uint8))
                elif how == "bad json" and item.filename == "manifest.json":
                    body = b"{not json"
                dst.writestr(item, body)
        if how == "flipped byte":  # inside the stored image: the zip's CRC check catches it
            raw = bytearray(path.read_bytes())
            with zipfile.ZipFile(path) as src:
                info = src.getinfo("image.png")
            raw[info.header_offset + 30 + len(info.filename) + 100] ^= 0xFF
            out.write_bytes(bytes(raw))
    return out


@pytest.mark.parametrize("how, words", [
    ("truncated", "damaged or truncated"), ("not a zip", "not a GAN Studio project"), ("empty", "not a GAN Studio"),
    ("future version", "newer GAN Studio (project format 99"), ("no manifest", "not a GAN Studio project"),
    ("rect outside", "damaged (the rectangle"), ("missing step", "damaged"), ("wrong image", "damaged (the image"),
    ("bad json", "damaged"), ("flipped byte", "damaged")])
def test_damaged_or_future_files_give_one_clear_error(tmp_path, how, words):
    doc, _ = worked_document(16, tmp_path)
    good = tmp_path / "good.ganstudio"
    save_project(good, doc)
    bad = damaged(good, tmp_path, how)
    with pytest.raises(ProjectError) as e:
        load_project(bad)
    message = str(e.value)
    assert message.startswith(f"cannot open {bad}") and words in message and "\n" not in message


def test_missing_file_and_folder_are_errors_too(tmp_path):
    with pytest.raises(ProjectError, match="no such file"):
        load_project(tmp_path / "nope.ganstudio")
    with pytest.raises(ProjectError, match="it is a folder"):
        save_project(tmp_path, worked_document(8, tmp_path)[0])


def test_a_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    doc, _ = worked_document(8, tmp_path)
    path = tmp_path / "w.ganstudio"
    save_project(path, doc)
    before = path.read_bytes()

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(history_io, "write_arrays", full_disk)
    with pytest.raises(ProjectError, match="No space left"):
        save_project(path, doc)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.ganstudio"]


def test_stale_temporary_files_of_killed_saves_are_removed_by_the_next_save(tmp_path):
    stale = tmp_path / ".photo.png.0123456789ab.tmp"  # what imageio's atomic save names them
    fresh = tmp_path / ".other.png.ba9876543210.tmp"  # a save in progress right now
    foreign = tmp_path / ".notes.tmp"  # not ours
    for p in (stale, fresh, foreign):
        p.write_bytes(b"half a file")
    old = time.time() - atomic.STALE_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(foreign, (old, old))
    save_image(tmp_path / "out.png", Picture(rgb=np.zeros((4, 4, 3), np.float32)))
    assert not stale.exists() and fresh.exists() and foreign.exists()

    os.utime(fresh, (old, old))
    save_project(tmp_path / "w.ganstudio", worked_document(8, tmp_path)[0])  # project saves clean up too
    assert not fresh.exists() and foreign.exists()
