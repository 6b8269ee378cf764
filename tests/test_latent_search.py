import numpy as np
import pytest
import torch

from studio.engines.latent_search import SEARCHING, LatentSearch, SearchOptions, importance_weights
from studio.errors import Cancelled
from studio.jobs import CancelToken, Job
from studio.nets.dcgan import DCGAN64


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return DCGAN64(ngf=8, ndf=8, nef=8).eval()


def _centre_hole():
    hole = np.zeros((64, 64), bool)
    hole[16:48, 16:48] = True
    return hole


def _face_from(model, seed=3):
    with torch.no_grad():
        z = torch.randn(1, 100, generator=torch.Generator().manual_seed(seed))
        return ((model.generator(z)[0] + 1) / 2).permute(1, 2, 0).numpy()


def test_importance_weights_favour_pixels_next_to_the_hole():
    hole = torch.from_numpy(_centre_hole())
    w = importance_weights(hole, 7)
    assert float(w[hole].abs().max()) == 0.0  # the hole itself is never matched
    assert w[15, 30] > w[13, 30] > 0  # 1 px from the hole beats 3 px
    assert float(w[5, 5]) == 0.0  # outside the 7x7 reach: Yeh et al.'s weight is 0
    assert float(importance_weights(hole, 7, base=0.1)[5, 5]) == pytest.approx(0.1)


def test_seeded_search_is_reproducible(model):
    img, hole = _face_from(model), _centre_hole()
    opts = SearchOptions(steps=8, random_starts=4, patience=0)
    a = LatentSearch(model).search(img, hole, opts, seed=7)
    b = LatentSearch(model).search(img, hole, opts, seed=7)
    c = LatentSearch(model).search(img, hole, opts, seed=8)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.z, b.z)
    assert not np.array_equal(a.z, c.z)


def test_search_lowers_the_loss_and_keeps_z_in_the_prior_box(model):
    img, hole = _face_from(model), _centre_hole()
    opts = SearchOptions(steps=40, random_starts=2, use_encoder=False, patience=0, lr=0.1, z_limit=1.5)
    r = LatentSearch(model).search(img, hole, opts, seed=1)
    assert r.history[-1] < r.history[0]
    assert r.loss == pytest.approx(min(r.history))
    assert np.abs(r.z).max() <= 1.5 + 1e-6


def test_early_stopping_ends_a_stalled_search(model):
    img, hole = _face_from(model), _centre_hole()
    opts = SearchOptions(steps=200, lr=0.0, patience=5)  # lr 0: the loss can never improve
    r = LatentSearch(model).search(img, hole, opts, seed=0)
    assert r.steps == 6


def test_progress_has_step_loss_and_previews_and_cancel_stops_within_one_step(model):
    img, hole = _face_from(model), _centre_hole()
    token, seen = CancelToken(), []

    def on_progress(p):
        seen.append(p)
        if p.message == SEARCHING and round(p.fraction * 100) == 12:  # step 12 of 100
            token.cancel()

    with pytest.raises(Cancelled):
        LatentSearch(model).search(img, hole, SearchOptions(steps=100, patience=0, preview_every=5),
                                   Job(on_progress, token), seed=0)
    steps = [p for p in seen if p.message == SEARCHING]
    assert len(steps) == 12 and "loss" not in steps[-1].message  # words for a person, not figures
    previews = [p.preview for p in seen if p.preview is not None]
    assert len(previews) == 2 and previews[0].shape == (64, 64, 3)
    assert 0 <= previews[0].min() and previews[0].max() <= 1
