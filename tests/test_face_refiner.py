"""The face refiner: its net, its use by the restoration and edit engines, variants, and its trainer."""

import json

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from studio.catalogue import EditOptions, InpaintOptions
from studio.engines.edit import FaceEditor, edit_region
from studio.engines.face_refine import FaceRefine
from studio.engines.inpaint_face import FaceInpainter
from studio.engines.latent_search import SearchOptions
from studio.errors import StudioError
from studio.nets.dcgan import DCGAN64
from studio.nets.face_refiner import FaceRefiner
from studio.nets.icgan import IcGAN64


def smooth_image(h, w, seed):
    rng = np.random.default_rng(seed)
    small = rng.random((h // 16 + 2, w // 16 + 2, 3)).astype(np.float32)
    return np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)


@pytest.fixture(scope="module")
def refine():
    torch.manual_seed(0)
    return FaceRefine(FaceRefiner(width=8, blocks=1))


@pytest.fixture(scope="module")
def trained_refine():
    """A refiner whose residual is not zero, so it changes what it is given."""
    torch.manual_seed(1)
    net = FaceRefiner(width=8, blocks=1)
    torch.nn.init.normal_(net.out.weight, std=0.05)
    return FaceRefine(net)


def test_an_untrained_refiner_returns_the_coarse_face_and_any_multiple_of_16_works():
    net = FaceRefiner(width=8, blocks=1)
    coarse = torch.rand(2, 3, 48, 80) * 2 - 1
    out = net(coarse, torch.rand(2, 3, 48, 80), torch.ones(2, 1, 48, 80))
    assert torch.equal(out, coarse)  # zero-initialised residual: the engine's old result to start from
    with pytest.raises(ValueError):
        FaceRefiner(width=2)


def test_the_refiner_sees_the_known_pixels_but_not_the_blanked_ones(trained_refine):
    net = trained_refine.net
    coarse = torch.zeros(1, 3, 64, 64)
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:48, 16:48] = 1
    a = torch.rand(1, 3, 64, 64)
    b = a.clone()
    b[..., 16:48, 16:48] = torch.rand(1, 3, 32, 32)  # differs only where the mask blanks it
    with torch.no_grad():
        assert torch.equal(net(coarse, a, mask), net(coarse, b, mask))
        c = a.clone()
        c[..., :8, :8] = 0  # a known pixel changed: the output changes
        assert not torch.equal(net(coarse, a, mask), net(coarse, c, mask))


def _dcgan():
    """A tiny random DCGAN whose faces differ visibly from z to z (DCGAN's own init barely does)."""
    torch.manual_seed(0)
    net = DCGAN64(ngf=8, ndf=8, nef=8).eval()
    for m in net.generator.modules():
        if isinstance(m, torch.nn.ConvTranspose2d):
            torch.nn.init.normal_(m.weight, std=0.15)
    return net


def test_restoration_with_the_refiner_changes_only_the_hole_and_fills_it_with_the_gan_face(refine):
    img = smooth_image(96, 128, 0)
    mask = np.zeros(img.shape[:2], np.float32)
    mask[30:60, 50:80] = 1
    eng = FaceInpainter(_dcgan(), search=SearchOptions(steps=3, random_starts=4), upscale=None, refiner=refine,
                        feather=2)
    out = eng.run(img, mask, InpaintOptions(seed=1, box=(30, 10, 80, 80)))
    near = cv2.dilate(mask, np.ones((5, 5), np.uint8)) > 0  # the mask plus its 2-px feather
    assert np.array_equal(out[~near], img[~near])
    assert np.abs(out[35:55, 55:75] - img[35:55, 55:75]).mean() > 0.02  # the hole was repainted


def test_variants_are_different_fills_of_the_same_hole(refine):
    img = smooth_image(64, 64, 2)
    mask = np.zeros((64, 64), np.float32)
    mask[16:48, 16:48] = 1
    eng = FaceInpainter(_dcgan(), search=SearchOptions(steps=3, random_starts=8), upscale=None, refiner=refine)
    outs = eng.run_variants(img, mask, InpaintOptions(seed=0, box=(0, 0, 64, 64), variants=3))
    assert len(outs) == 3
    for o in outs[1:]:
        assert np.abs(o - outs[0])[20:44, 20:44].mean() > 1e-3
        assert np.array_equal(o[mask == 0][:10], outs[0][mask == 0][:10])
    best = eng.run(img, mask, InpaintOptions(seed=0, box=(0, 0, 64, 64), variants=3))
    np.testing.assert_allclose(best, outs[0], atol=1e-5)  # run() is the best variant (batch rounding aside)


def _icgan():
    torch.manual_seed(0)
    net = IcGAN64(ngf=8, ndf=8, nef=8, ney=8).eval()
    for m in net.generator.modules():  # visible edits from a random generator (see _dcgan)
        if isinstance(m, torch.nn.ConvTranspose2d):
            torch.nn.init.normal_(m.weight, std=0.15)
    return net


def test_edit_region_is_empty_without_a_change_and_covers_a_changed_patch():
    rec = np.full((64, 64, 3), 0.5, np.float32)
    assert not edit_region(rec, rec).any()
    gen = rec.copy()
    gen[40:50, 20:44] += 0.3
    region = edit_region(gen, rec)
    assert region[45, 30] == 1 and region[5, 5] == 0
    assert region[38, 30] > 0  # grown past the change, so the refiner sees its edges


def test_an_edit_through_the_refiner_keeps_every_pixel_outside_its_region(trained_refine):
    img = smooth_image(120, 160, 3)
    ed = FaceEditor(_icgan(), upscale=None, refine_steps=0, refiner=trained_refine)
    session = ed.encode(img, options=EditOptions(changes=(("Smiling", 1.0),), box=(40, 20, 80, 80)))
    assert np.array_equal(session.render(session.values), img)  # nothing moved: nothing changes
    name = ed.attributes[0]
    out = session.render({**session.values, name: 2.0})
    changed = np.abs(out - img).sum(2) > 0
    assert changed.any()
    gen = ed._generate(*(t[None] for t in ed._latents(session, {**session.values, name: 2.0})))[0]
    region = cv2.resize(edit_region(gen, session.reconstruction), (80, 80), interpolation=cv2.INTER_LANCZOS4)
    inside = np.zeros(img.shape[:2], bool)
    inside[20:100, 40:120] = region > 0
    assert not changed[~inside].any()


def test_cli_variants_write_numbered_files(tmp_path):
    from studio.cli import main

    img = (smooth_image(96, 96, 4) * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "face.png")
    m = np.zeros((96, 96), np.uint8)
    m[30:60, 30:60] = 255
    Image.fromarray(m).save(tmp_path / "mask.png")
    rc = main(["inpaint", str(tmp_path / "face.png"), str(tmp_path / "mask.png"), "-o", str(tmp_path / "out.png"),
               "--engine", "face", "--box", "0,0,96,96", "--steps", "3", "--variants", "3", "--seed", "1", "--quiet"])
    assert rc == 0
    outs = [np.asarray(Image.open(tmp_path / n)) for n in ("out.png", "out-2.png", "out-3.png")]
    assert not np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[1], outs[2])
    assert not (tmp_path / "out-4.png").exists()


def test_trainer_smoke_run_resumes_and_exports_a_loadable_refiner(tmp_path):
    from studio.checkpoints import load_model
    from studio.train import face_refiner as trainer

    data, masks = tmp_path / "faces", tmp_path / "masks"
    data.mkdir()
    masks.mkdir()
    for i in range(1, 15):
        Image.fromarray((smooth_image(256, 256, i) * 255).astype(np.uint8)).save(data / f"{i}.jpg")
    hole = np.zeros((64, 64), np.uint8)
    hole[10:30, 5:60] = 255
    Image.fromarray(hole).save(masks / "10_a.png")
    base = ["--data", str(data), "--masks", str(masks), "--out", str(tmp_path / "run"), "--val-holdout", "4",
            "--batch", "2", "--width", "8", "--blocks", "1", "--critic-width", "8", "--adv-start", "1",
            "--val-every", "2", "--threads", "2", "--fit-steps", "2"]
    trainer.main(base + ["--max-steps", "2"])
    assert (tmp_path / "run" / "coarse.npz").is_file()  # the GAN faces are computed once per run folder
    trainer.main(base + ["--max-steps", "3", "--export", str(tmp_path / "store" / "face-refiner")])
    log = (tmp_path / "run" / "train.log").read_text()
    assert "resumed" in log and "val step 2" in log
    net, info = load_model(str(tmp_path / "store" / "face-refiner.safetensors"))
    card = json.loads((tmp_path / "store" / "face-refiner.json").read_text())
    assert card["training"]["steps"] == 3 and "non-commercial" in card["license"]
    assert isinstance(net, FaceRefiner) and net.config == {"width": 8, "blocks": 1}
    # --init: a new run folder (another machine) continues from the exported weights
    shipped = str(tmp_path / "store" / "face-refiner.safetensors")
    again = [a if a != str(tmp_path / "run") else str(tmp_path / "run2") for a in base]
    trainer.main(again + ["--max-steps", "1", "--lr", "0", "--init", shipped,
                          "--export", str(tmp_path / "store" / "next")])
    net2, _ = load_model(str(tmp_path / "store" / "next.safetensors"))
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), net2.state_dict().values()))
    card2 = json.loads((tmp_path / "store" / "next.json").read_text())
    assert card2["initialised_from"]["steps"] == 3
    with pytest.raises(StudioError, match="needs a face-refiner"):
        wider = [{"8": "16", str(tmp_path / "run2"): str(tmp_path / "run3")}.get(a, a) for a in again]
        trainer.main(wider + ["--max-steps", "1", "--init", shipped])


def test_an_attributes_zone_is_its_footprint_computed_once_the_same_everywhere():
    ed = FaceEditor(_icgan(), upscale=None, refine_steps=0, refiner=None)
    zone = ed.zone(["Blond_Hair"], 1.0)
    assert zone.shape == (64, 64) and zone.dtype == np.float32
    assert zone.max() == pytest.approx(1.0) and zone.min() >= 0 and zone.min() < 0.9  # a map, not a constant
    again = FaceEditor(_icgan(), upscale=None, refine_steps=0, refiner=None).zone(["Blond_Hair"], 1.0)
    assert np.array_equal(zone, again)  # seeded: region() and render() of any session agree
    both = ed.zone(["Blond_Hair", "Smiling"], 1.0)
    assert (both >= zone).all() and ed.zone([]) is None
    assert (ed.zone(["Smiling"]) >= ed.zone(["Smiling"], 1.0)).all()  # ZONE_FULL < 1: counts fully sooner
    ed.zones = False
    assert ed.zone(["Smiling"]) is None


def test_a_zone_keeps_the_region_where_the_attribute_lives():
    rec = np.full((64, 64, 3), 0.5, np.float32)
    gen = rec.copy()
    gen[10:50, 10:50] += 0.4
    zone = np.zeros((64, 64), np.float32)
    zone[:, :32] = 1
    region = edit_region(gen, rec, zone)
    assert region[30, 15] == 1 and region[30, 45] == 0


def _synthetic_face(side=128):
    """A face square framed like CelebA-HQ: textured dark hair on top and at the sides, skin in
    the middle (where skin_distance looks for the cheeks), a dark blue background beside the hair
    (as dark as the hair: only its hue tells them apart)."""
    rng = np.random.default_rng(0)
    img = np.empty((side, side, 3), np.float32)
    img[...] = (0.12, 0.16, 0.35)
    yy, xx = np.mgrid[0:side, 0:side] / side
    face = ((xx - 0.5) / 0.25) ** 2 + ((yy - 0.6) / 0.3) ** 2 <= 1
    hair = (((xx - 0.5) / 0.4) ** 2 + ((yy - 0.45) / 0.42) ** 2 <= 1) & ~face
    img[face] = (0.85, 0.62, 0.5)
    img[hair] = np.array([0.25, 0.16, 0.1]) + rng.normal(0, 0.05, (hair.sum(), 1))  # strands
    return np.clip(img, 0, 1).astype(np.float32), face, hair


def test_the_hair_mask_follows_the_hair_not_the_skin_or_the_background():
    from studio.engines import recolour

    img, face, hair = _synthetic_face()
    prior = np.zeros((64, 64), np.float32)
    yy, xx = np.mgrid[0:64, 0:64] / 64
    prior[(((xx - 0.5) / 0.48) ** 2 + ((yy - 0.45) / 0.5) ** 2 <= 1)] = 1.0  # the GAN changes hair, face and some background
    mask = recolour.hair_mask(img, prior)
    background = ~hair & ~face
    assert mask[hair].mean() > 0.8
    assert mask[face].mean() < 0.1 and mask[background].mean() < 0.1
    far = cv2.resize(prior, (128, 128)) < recolour.SURE_NOT
    assert (mask[far] == 0).all()  # never beyond the prior: those pixels stay the photo's
    bald = img.copy()
    bald[hair] = (0.85, 0.62, 0.5)
    bald[4:10, 60:68] = (0.3, 0.2, 0.15)  # a small shadow on the scalp is no head of hair
    assert recolour.hair_mask(bald, prior).max() == 0


def test_recolouring_moves_the_hair_to_the_target_colour_and_keeps_its_strands():
    from studio.engines import recolour

    img, face, hair = _synthetic_face()
    mask = hair.astype(np.float32)
    out = recolour.recolour(img, mask, "Blond_Hair")
    lab = lambda a: cv2.cvtColor(a, cv2.COLOR_RGB2LAB)[hair]  # noqa: E731
    target = recolour.HAIR_LAB["Blond_Hair"][0]
    assert np.abs(np.median(lab(out), 0) - target).max() < 2.0  # the median becomes real blond's
    assert (out[~hair] == img[~hair]).all()
    inner = cv2.erode(hair.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    detail = lambda a: (a - cv2.GaussianBlur(a, (0, 0), 3))[inner].std()  # noqa: E731
    assert detail(out) > 1.2 * detail(img)  # the strands stay, their contrast grows with the lightness
    chroma = lambda a: cv2.cvtColor(a, cv2.COLOR_RGB2LAB)[inner][:, 1:].std(0)  # noqa: E731
    assert (chroma(out) <= chroma(img) + 0.5).all()  # colour noise is not amplified into streaks
    half = recolour.recolour(img, mask, "Blond_Hair", 0.5)
    assert np.allclose(half, (img + out) / 2, atol=1e-5)
    assert np.array_equal(recolour.recolour(img, mask, "Blond_Hair", 0.0), img)


def test_a_hair_colour_edit_recolours_and_keeps_every_pixel_outside_its_region(trained_refine):
    img = smooth_image(120, 160, 5)
    ed = FaceEditor(_icgan(), upscale=None, refine_steps=0, refiner=trained_refine)
    session = ed.encode(img, options=EditOptions(box=(40, 20, 80, 80)))
    values = {**session.values, "Blond_Hair": 2.0}
    assert session.recolours(values) and session.recolours(values, "delta")
    assert not session.recolours({**session.values, "Smiling": 2.0}) and not session.recolours(values, "replace")
    out = session.render(values)
    changed = np.abs(out - img).sum(2) > 0
    area = session.changed_area(values)
    assert changed.any() and not changed[~area].any()
    inside = np.zeros(img.shape[:2], bool)
    inside[20:100, 40:120] = session.region(values, 80) > 0
    assert not (inside & ~area).any()  # the face square's part of it is region()
    beyond = area.copy()
    beyond[20:100, 40:120] = False
    assert beyond.any() and not area[:, :18].any()  # hair beyond the face square, within the 20-px margin
    assert session.hair_target(values)[0] == "Blond_Hair"
    # the live preview shows what the render does: the recoloured face square at 64 px
    face64 = cv2.resize(out[20:100, 40:120], (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(session.preview(values) - face64).max() < 1e-3
    session.values.update(Black_Hair=0.6, Blond_Hair=-1.0, Brown_Hair=-0.5, Gray_Hair=-1.0)
    assert session.hair_target({"Black_Hair": 0.1}) == ("Brown_Hair", 0.5)  # no colour left: the commonest
    session.values.update(Gray_Hair=0.3)
    assert session.hair_target({"Black_Hair": -1.0})[0] == "Gray_Hair"  # the encoder reads some grey



def test_hair_colour_is_recoloured_without_a_refiner_and_when_subtle():
    img = smooth_image(120, 160, 5)
    ed = FaceEditor(_icgan(), upscale=None, refine_steps=0, refiner=None)
    session = ed.encode(img, options=EditOptions(box=(40, 20, 80, 80)))
    values = {**session.values, "Blond_Hair": 2.0}
    assert not session.refined() and session.recolours(values, "delta")
    out = session.render(values, transfer="delta")
    changed = np.abs(out - img).sum(2) > 0
    assert changed.any() and not changed[~session.changed_area(values)].any()
    assert not FaceEditor(_icgan(), upscale=None, refine_steps=0, refiner=None, zones=False).encode(
        img, options=EditOptions(box=(40, 20, 80, 80))).recolours(values)  # the old engine, as the bench's "old"


def _glasses_on(rec, dark=0.2, centres=((22, 31), (42, 31)), a=6.0, b=4.5):
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    gen = rec.copy()
    for cx, cy in centres:
        gen[((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 <= 1] = dark
    return gen


def test_the_generators_lenses_give_the_drawn_glasses_their_place_size_and_tint():
    from studio.engines import glasses

    rec = np.full((64, 64, 3), 0.6, np.float32)
    lenses = glasses.find_lenses(_glasses_on(rec), rec)
    assert abs(lenses.left[0] - 22) < 1 and abs(lenses.right[0] - 42) < 1 and abs(lenses.left[1] - 31) < 1
    assert 5 < lenses.half_width < 7 and lenses.half_height < lenses.half_width
    assert abs(lenses.transmission - 0.2 / 0.6) < 0.05  # sunglasses as dark as the generator's
    assert glasses.find_lenses(_glasses_on(rec, dark=0.5), rec).transmission == 1.0  # faint: clear lenses
    assert glasses.find_lenses(rec, rec) is None  # nothing drawn
    assert glasses.find_lenses(_glasses_on(rec, centres=((22, 31),)), rec) is None  # one dark eye is no glasses
    tilted = glasses.find_lenses(_glasses_on(rec, centres=((22, 30), (42, 33))), rec)
    assert tilted.left[1] == tilted.right[1]  # the face square is levelled: so are the glasses


def test_drawn_glasses_darken_the_lenses_frame_them_and_leave_every_other_pixel():
    from studio.engines import glasses

    face = smooth_image(256, 256, 3) * 0.5 + 0.4
    lenses = glasses.Lenses((22.0, 31.0), (42.0, 31.0), 6.0, 4.5, 0.3)
    out, weight = glasses.draw(face, lenses)
    assert np.array_equal(out[weight == 0], face[weight == 0]) and (weight > 0).mean() < 0.15
    centre = (out[124, 86] / face[124, 86]).mean()  # the left lens's centre: seen through the lens
    assert 0.2 < centre < 0.55  # t = 0.3, darker at the top, plus a faint glint
    rim_x = int(round((22 - 6 + 0.5) * 4 - 0.5))  # the left lens's outer edge, at its height
    assert out[124, rim_x - 1:rim_x + 2].mean() < 0.2  # a dark frame
    assert weight[124, 128] == 0 or out[124, 128].mean() < face[124, 128].mean()  # the nose between: bridge above it
    assert weight[200:, :].max() == 0 and weight[:60, :].max() == 0  # nothing far from the eyes
    half, _ = glasses.draw(face, lenses, 0.5)
    assert np.allclose(half, (face + out) / 2, atol=1e-5)
    assert np.array_equal(glasses.draw(face, lenses, 0.0)[0], face)


def test_an_edit_that_adds_glasses_draws_them_and_keeps_every_pixel_outside(trained_refine):
    from studio.engines import glasses

    img = smooth_image(120, 160, 5)
    ed = FaceEditor(_icgan(), upscale=None, refine_steps=0, refiner=trained_refine)
    session = ed.encode(img, options=EditOptions(box=(40, 20, 80, 80)))
    session.values["Eyeglasses"] = -0.8
    session._drawings["Eyeglasses"] = glasses.Lenses((22.0, 31.0), (42.0, 31.0), 6.0, 4.5, 0.3)  # the random G draws none
    values = {"Eyeglasses": 1.0}
    assert session.draws(values) == "Eyeglasses" and session.draws(values, "delta") == "Eyeglasses"
    assert not session.draws({"Eyeglasses": -1.0}) and not session.draws(values, "replace")
    assert not session.draws({"Eyeglasses": 1.0, "Smiling": 2.0})  # with other edits: the refiner's
    out = session.render(values)
    changed = np.abs(out - img).sum(2) > 0
    assert changed.any() and not changed[~session.changed_area(values)].any()
    lens = np.s_[20 + 35:20 + 42, 40 + 24:40 + 31]  # the left lens's middle (1.25 photo px per 64-px px)
    assert out[lens].mean() < 0.6 * img[lens].mean()
    face64 = cv2.resize(out[20:100, 40:120], (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(session.preview(values) - face64).max() < 1e-3  # the preview shows the render
    half = session.render({"Eyeglasses": -0.4})  # a move of 0.4 draws them 0.4 of the way in
    assert 0.3 < np.abs(half - img).sum() / np.abs(out - img).sum() < 0.5
    session.values["Eyeglasses"] = 0.5  # a face read with glasses: no second pair drawn on them
    assert not session.draws({"Eyeglasses": 2.0})


def test_the_refined_region_stays_where_the_editors_encoder_reads_the_attribute(trained_refine):
    img = smooth_image(96, 96, 7)
    ed = FaceEditor(_icgan(), upscale=None, refine_steps=0, refiner=trained_refine)
    session = ed.encode(img, options=EditOptions(box=(0, 0, 96, 96)))
    values = {"Smiling": 2.0 if session.values["Smiling"] < 0 else -2.0}
    assert session.region(values)[:32].any()  # the random generator changes the top half too
    i = ed.attributes.index("Smiling")
    read = np.full((64, 64), 0.2, np.float32)  # faintly everywhere (below ZONE_FLOOR of the peak)...
    read[40:56, 16:48] = 1.0  # ...and at the mouth
    ed._readings[i] = read
    region = session.region(values)
    assert region.any() and not region[:32].any()
    out = session.render(values)
    assert np.array_equal(out[:40], img[:40])  # the eyes stay the photo's (region grown by 3 px, feathered)


def _face_with_lips(side=256):
    """A face square of skin with dark brows and red lips where CelebA-HQ framing puts them."""
    rng = np.random.default_rng(2)
    img = np.empty((side, side, 3), np.float32)
    img[...] = (0.85, 0.64, 0.52)
    img += rng.normal(0, 0.01, img.shape).astype(np.float32)
    yy, xx = np.mgrid[0:side, 0:side] / side
    lips = ((xx - 0.5) / 0.1) ** 2 + ((yy - 0.76) / 0.03) ** 2 <= 1
    img[lips] = (0.75, 0.3, 0.32)
    for cx in (0.35, 0.65):
        img[(np.abs(xx - cx) < 0.08) & (np.abs(yy - 0.38) < 0.012)] = (0.25, 0.15, 0.1)
    return np.clip(img, 0, 1), lips


def test_a_drawn_mustache_sits_on_the_upper_lip_in_the_brows_colour():
    from studio.engines import facial_hair

    face, lips = _face_with_lips()
    top, left, right = facial_hair.upper_lip(face)
    assert abs(left - 0.4 * 256) < 4 and abs(right - 0.6 * 256) < 4
    assert abs(top[len(top) // 2] - 0.73 * 256) < 3  # the lips' top edge in the middle
    assert np.abs(facial_hair.hair_colour(face) - (0.25, 0.15, 0.1)).max() < 0.03
    rec = np.full((64, 64, 3), 0.6, np.float32)
    gen = rec.copy()
    gen[43:47, 24:40] = 0.3  # the generator darkens the upper lip
    assert facial_hair.find_region(rec, rec) is None
    mask = facial_hair.find(gen, rec, None, face)
    out, weight = facial_hair.draw(face, mask)
    changed = np.abs(out - face).sum(2) > 0
    assert changed.any() and not changed[weight == 0].any()
    rows = np.flatnonzero(changed[:, 118:138].any(1))  # the middle of the mouth
    reach = (facial_hair.THICKNESS[1] + 1.3 * facial_hair.HAIR_LENGTH) * 256  # its height, the hairs' tips
    assert rows.max() <= 0.73 * 256 + 3 and rows.min() >= 0.73 * 256 - reach - 2  # on the lip, not over it
    assert out[changed].mean() < face[changed].mean() - 0.15  # dark hairs
    assert not changed[:150].any() and not changed[210:].any()
    assert np.array_equal(facial_hair.draw(face, mask, 0.0)[0], face)
    plain = np.full_like(face, 0.8)  # no lips to see: the mouth starts where the generator's hair stops
    rows = np.flatnonzero(facial_hair.find(gen, rec, None, plain)[:, 120:136].any(1))
    assert abs(rows.max() - 47 / 64 * 256) <= 5  # within a pixel of the 64-px map
    assert facial_hair.find(rec, rec, None, face) is None  # the generator grows none: nothing to draw
    hand = plain.copy()
    hand[216:232, 100:156] = (0.8, 0.35, 0.35)  # a red patch on the chin, far below the generator's mouth
    rows = np.flatnonzero(facial_hair.find(gen, rec, None, hand)[:, 120:136].any(1))
    assert abs(rows.max() - 47 / 64 * 256) <= 5  # not on the chin


def test_an_edit_that_adds_a_mustache_draws_it_and_keeps_every_pixel_outside(trained_refine):
    from studio.engines import facial_hair

    img = smooth_image(300, 300, 9) * 0.2 + 0.4
    face, _ = _face_with_lips(200)
    img[50:250, 50:250] = face
    ed = FaceEditor(_icgan(), upscale=None, refine_steps=0, refiner=trained_refine)
    session = ed.encode(img, options=EditOptions(box=(50, 50, 200, 200)))
    session.values["Mustache"] = -0.9
    rec = np.full((64, 64, 3), 0.6, np.float32)
    gen = rec.copy()
    gen[43:47, 24:40] = 0.3
    session._drawings["Mustache"] = facial_hair.find(gen, rec, None, session.crop)
    values = {"Mustache": 1.0}
    assert session.draws(values) == "Mustache"
    out = session.render(values)
    changed = np.abs(out - img).sum(2) > 0
    assert changed.any() and not changed[~session.changed_area(values)].any()
    assert not changed[:50 + 110].any() and not changed[50 + 160:].any()  # round the upper lip only
    face64 = cv2.resize(out[50:250, 50:250], (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(session.preview(values) - face64).max() < 1e-3


def test_drawn_glasses_sit_on_the_photos_own_eyes_when_they_are_found(monkeypatch):
    from studio.engines import faces, glasses

    rec = np.full((64, 64, 3), 0.6, np.float32)
    gen = _glasses_on(rec)  # the generator's lenses at x 22 and 42, y 31
    face = np.full((256, 256, 3), 0.7, np.float32)
    monkeypatch.setattr(faces, "eye_centres", lambda rgb, box: None)
    assert glasses.find(gen, rec, None, face) == glasses.find_lenses(gen, rec)  # no eyes found: the generator's
    monkeypatch.setattr(faces, "eye_centres", lambda rgb, box: ((78.0, 122.0), (150.0, 126.0)))  # a face turned aside
    lenses = glasses.find(gen, rec, None, face)
    assert abs(lenses.left[0] - (78.5 / 4 - 0.5)) < 0.01 and abs(lenses.right[0] - (150.5 / 4 - 0.5)) < 0.01
    assert lenses.left[1] == lenses.right[1] and 30 < lenses.left[1] < 32
    assert lenses.right[0] - lenses.left[0] - 2 * lenses.half_width >= glasses.MIN_GAP * 64 - 1e-6  # room for the bridge
    monkeypatch.setattr(faces, "eye_centres", lambda rgb, box: ((80.0, 40.0), (160.0, 40.0)))  # brows, not eyes
    assert glasses.find(gen, rec, None, face) == glasses.find_lenses(gen, rec)


def test_a_lighter_target_leaves_skin_in_the_masks_edge_alone_but_moves_the_hairs_shine():
    from studio.engines import recolour

    rng = np.random.default_rng(3)
    img = np.clip(np.array([0.08, 0.06, 0.05]) + rng.normal(0, 0.02, (64, 64, 1)), 0, 1).astype(np.float32)  # black hair
    img[10:14, 10:30] = (0.85, 0.62, 0.5)  # the forehead's edge, caught in the mask's feather
    img[40:44, 10:30] = (0.55, 0.55, 0.56)  # the hair's grey shine
    mask = np.ones((64, 64), np.float32)
    out = recolour.recolour(img, mask, "Blond_Hair")
    assert np.abs(out[10:14, 10:30] - img[10:14, 10:30]).max() < 0.02  # no glowing rim
    assert np.abs(out[40:44, 10:30] - img[40:44, 10:30]).mean() > 0.05  # shine is hair: it goes blond
    assert np.abs(out[30:38, 40:60] - img[30:38, 40:60]).mean() > 0.2  # and so does the hair


def test_a_large_faces_drawn_preview_is_drawn_small_and_looks_like_its_render(trained_refine):
    from studio.engines import edit, glasses

    img = smooth_image(400, 400, 11) * 0.5 + 0.3
    ed = FaceEditor(_icgan(), upscale=None, refine_steps=0, refiner=trained_refine)
    session = ed.encode(img, options=EditOptions(box=(0, 0, 400, 400)))
    session.values["Eyeglasses"] = -0.9
    session._drawings["Eyeglasses"] = glasses.Lenses((22.0, 31.0), (42.0, 31.0), 6.0, 4.5, 0.3)
    values = {"Eyeglasses": 1.0}
    small, _ = session.drawn_face(values, edit.DRAWN_PREVIEW)
    assert small.shape[0] == edit.DRAWN_PREVIEW
    face64 = cv2.resize(session.render(values), (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(session.preview(values) - face64).mean() < 0.01
