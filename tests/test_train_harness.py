"""The shared training harness: a 2-process gloo DDP smoke run, resume, export."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from studio.checkpoints import load_model
from studio.nets import registry
from studio.nets.dcgan import NZ, Z_LIMIT, DCGAN64, sample_z

TINY = ["--ngf", "8", "--ndf", "8", "--nef", "8", "--batch", "4", "--val-holdout", "4", "--threads", "1",
        "--sample-every", "2", "--log-every", "1", "--save-every-min", "0"]


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """A dozen generated 64x64 'faces' named like CelebA-HQ files."""
    folder = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(0)
    for i in range(1, 13):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i}.jpg")
    return folder


def _train(args, nproc=1, timeout=240):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "studio.train.dcgan", *args]
    else:
        cmd = [sys.executable, "-m", "studio.train.dcgan", *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def _state(run):
    return torch.load(run / "state.pt", map_location="cpu", weights_only=False)


def test_two_process_gloo_ddp_smoke_run_and_resume(faces, tmp_path):
    run = tmp_path / "run"
    args = ["--data", str(faces), "--out", str(run), *TINY]
    r = _train(args + ["--max-steps", "3"], nproc=2)
    assert "rank 0 of 2" in r.stdout and "rank 1 of 2" in r.stdout
    log = (run / "train.log").read_text()
    assert "replicas in sync" in log  # DDP kept both ranks' weights identical
    state = _state(run)
    assert state["step"] == 3 and state["world_size"] == 2 and len(state["rng"]) == 2
    assert (run / "samples" / "final.png").exists()

    _train(args + ["--max-steps", "5"], nproc=2)
    log = (run / "train.log").read_text()
    assert "resumed" in log and "at step 3" in log
    assert _state(run)["step"] == 5


def test_single_process_resume_continues_exactly(faces, tmp_path):
    """Stopping at 2 and resuming to 4 gives the same weights as running to 4 at once."""
    args = ["--data", str(faces), *TINY]
    _train(args + ["--out", str(tmp_path / "a"), "--max-steps", "4"])
    _train(args + ["--out", str(tmp_path / "b"), "--max-steps", "2"])
    _train(args + ["--out", str(tmp_path / "b"), "--max-steps", "4"])
    a, b = _state(tmp_path / "a")["modules"]["model"], _state(tmp_path / "b")["modules"]["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_encoder_phase_and_export_make_a_loadable_checkpoint(faces, tmp_path, monkeypatch):
    run, store = tmp_path / "run", tmp_path / "store"
    args = ["--data", str(faces), "--out", str(run), *TINY]
    _train(args + ["--max-steps", "2", "--label-smooth", "0.1"])
    _train(args + ["--phase", "encoder", "--max-steps", "3", "--export", str(store / "dcgan-test")])
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(store))
    model, info = load_model("dcgan-test")
    assert info.card["architecture"] == "dcgan64" and info.card["training"]["encoder_steps"] == 3
    # The GAN's settings come from the GAN phase, not from the encoder phase's command line.
    assert info.card["training"]["label_smooth"] == 0.1 and info.card["training"]["gan_steps"] == 2
    assert "non-commercial" in info.card["license"]
    trained = _state(run)["modules"]["model"]  # the GAN phase's G, frozen while E trained
    w = model.generator.net[0].weight
    assert torch.allclose(w, trained["generator.net.0.weight"].float(), atol=1e-3)


def test_dcgan_shapes_and_prior():
    net = registry.build("dcgan64", {"ngf": 8, "ndf": 8, "nef": 8})
    assert isinstance(net, DCGAN64)
    z = sample_z(5, generator=torch.Generator().manual_seed(0))
    assert z.shape == (5, NZ) and z.abs().max() <= Z_LIMIT
    with torch.no_grad():
        x = net.generator(z)
        assert x.shape == (5, 3, 64, 64) and x.abs().max() <= 1
        assert net.discriminator(x).shape == (5,)
        assert net.encoder(x).shape == (5, NZ)


def test_holdout_is_the_last_files_in_numeric_order(tmp_path):
    from studio.data.images import list_images, split_holdout
    from studio.errors import StudioError
    from studio.train.data import image_folder

    for i in (1, 2, 9, 10, 11, 100):  # text order would be 1, 10, 100, 11, 2, 9
        Image.fromarray(np.full((64, 64, 3), i, np.uint8)).save(tmp_path / f"{i}.png")
    train, val = split_holdout(list_images(tmp_path), 2)
    assert [p.stem for p in train] == ["1", "2", "9", "10"] and [p.stem for p in val] == ["11", "100"]
    ds, val_x = image_folder(tmp_path, holdout=2, flip=False)
    assert sorted(ds.images[:, 0, 0, 0].tolist()) == [1, 2, 9, 10]  # no validation pixel in training
    assert val_x[:, 0, 0, 0].tolist() == [11, 100]
    with pytest.raises(StudioError):
        split_holdout(list_images(tmp_path), 6)


def test_batches_resume_at_the_same_position():
    from studio.train.harness import InfiniteBatches

    data = torch.arange(10).float()
    a = InfiniteBatches(data, 3, seed=1)
    first = [next(a).tolist() for _ in range(5)]  # crosses an epoch (3 batches per epoch)
    b = InfiniteBatches(data, 3, seed=1)
    [next(b) for _ in range(2)]
    c = InfiniteBatches(data, 3, seed=1)
    c.load_state_dict(b.state_dict())
    assert [next(c).tolist() for _ in range(3)] == first[2:]
    assert len(set(sum(first[:3], []))) == 9  # an epoch: distinct items, the remainder dropped


def test_grid_png_layout(tmp_path):
    from studio.train.harness import write_grid

    imgs = -torch.ones(10, 3, 8, 8)
    imgs[3] = 1.0  # one white tile: row 0, column 3
    path = write_grid(imgs, tmp_path / "g.png", nrow=4, pad=2)
    arr = np.asarray(Image.open(path))
    assert arr.shape == (3 * 10 + 2, 4 * 10 + 2, 3)
    assert arr[2:10, 32:40].min() == 255 and arr[2:10, 22:30].max() == 0


def test_a_long_pause_between_steps_is_not_training_time(tmp_path, monkeypatch):
    import argparse

    from studio.train import harness

    clock = [1000.0]
    monkeypatch.setattr(harness.time, "monotonic", lambda: clock[0])
    args = argparse.Namespace(out=tmp_path / "run", max_steps=None, max_minutes=30.0, save_every_min=0.0,
                              log_every=50, threads=None, seed=0, device="cpu")
    run = harness.Run(args, modules={"m": torch.nn.Linear(1, 1)}, optimizers={})
    assert run.keep_going()
    clock[0] += 60.0  # a minute of steps
    assert run.keep_going() and run.elapsed == 60.0
    clock[0] += 2 * 3600.0  # stopped for two hours (kill -STOP)
    assert run.keep_going()  # the 30-minute limit is not reached by the pause
    clock[0] += 30.0
    assert run.elapsed == 90.0
    going = []
    for _ in range(30):  # real training, a minute at a time, still stops the run at its limit
        clock[0] += 60.0
        going.append(run.keep_going())
    assert going.index(False) == 28 and "max-minutes" in run.stop_reason  # 90 s + 29 min > 30 min
