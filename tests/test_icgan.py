"""IcGAN face attribute editing: labels, nets, the phased trainer, the editor, the bench, the CLI."""

import dataclasses
import json
import math
import shutil

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from studio.checkpoints import load_model
from studio.data.attributes import ATTRIBUTES, labels_for, read_labels
from studio.engines import edit as edit_engine
from studio.engines import faces
from studio.bench.edit import GAINS
from studio.catalogue import EditOptions
from studio.engines.edit import Y_LIMIT, FaceEditor, local_weight
from studio.engines.faces import crop_matrix, eye_angle, face_weight
from studio.errors import StudioError
from studio.nets import registry
from studio.nets.icgan import AttributeJudge, IcGAN64
from studio.train import icgan as trainer

ALL40 = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
         "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
         "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
         "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
         "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()
TINY = ["--ngf", "8", "--ndf", "8", "--nef", "8", "--ney", "8", "--judge-width", "4", "--batch", "4",
        "--val-holdout", "6", "--threads", "1", "--sample-every", "2", "--log-every", "1", "--save-every-min", "0",
        "--directions-n", "12"]


def write_labels(path, n, seed=0, names=ALL40):
    rng = np.random.default_rng(seed)
    rows = [f"{i}.jpg  " + " ".join(str(v) for v in rng.choice([-1, 1], len(names))) for i in range(1, n + 1)]
    path.write_text(f"{n}\n" + " ".join(names) + "\n" + "\n".join(rows) + "\n")
    return path


def photo(h=160, w=200, seed=0):
    rng = np.random.default_rng(seed)
    small = rng.random((h // 16 + 2, w // 16 + 2, 3)).astype(np.float32)
    return np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Every phase for 2-3 steps on 24 generated faces, exported: (data, attrs, run, store)."""
    root = tmp_path_factory.mktemp("icgan")
    data = root / "faces"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 25):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(data / f"{i}.jpg")
    attrs = write_labels(root / "list_attr.txt", 24)
    run, store = root / "run", root / "store"
    base = ["--data", str(data), "--attrs", str(attrs), "--out", str(run), *TINY]
    trainer.main(base + ["--max-steps", "2"])
    trainer.main(base + ["--max-steps", "3"])  # resumes
    trainer.main(base + ["--phase", "encoder-z", "--max-steps", "2"])
    trainer.main(base + ["--phase", "encoder-y", "--max-steps", "2", "--export", str(store / "icgan-t")])
    trainer.main(base + ["--phase", "judge", "--max-steps", "2", "--export", str(store / "judge-t")])
    return data, attrs, run, store


# ---------------------------------------------------------------- labels


def test_labels_pick_the_18_attributes_by_name(tmp_path):
    path = write_labels(tmp_path / "a.txt", 5)
    labels = read_labels(path)
    assert len(ATTRIBUTES) == 18 and set(labels) == {f"{i}.jpg" for i in range(1, 6)}
    row = path.read_text().splitlines()[3].split()  # 2.jpg
    want = [int(row[1 + ALL40.index(a)]) for a in ATTRIBUTES]
    assert labels["2.jpg"].tolist() == want
    m = labels_for([tmp_path / "3.jpg", tmp_path / "1.jpg"], labels)
    assert m.shape == (2, 18) and m.dtype == np.float32
    with pytest.raises(StudioError, match="no row for 9.jpg"):
        labels_for([tmp_path / "9.jpg"], labels)


@pytest.mark.parametrize("mangle, needle", [
    (lambda t: t.replace("Smiling", "Grinning"), "lacks the attribute"),
    (lambda t: "7" + t[1:], "says 7 rows"),
    (lambda t: t.replace("1.jpg  -1", "1.jpg  0", 1).replace("1.jpg  1", "1.jpg  0", 1), "1 or -1"),
    (lambda t: t.rstrip("\n") + " 1\n", "values for 40"),
    (lambda t: "many\n" + t.split("\n", 1)[1], "number of rows"),
    (lambda t: "", "not a CelebA attribute file"),
])
def test_bad_label_files_are_clear_errors(tmp_path, mangle, needle):
    path = write_labels(tmp_path / "a.txt", 5)
    path.write_text(mangle(path.read_text()))
    with pytest.raises(StudioError, match=needle):
        read_labels(path)


# ---------------------------------------------------------------- nets


def test_net_shapes_and_registry():
    net = registry.build("icgan64", dict(ngf=8, ndf=8, nef=8, ney=8))
    assert isinstance(net, IcGAN64) and net.config["ny"] == 18
    z, y = torch.randn(3, 100), torch.ones(3, 18)
    x = net(z, y)
    assert x.shape == (3, 3, 64, 64) and x.abs().max() <= 1
    adv, cls = net.discriminator(x, y)
    assert adv.shape == (3,) and cls.shape == (3, 18)
    assert net.encoder_z(x).shape == (3, 100) and net.encoder_y(x).shape == (3, 18)
    assert net.state_dict()["directions"].shape == (18, 100)  # saved with the weights
    judge = registry.build("attr-judge64", dict(width=4))
    assert isinstance(judge, AttributeJudge) and judge(x).shape == (3, 18)
    with pytest.raises(ValueError):
        IcGAN64(ngf=0)


# ---------------------------------------------------------------- training


def test_trainer_phases_resume_and_export(trained):
    data, attrs, run, store = trained
    for name in ("state.pt", "state-encoder-z.pt", "state-encoder-y.pt", "state-judge.pt", "arch.json"):
        assert (run / name).exists(), name
    log = (run / "train.log").read_text()
    assert "resumed" in log and "E_z starts from the GAN phase at step 3" in log
    assert (run / "samples" / "gan_final.png").exists() and (run / "samples" / "encoder_z_final.png").exists()
    net, info = load_model(str(store / "icgan-t.safetensors"))
    assert info.card["attributes"] == list(ATTRIBUTES) and info.architecture == "icgan64"
    t = info.card["training"]
    assert (t["gan_steps"], t["encoder_z_steps"], t["encoder_y_steps"]) == (3, 2, 2)
    assert "CelebA-HQ" in info.card["license"] and "encoder_y_accuracy" in info.card["validation"]
    assert net.directions.abs().sum() > 0  # latent directions computed at export
    judge, jinfo = load_model(str(store / "judge-t.safetensors"))
    assert jinfo.architecture == "attr-judge64" and jinfo.card["attributes"] == list(ATTRIBUTES)
    # The judge is not E_y: another architecture and other initial weights.
    assert type(judge).__name__ == "AttributeJudge"
    # A later phase may not change the widths the folder started with.
    with pytest.raises(StudioError, match="--ngf 8"):
        trainer.main(["--data", str(data), "--attrs", str(attrs), "--out", str(run), "--phase", "encoder-z",
                      "--ngf", "16", "--max-steps", "1"])


def test_conditional_batch_norm_generator_trains_exports_and_loads(trained, tmp_path):
    data, attrs, _, _ = trained
    net = IcGAN64(ngf=8, ndf=8, nef=8, ney=8, g_cond="cbn")
    assert net.config["g_cond"] == "cbn" and "g_cond" not in IcGAN64(ngf=8).config  # old checkpoints still match
    z, y = torch.randn(4, 100), torch.ones(4, 18)
    with torch.no_grad():  # training mode: batch statistics, as when G trains
        at_input = net(z, y) - net(z, -y)  # untrained, the norms ignore y: only the input sees it
        for norm in net.generator.norms:  # once trained, y moves every layer's scale too
            norm.gamma.weight.normal_(0, 0.3)
        everywhere = net(z, y) - net(z, -y)
    assert everywhere.shape == (4, 3, 64, 64) and (everywhere - at_input).abs().mean() > 0.2 * at_input.abs().mean()
    with pytest.raises(ValueError, match="g_cond"):
        IcGAN64(g_cond="film")

    run, store = tmp_path / "run", tmp_path / "store"
    base = ["--data", str(data), "--attrs", str(attrs), "--out", str(run), *TINY]
    trainer.main([*base, "--g-cond", "cbn", "--max-steps", "2"])
    assert json.loads((run / "arch.json").read_text())["g_cond"] == "cbn"
    with pytest.raises(StudioError, match="--g-cond cbn"):  # fixed by the folder's first phase
        trainer.main([*base, "--g-cond", "input", "--phase", "encoder-z", "--max-steps", "1"])
    trainer.main([*base, "--phase", "encoder-z", "--max-steps", "1"])
    trainer.main([*base, "--phase", "encoder-y", "--max-steps", "1", "--export", str(store / "icgan-cbn")])
    loaded, info = load_model(str(store / "icgan-cbn.safetensors"))
    assert info.card["config"]["g_cond"] == "cbn" and len(loaded.generator.norms) == 4


def test_flip_one_negates_exactly_one_attribute_of_the_chosen_share():
    y = torch.where(torch.rand(4000, 18) < 0.3, 1.0, -1.0)
    assert torch.equal(trainer.flip_one(y, 0.0), y)
    every = trainer.flip_one(y, 1.0)
    assert ((every != y).sum(1) == 1).all() and torch.equal(every.abs(), y.abs())
    half = (trainer.flip_one(y, 0.5) != y).sum(1)
    assert set(half.tolist()) <= {0, 1} and 0.45 < half.float().mean() < 0.55
    cols = (every != y).float().argmax(1)  # the flipped attribute is uniform: rare ones get flipped too
    assert torch.bincount(cols, minlength=18).min() > 4000 / 18 * 0.7


def test_gan_fine_tune_with_flips_and_frozen_encoder_y(trained, tmp_path):
    data, attrs, run, _ = trained
    fresh = ["--data", str(data), "--attrs", str(attrs), *TINY, "--flip-frac", "0.5", "--ey-weight", "1"]
    with pytest.raises(StudioError, match="run --phase encoder-y there first"):
        trainer.main([*fresh, "--out", str(tmp_path / "none"), "--max-steps", "1"])
    tune = tmp_path / "tune"
    shutil.copytree(run, tune)
    trainer.main([*fresh, "--out", str(tune), "--max-steps", "5"])
    state = torch.load(tune / "state.pt", weights_only=False)
    assert state["step"] == 5
    assert state["extra"]["gan_fine_tune"] == [{"from_step": 3, "flip_frac": 0.5, "ey_weight": 1.0}]
    assert "ey_fake" in (tune / "train.log").read_text()


def test_encoder_phase_needs_the_gan_state(trained, tmp_path):
    data, attrs, _, _ = trained
    with pytest.raises(StudioError, match="run --phase gan there first"):
        trainer.main(["--data", str(data), "--attrs", str(attrs), "--out", str(tmp_path / "r"), *TINY,
                      "--phase", "encoder-z", "--max-steps", "1"])


# ---------------------------------------------------------------- the editor


@pytest.fixture(scope="module")
def editor(trained):
    return FaceEditor(str(trained[3] / "icgan-t.safetensors"), upscale=None, refine_steps=3)


def test_encode_preview_render_change_only_the_face_square(editor):
    img = photo()
    box = (60, 30, 90, 90)
    s = editor.encode(img, options=EditOptions(box=box))
    assert s.box == box and s.angle == 0.0
    assert list(s.values) == list(ATTRIBUTES) and all(-1 < v < 1 for v in s.values.values())
    p = s.preview({"Smiling": 1.5})
    assert p.shape == (64, 64, 3) and p.dtype == np.float32 and 0 <= p.min() and p.max() <= 1
    assert np.array_equal(s.render(s.values), img)  # no change: not one pixel differs
    shown = img.copy()
    s2 = editor.encode(shown, options=EditOptions(box=box))
    shown[:] = 0  # the app applies a render to its picture in place: the next render starts afresh
    assert np.array_equal(s2.render(s2.values), img)
    flipped = {a: -np.sign(v) * 2 for a, v in s.values.items()}
    out = s.render(flipped)
    assert out.shape == img.shape and out.dtype == np.float32
    outside = np.ones(img.shape[:2], bool)
    outside[30:120, 60:150] = False
    assert np.array_equal(out[outside], img[outside])
    assert np.abs(out[60:90, 90:120] - img[60:90, 90:120]).max() > 1e-3  # the face itself did change
    # The soft mask is 0 on the square's edge: no seam even inside the square.
    assert np.array_equal(out[30, 60:150], img[30, 60:150])


def test_replace_and_latent_modes_and_a_rotated_paste(trained, editor):
    img = photo(seed=1)
    ed = FaceEditor(str(trained[3] / "icgan-t.safetensors"), upscale=lambda x: cv2.resize(x, (256, 256)),
                    method="latent", refine_steps=0)
    assert set(ed.methods.values()) == {"latent"}
    s = ed.encode(img, options=EditOptions(box=(40, 20, 100, 100), transfer="replace"))
    assert np.array_equal(s.preview(), s.reconstruction)  # replace: the generated face itself
    assert not np.array_equal(s.preview({"Male": 2}), s.reconstruction)  # moved along the direction
    s.angle = 20.0  # paste back a levelled crop: only the rotated square's pixels may change
    out = s.render({"Male": 2})
    corners = crop_matrix(s.box, 20.0) @ np.array([[0, 99, 0, 99], [0, 0, 99, 99], [1, 1, 1, 1]])
    x0, y0 = np.floor(corners.min(1)).astype(int)
    x1, y1 = np.ceil(corners.max(1)).astype(int)
    far = np.ones(img.shape[:2], bool)
    far[max(0, y0):y1 + 1, max(0, x0):x1 + 1] = False
    assert np.array_equal(out[far], img[far]) and not np.array_equal(out, img)


def test_gain_links_and_the_local_transfer(trained, monkeypatch):
    path = str(trained[3] / "icgan-t.safetensors")
    ed = FaceEditor(path, upscale=None, refine_steps=0)
    s = ed.encode(photo(seed=2), options=EditOptions(box=(50, 30, 96, 96), gain=2.0))
    ix = {a: i for i, a in enumerate(ATTRIBUTES)}
    start = s.y.clone()
    # The change of y is the asked change times the gain; an attribute nobody moved keeps y bit-exact.
    z, y = ed._latents(s, {"Smiling": 0.5, "Male": s.values["Male"]})
    assert torch.equal(z, s.z) and y[ix["Male"]] == start[ix["Male"]]
    assert y[ix["Smiling"]].item() == pytest.approx(start[ix["Smiling"]].item() + 2 * (0.5 - s.values["Smiling"]))
    assert ed._latents(s, {"Smiling": 2})[1][ix["Smiling"]] == Y_LIMIT  # clamped: far beyond, G paints noise
    # Links: blond hair makes the other colours absent, unless the user moved them as well.
    y = ed._latents(s, {"Blond_Hair": 1})[1]
    for other in ("Black_Hair", "Brown_Hair", "Gray_Hair"):
        assert y[ix[other]] <= start[ix[other]] and y[ix[other]] < 0
    assert y[ix["Bald"]] == start[ix["Bald"]]  # not linked to hair colour
    own = {"Blond_Hair": 1, "Black_Hair": s.values["Black_Hair"] + 0.25}
    assert ed.linked(s, own)["Black_Hair"] == own["Black_Hair"]
    assert ed.linked(s, {"Blond_Hair": -1}) == {"Blond_Hair": -1}  # making absent pulls nothing
    s.options = dataclasses.replace(s.options, links=False)
    assert ed.linked(s, {"Blond_Hair": 1}) == {"Blond_Hair": 1}
    # Local transfer: no change is the face itself; pixels the edit changes a lot are G's own.
    assert np.array_equal(s.preview(), s.image64)
    monkeypatch.setattr(edit_engine, "LOCAL_TAU", 1e-3)  # the tiny test net changes little: count it as much
    edited = ed._generate(*(t[None] for t in ed._latents(s, {"Eyeglasses": 2})))
    w = local_weight(edited, s.reconstruction)[0, ..., 0]
    out = s.preview({"Eyeglasses": 2})
    strong = w == 1
    # There the detail is G's and only the broad tone (blur of sigma LOCAL_TONE_SIGMA) the photo's own.
    tone = cv2.GaussianBlur(s.image64 - s.reconstruction, (0, 0), edit_engine.LOCAL_TONE_SIGMA)
    expect = np.clip(edited[0] + tone, 0, 1)
    assert strong.any() and np.allclose(out[strong], expect[strong], atol=1e-5)
    delta = s.preview({"Eyeglasses": 2}, "delta")  # per call, as the app's "subtle" box asks
    s.options = dataclasses.replace(s.options, transfer="delta")
    assert np.array_equal(delta, s.preview({"Eyeglasses": 2}))
    assert np.array_equal(out, s.preview({"Eyeglasses": 2}, "local"))
    with pytest.raises(StudioError, match="Transfer wants one of local, delta, replace, got 'paste'"):
        s.render({"Eyeglasses": 2}, transfer="paste")
    weak = w == 0
    if weak.any():
        assert np.allclose(out[weak], delta[weak], atol=1e-6)
    assert local_weight(s.reconstruction[None], s.reconstruction).max() == 0
    with pytest.raises(StudioError, match="Gain wants a number from 0.01 to 4"):
        EditOptions(gain=0)


def test_crop_matrix_and_face_weight_geometry():
    box = (10, 20, 50, 50)
    A = crop_matrix(box, 0.0)
    assert np.allclose(A @ [0, 0, 1], [10, 20]) and np.allclose(A @ [49, 49, 1], [59, 69])
    R = crop_matrix(box, 90.0)  # the crop's x axis points down the photo
    assert np.allclose(R @ [24.5, 24.5, 1], [34.5, 44.5]) and np.allclose(R[:, 0], [0, 1], atol=1e-12)
    w = face_weight(64)
    assert w[32, 32] == 1 and w[0].max() == 0 and w[:, 0].max() == 0 and w.min() == 0


def test_check_attributes_names_and_ranges(editor):
    assert editor.check_attributes({"smiling": 1, "EYEGLASSES": -2}) == {"Smiling": 1.0, "Eyeglasses": -2.0}
    with pytest.raises(StudioError, match="unknown attribute 'Beard'.*Bald, Bangs"):
        editor.check_attributes({"Beard": 1})
    for bad in (2.5, -3, float("nan")):
        with pytest.raises(StudioError, match="-2 to 2"):
            editor.check_attributes({"Smiling": bad})


def test_no_face_and_face_numbers_are_clear_errors(trained):
    ed = FaceEditor(str(trained[3] / "icgan-t.safetensors"), upscale=None)
    with pytest.raises(StudioError, match="no face found.*--box"):
        ed.run(photo(), None, EditOptions(changes=(("Smiling", 1),)))
    with pytest.raises(StudioError, match="Face wants a whole number from 1"):
        EditOptions(face=0)
    assert eye_angle(photo(), (0, 0, 150, 150)) == 0.0  # no eyes: no levelling


def test_levelling_finds_the_tilt_of_a_real_face(shared_data):
    path = shared_data / "faces" / "celebahq" / "256" / "3.jpg"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    face = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255
    face = np.pad(face, ((100, 100), (100, 100), (0, 0)), "edge")
    turn = cv2.getRotationMatrix2D((228, 228), 10, 1.0)
    tilted = cv2.warpAffine(face, turn, (456, 456), borderMode=cv2.BORDER_REFLECT_101)
    det = faces.detect_faces(tilted)[0]
    angle = eye_angle(tilted, det)
    assert -14 < angle < -6  # counter-clockwise by 10 degrees: the right eye is higher
    box = faces.crop_box_for_detection(det)
    level = cv2.warpAffine(tilted, crop_matrix(box, angle), box[2:], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    assert abs(eye_angle(level, faces.detect_faces(level)[0])) < 3


# ---------------------------------------------------------------- bench and CLI


def test_bench_on_tiny_data(trained, tmp_path, capsys):
    from studio.bench.edit import main as bench

    data, attrs, _, store = trained
    for f in store.iterdir():
        shutil.copy(f, tmp_path / f.name)  # the bench writes into the card
    model, judge = str(tmp_path / "icgan-t.safetensors"), str(tmp_path / "judge-t.safetensors")
    args = ["--faces", str(data), "--attrs", str(attrs), "--holdout", "6", "--n", "3", "--model", model,
            "--judge", judge, "--refine", "2", "--grid", str(tmp_path / "g.jpg"), "--grid-rows", "2",
            "--json", str(tmp_path / "r.json"), "--update-card", "--calibrate", "4"]
    assert bench(args) == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["n"] == 3 and set(r["per_attribute"]) == set(ATTRIBUTES)
    for key in ("ey_acc", "success_label", "kept_label", "success_latent", "success_replace", "success_plain"):
        assert 0 <= r["mean"][key] <= 1
    assert r["ms_per_edit"] > 0 and math.isfinite(r["psnr_recon_refined_db"])
    assert set(r["psnr_edit_vs_face_db"]) == {"label", "latent", "subtle", "replace", "plain"}
    assert cv2.imread(str(tmp_path / "g.jpg")).shape[1] == 2 * (2 + 20 * 66)
    card = json.loads((tmp_path / "icgan-t.json").read_text())
    assert set(card["edit_methods"]) == set(ATTRIBUTES) and "edit_success_pct" in card["metrics"]
    assert set(card["edit_gains"]) == set(ATTRIBUTES) and set(card["edit_gains"].values()) <= set(GAINS)
    assert {row["gain"] for row in r["per_attribute"].values()} <= set(GAINS)
    out = capsys.readouterr().out
    assert "| **mean** |" in out and "calibrated on 4 training faces" in out
    ed = FaceEditor(model, upscale=None)  # the editor follows the card's choices per attribute
    assert ed.methods == card["edit_methods"] and ed.gains == card["edit_gains"]


def test_calibration_picks_the_smallest_gain_the_reader_accepts(editor):
    from studio.bench.edit import calibrate

    faces = [photo(64, 64, seed=k) for k in range(2)]
    labels = -np.ones((2, len(ATTRIBUTES)), int)  # every flip asks for "present"
    everyone = lambda imgs: np.ones((len(imgs), len(ATTRIBUTES)), int)  # reads all present
    gains, rate = calibrate(editor, everyone, faces, labels)
    assert set(gains.values()) == {GAINS[0]} and rate.shape == (len(GAINS), len(ATTRIBUTES))
    nobody = lambda imgs: -np.ones((len(imgs), len(ATTRIBUTES)), int)  # never: the best (first) is kept
    assert set(calibrate(editor, nobody, faces, labels)[0].values()) == {GAINS[0]}
    assert editor.gains == dict.fromkeys(ATTRIBUTES, 1.0)  # the editor's own settings come back


def test_cli_edit_with_box_and_face_option(trained, tmp_path):
    from studio.cli import build_parser, main

    args = build_parser().parse_args(["edit", "a.png", "--set", "Smiling=1", "-o", "b.png", "--face", "2"])
    assert args.face == 2
    src = tmp_path / "in.png"
    img8 = np.round(photo() * 255).astype(np.uint8)
    Image.fromarray(img8).save(src)
    out = tmp_path / "out.png"
    code = main(["edit", str(src), "--set", "Smiling=1", "--set", "bangs=-1", "-o", str(out), "--box", "60,30,90,90",
                 "--model", str(trained[3] / "icgan-t.safetensors"), "--quiet", "--device", "cpu"])
    assert code == 0
    res = np.asarray(Image.open(out))
    outside = np.ones(res.shape[:2], bool)
    outside[30:120, 60:150] = False
    assert np.array_equal(res[outside], img8[outside])
    assert main(["edit", str(src), "--set", "Beard=1", "-o", str(out), "--quiet",
                 "--model", str(trained[3] / "icgan-t.safetensors")]) == 2
    plain = tmp_path / "plain.png"  # the paper's edit: gain 1, no links, only the change
    assert main(["edit", str(src), "--set", "Smiling=1", "-o", str(plain), "--box", "60,30,90,90", "--quiet",
                 "--model", str(trained[3] / "icgan-t.safetensors"), "--gain", "1", "--transfer", "delta",
                 "--no-links"]) == 0
    assert np.array_equal(np.asarray(Image.open(plain))[outside], img8[outside])
    for bad in (["--gain", "0"], ["--gain", "x"], ["--transfer", "paste"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["edit", str(src), "--set", "Smiling=1", "-o", str(plain), *bad])
        assert exit_info.value.code == 2
