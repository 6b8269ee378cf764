import json
import pickle

import pytest
import torch

from studio import checkpoints
from studio.checkpoints import find_checkpoint, list_checkpoints, load_model, save_checkpoint
from studio.errors import CheckpointError
from studio.nets.tiny import TinyNet


@pytest.fixture
def store(model_folders):
    return model_folders


def _save(folder, name="tiny-test", width=8, seed=0):
    torch.manual_seed(seed)
    net = TinyNet(width=width)
    save_checkpoint(net, folder / name, architecture="tiny", config={"width": width},
                    card={"task": "test", "metrics": {"psnr": 1.0}}, dtype=torch.float32)
    return net


def test_round_trip_restores_exact_weights(store):
    net = _save(store[1])
    loaded, info = load_model("tiny-test")
    for (k, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    assert info.card["metrics"]["psnr"] == 1.0
    assert info.card["sha256"] == checkpoints.sha256_of(info.weights)
    assert not loaded.training


def test_float16_is_the_default_and_loads_into_float32(store):
    torch.manual_seed(0)
    net = TinyNet()
    save_checkpoint(net, store[1] / "half", architecture="tiny", config={}, card={})
    assert json.loads((store[1] / "half.json").read_text())["dtype"] == "float16"
    loaded, _ = load_model("half")
    w = loaded.body[0].weight
    assert w.dtype == torch.float32
    assert torch.allclose(w, net.body[0].weight, atol=1e-3)


def test_user_folder_shadows_bundled(store):
    user, bundled = store
    _save(bundled, seed=1)
    mine = _save(user, seed=2)
    loaded, info = load_model("tiny-test")
    assert info.weights.parent == user
    assert torch.equal(loaded.body[0].weight, mine.body[0].weight)


def test_tampered_weights_are_refused(store):
    _save(store[1])
    w = store[1] / "tiny-test.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 does not match"):
        load_model("tiny-test")


def test_pickle_is_refused_even_under_a_safetensors_name(store):
    _save(store[1])
    w = store[1] / "tiny-test.safetensors"
    w.write_bytes(pickle.dumps({"body.0.weight": [1, 2, 3]}))
    card = json.loads((store[1] / "tiny-test.json").read_text())
    card["sha256"] = checkpoints.sha256_of(w)  # an attacker can fix the hash too
    (store[1] / "tiny-test.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_model("tiny-test")


def test_pickle_extensions_are_never_opened(store, tmp_path):
    p = tmp_path / "evil.pt"
    torch.save({"x": torch.zeros(1)}, p)
    with pytest.raises(CheckpointError, match="pickle-format"):
        load_model(str(p))
    (store[1] / "evil.ckpt").write_bytes(p.read_bytes())  # (.pth: a community model, read weights-only)
    _, problems = list_checkpoints()
    assert any("evil.ckpt" in line for line in problems)


def test_wrong_architecture_shapes_are_refused(store):
    _save(store[1], width=8)
    card_path = store[1] / "tiny-test.json"
    card = json.loads(card_path.read_text())
    card["config"] = {"width": 16}
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="does not fit architecture 'tiny'.*wrong shapes"):
        load_model("tiny-test")


def test_unknown_architecture_and_missing_files(store):
    _save(store[1])
    card_path = store[1] / "tiny-test.json"
    card = json.loads(card_path.read_text())
    card["architecture"] = "nope"
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="unknown architecture 'nope'"):
        load_model("tiny-test")
    card_path.unlink()
    with pytest.raises(CheckpointError, match="model card .* is missing"):
        load_model("tiny-test")
    with pytest.raises(CheckpointError, match="'absent' not found"):
        find_checkpoint("absent")


def test_list_reports_broken_cards_but_keeps_good_ones(store):
    _save(store[1], name="good")
    (store[1] / "broken.safetensors").write_bytes(b"x")
    (store[1] / "broken.json").write_text("{not json")
    found, problems = list_checkpoints()
    assert [i.name for i in found] == ["good"]
    assert len(problems) == 1 and "broken.json" in problems[0]


def test_an_omitted_discriminator_is_left_out_of_the_file_and_still_verified(store):
    from safetensors import safe_open

    from studio.nets.dcgan import DCGAN64

    torch.manual_seed(0)
    net = DCGAN64(ngf=8, ndf=8, nef=8)
    config = {"nz": 100, "ngf": 8, "ndf": 8, "nef": 8, "d_norm": "batch"}
    weights = save_checkpoint(net, store[1] / "gan-t", architecture="dcgan64", config=config, card={"task": "test"},
                              dtype=torch.float32, omit=("discriminator",))
    with safe_open(str(weights), framework="pt") as f:
        keys = list(f.keys())
    assert keys and not any(k.startswith("discriminator.") for k in keys)
    loaded, info = load_model("gan-t")
    assert info.card["omitted"] == ["discriminator"]
    for k, v in net.state_dict().items():
        if not k.startswith("discriminator."):
            assert torch.equal(v, loaded.state_dict()[k]), k
    card_path = store[1] / "gan-t.json"
    card = json.loads(card_path.read_text())
    for bad, needle in ((None, "tensors missing"), ("discriminator", "'omitted' must be a list")):
        card_path.write_text(json.dumps({**card, "omitted": bad}))  # the file's gap is no longer declared
        with pytest.raises(CheckpointError, match=needle):
            load_model("gan-t")
