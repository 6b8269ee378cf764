import threading

import numpy as np
import pytest

from studio.devices import pick_device
from studio.errors import Cancelled, StudioError
from studio.jobs import CancelToken, Job


def test_progress_reaches_the_callback_in_order():
    seen = []
    job = Job(seen.append)
    preview = np.zeros((4, 4, 3), np.float32)
    for i in range(3):
        job.progress(i / 2, f"step {i}", preview if i == 1 else None)
    assert [p.fraction for p in seen] == [0.0, 0.5, 1.0]
    assert seen[1].message == "step 1" and seen[1].preview is preview


def test_span_maps_child_fractions_into_the_parent_range():
    seen = []
    job = Job(seen.append)
    child = job.span(0.5, 1.0).span(0.0, 0.5)
    child.progress(0.0)
    child.progress(1.0)
    child.progress(7.0)  # clamped, never past the child's end
    assert [round(p.fraction, 6) for p in seen] == [0.5, 0.75, 0.75]


def test_cancel_stops_a_running_engine_within_one_step():
    token = CancelToken()
    job = Job(token=token)
    steps_done = []

    def engine():
        for i in range(10_000):
            job.progress(i / 10_000)
            steps_done.append(i)
            if i == 50:
                token.cancel()  # as a UI thread would, mid-run

    with pytest.raises(Cancelled):
        engine()
    assert steps_done[-1] == 50  # the very next progress call stopped it


def test_cancel_from_another_thread():
    token = CancelToken()
    job = Job(token=token)
    result = {}
    running = threading.Event()

    def engine():
        try:
            while True:
                job.progress(0.5)
                running.set()
        except Cancelled:
            result["stopped"] = True

    t = threading.Thread(target=engine)
    t.start()
    assert running.wait(5)
    token.cancel()
    t.join(5)
    assert not t.is_alive() and result == {"stopped": True}
    # children share the token
    with pytest.raises(Cancelled):
        job.span(0, 1).check()


def test_device_choice(monkeypatch):
    import torch

    monkeypatch.delenv("STUDIO_DEVICE", raising=False)
    assert pick_device("cpu").type == "cpu"
    auto = pick_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else auto.type)
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    assert pick_device(None).type == "cpu"
    with pytest.raises(StudioError, match="unknown device"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(StudioError, match="no CUDA GPU"):
            pick_device("cuda")
