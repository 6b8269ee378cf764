"""History (Qt-free): changed rectangles only, exact integer storage, a byte budget."""

import numpy as np
from PIL import Image

from studio.imageio import load_image
from studio.editing import brush
from studio.editing import history as hist
from studio.editing.document import Document


def doc_of(tmp_path, w=40, h=30, bits=8, budget=hist.DEFAULT_BUDGET) -> Document:
    rng = np.random.default_rng(0)
    if bits == 16:
        arr = rng.integers(0, 65535, (h, w), dtype=np.uint16)
        Image.fromarray(arr).save(tmp_path / "p16.png")
        return Document(load_image(tmp_path / "p16.png"), source=tmp_path / "p16.png", budget=budget)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(tmp_path / "p.png")
    return Document(load_image(tmp_path / "p.png"), source=tmp_path / "p.png", budget=budget)


def test_quantize_is_the_exact_inverse_of_loading(tmp_path):
    for bits in (8, 16):
        doc = doc_of(tmp_path, bits=bits)
        q = doc.quantized()
        assert q.dtype == (np.uint16 if bits == 16 else np.uint8)
        assert np.array_equal(hist.dequantize(q), doc.picture.rgb)


def test_an_image_step_keeps_only_the_changed_rectangle(tmp_path):
    doc = doc_of(tmp_path)
    before = doc.picture.rgb.copy()
    out = before.copy()
    out[5:9, 10:20] = 0.5
    step = hist.image_step("fill", doc.quantized(), hist.quantize(out, 8))
    assert step.patches[0].rect == (10, 5, 10, 4) and step.nbytes == 2 * 4 * 10 * 3
    change = doc.push(step)
    assert change.image == (10, 5, 10, 4) and doc.dirty
    assert np.allclose(doc.picture.rgb[6, 12], 128 / 255)
    doc.undo()
    assert np.array_equal(doc.picture.rgb, before) and not doc.dirty
    doc.redo()
    assert doc.dirty
    assert hist.image_step("none", doc.quantized(), doc.quantized()) is None


def test_the_budget_drops_the_oldest_steps_but_keeps_the_newest(tmp_path):
    doc = doc_of(tmp_path, budget=4000)
    for i in range(10):
        m = doc.mask.copy()
        m[:, i * 4:(i + 1) * 4] = 255  # 30x4 = 120 px: 240 bytes a step
        doc.set_mask(m, f"stroke {i}")
    assert doc.history.nbytes <= 4000 and len(doc.history.steps) == 10
    for i in range(10, 40):
        m = doc.mask.copy()
        m[i % 30, :] = 100 + i  # 40 px rows: 80 bytes
        doc.set_mask(m, f"row {i}")
    assert doc.history.nbytes <= 4000 and doc.history.dropped > 0
    big = np.full_like(doc.mask, 7)
    doc.set_mask(big, "huge")  # alone over budget: kept so it can be undone
    assert doc.history.steps[-1].label == "huge"
    doc.undo()
    assert not np.array_equal(doc.mask, big)
    undone = 1
    while doc.undo():
        undone += 1
    assert undone == len(doc.history.steps) and doc.history.position == 0


def test_brush_dabs_are_bounded_and_max_combined():
    mask = np.zeros((50, 60), np.uint8)
    b = brush.Brush(radius=5, hardness=1.0)
    rect = brush.stroke(mask, (10, 10), (40, 10), b, first=True)
    x, y, w, h = rect
    assert x <= 5 and y <= 5 and x + w >= 45 and y + h <= 17
    assert mask[10, 10:41].min() == 255 and mask[30].max() == 0
    brush.stroke(mask, (25, 10), (25, 10), brush.Brush(radius=3, hardness=0.0), erase=True, first=True)
    assert mask[10, 25] < 60 and mask[10, 20] == 255
    assert brush.dab(mask, -100, -100, b) is None  # off the image: nothing
