"""The dcgan64 architecture: what the z-search and the checkpoint loader rely on."""

import pytest
import torch

from studio.nets import registry
from studio.nets.dcgan import NZ, Z_LIMIT, DCGAN64, sample_z

SMALL = {"ngf": 8, "ndf": 8, "nef": 8}


def test_default_config_is_recorded_for_the_model_card():
    net = registry.build("dcgan64")
    assert net.config == {"nz": NZ, "ngf": 64, "ndf": 64, "nef": 64, "d_norm": "batch"}
    # The loader rebuilds from the card's config: same tensor names and shapes.
    again = registry.build("dcgan64", dict(net.config))
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in net.state_dict().items()}


@pytest.mark.parametrize("d_norm", ["batch", "spectral"])
def test_parts_map_z_to_images_and_back(d_norm):
    net = DCGAN64(**SMALL, d_norm=d_norm).eval()
    z = sample_z(3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = net(z)
        assert x.shape == (3, 3, 64, 64) and x.abs().max() <= 1  # tanh range
        assert net.generator(z.view(3, NZ, 1, 1)).allclose(x)  # both z layouts accepted
        logits = net.discriminator(x)
        assert logits.shape == (3,) and torch.isfinite(logits).all()
        assert net.encoder(x).shape == (3, NZ)


def test_discriminator_gradient_reaches_z():
    """The z-search backpropagates D's logit and the pixel loss to z."""
    net = DCGAN64(**SMALL).eval()
    z = sample_z(2).requires_grad_(True)
    net.discriminator(net(z)).sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_prior_is_truncated_normal():
    z = sample_z(4000, generator=torch.Generator().manual_seed(1))
    assert z.abs().max() <= Z_LIMIT
    assert abs(z.mean().item()) < 0.02 and 0.95 < z.std().item() < 1.05


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        DCGAN64(d_norm="layer")
    with pytest.raises(ValueError):
        DCGAN64(ngf=0)
