"""Face attribute editing with IcGAN on photos of any size.

encode: find the face (or take the user's square), level it by the eyes, crop it to 64x64 and
encode it once: z = E_z(x) (optionally refined by a few gradient steps on |G(z, y) - x|),
y = E_y(x). An edit is then one generator pass: G(z, y') with the chosen attributes set
("label" method, the IcGAN edit) or G(z + shift along a stored latent direction, y) ("latent"
method); the card may name the better method per attribute (measured by `studio bench edit`).

Values: +1 = attribute present, -1 = absent, as in the label file; sliders reach +-2 to
exaggerate. A face's start value is 2*sigmoid(logit) - 1 of E_y's logit (in (-1, 1): the
classifier's confidence), which is also exactly the y the generator gets for "no change".

Gain: a generator trained briefly follows y only weakly (at y = +-1 most edits are too faint
to read), so a moved attribute gets y' = y + gain * (value - y), like a guidance scale. The
card's `edit_gains` holds one gain per attribute, calibrated on training faces with E_y by
`studio bench edit --calibrate`; cards without it get 1 (the plain IcGAN edit).

Links: making a hair colour present makes the other hair colours absent (and likewise bald vs.
bangs, straight vs. wavy hair), unless the user set those too: "blond and black hair" is no
face the generator has seen, and users mean "make it blond".

Transfer ("local", the default): the photo gets the CHANGE the generator makes,
x + G(z, y') - G(z, y), so the face keeps its identity and full resolution and an edit that
changes nothing changes no pixel; where the edit changes the face strongly (new glasses, hair
of another colour) those pixels are taken from G(z, y') itself, where adding a difference to a
face that differs from the reconstruction would leave the old attribute showing through (only
the detail is taken: the broad colours stay the photo's, as G's skin tones are often off).
"delta" is the pure difference everywhere; "replace" pastes G(z, y') itself. With the face
refiner installed (face_refine.py), "local" instead has the refiner repaint, at 256 px, the
region where the edit changes the face (weighted by where each moved attribute lives: its
zone), from G(z, y') and the rest of the photo's face: the changed parts are drawn in the
photo's own detail and every pixel outside the region is the photo's, bit for bit; a hair
colour edit instead recolours the photo's own hair (recolour.py), and an edit that adds glasses
or a mustache draws them where the generator puts them (glasses.py, facial_hair.py), in the
preview as well.
Without the refiner, the change is
brought to full size by the face super-resolution model when installed (else Lanczos), rotated
back and blended with a soft ellipse inside the face square: every pixel outside it is
returned exactly.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from studio.catalogue import EditOptions
from studio.engines import facial_hair, faces, glasses, recolour
from studio.engines.masks import composite
from studio.errors import StudioError
from studio.jobs import Job, quiet_job

VALUE_LIMIT = 2.0
METHODS = ("label", "latent")
Y_LIMIT = 4.0  # the generator's y after the gain: it was trained on +-1, and far beyond faces fall apart
LOCAL_TAU = 0.2  # "local" transfer: summed RGB change (in [0, 1] units) at which G's pixels win outright
LOCAL_SIGMA = 1.5  # blur of that change map at 64 px, so the switch has no hard edges
LOCAL_TONE_SIGMA = 8.0  # ...though the face keeps its own colours at this scale (G's skin tones are off)
# With the face refiner, the region it repaints: where the edit's blurred summed RGB change at
# 64 px exceeds REGION_TAU, grown by REGION_GROW px (the refiner needs the region's edges), soft
# at its border over REGION_SOFT px of the 64-px grid.
# Without zones, 0.1 let a smile take 55 % of the face square (IcGAN moves everything a little);
# weighted by the attribute's zone, 0.1 keeps the region where the attribute lives and edits
# read more strongly than at 0.15 (judge success 68.6 vs 66.2 %, 30 held-out faces).
REGION_TAU = 0.1
REGION_GROW = 3
REGION_SOFT = 1.0
# Each attribute's footprint ("zone"): where the generator changes a face when that attribute
# flips, averaged over ZONE_SAMPLES seeded random faces (correlates 0.8-0.97 with the same map
# over encoded CelebA faces). The change map is weighted by it, so an edit repaints where its
# attribute lives (the mouth and cheeks for a smile, the eye band for glasses), not the eyes or
# the jaw that the 64-px generator also moves in passing.
ZONE_SAMPLES = 64
ZONE_SIGMA = 2.0
ZONE_FULL = 0.5  # the zone counts fully above this share of its peak
ZONE_SEED = 0
# The refiner's region is weighted by the footprint times where the editor's own attribute
# encoder E_y reads the attribute (its mean input gradient over the same random faces): IcGAN's
# smile moves the eyes, the hair and the jaw as well (a footprint over 38 % of the square), so a
# smile repainted the whole face into another person; E_y reads a smile at the mouth and the
# cheeks. Smiling's realism distance fell from 59.1 to 48.2, Mustache's from 66.1 to 51.0, at
# the same success (30 held-out faces).
READ_SIGMA = 2.0
# ...and never where that product is under ZONE_FLOOR of its peak: where a photo's face differs
# from its reconstruction (a poor fit) the change there is large enough to pass anyway, and a
# smile took the eyes with it (the astronaut, Smiling=-1; the first bench face's smile gave it a
# dark eye). Smiling's realism 48.2 -> 47.3, Bangs' 63.0 -> 60.4, Male's 72.4 -> 64.2 at success
# 67 -> 60 % (30 held-out faces).
ZONE_FLOOR = 0.25
# Making the key attribute present makes these absent (unless the user set them as well).
LINKS = {
    "Black_Hair": ("Blond_Hair", "Brown_Hair", "Gray_Hair"),
    "Blond_Hair": ("Black_Hair", "Brown_Hair", "Gray_Hair"),
    "Brown_Hair": ("Black_Hair", "Blond_Hair", "Gray_Hair"),
    "Gray_Hair": ("Black_Hair", "Blond_Hair", "Brown_Hair"),
    "Bald": ("Bangs", "Straight_Hair", "Wavy_Hair", "Receding_Hairline"),
    "Bangs": ("Bald",),
    "Receding_Hairline": ("Bald",),
    "Straight_Hair": ("Wavy_Hair", "Bald"),
    "Wavy_Hair": ("Straight_Hair", "Bald"),
}
# Colour edits: recoloured in the photo's own detail (recolour.py) instead of repainted.
HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")
PRIOR_COLOURS = ("Blond_Hair", "Black_Hair")
# Attributes drawn at the photo's size where the generator puts them, when added alone to a
# face read without them, instead of repainted (the 64-px generator draws them as smudges):
# the module (find, draw) and whether its zone is the encoder-read one.
DRAWN = {"Eyeglasses": (glasses, False), "Mustache": (facial_hair, True)}
DRAWN_PREVIEW = 256  # px: slider previews draw on the face square brought down to this
HAIR_MARGIN = 0.25  # hair is recoloured up to this share of the face side beyond the face square
RECOLOUR_FULL = 1.0  # a slider move this large gives the target colour in full (as does a slider at +-1)
REFINE_STEPS = 15  # z refinement steps at encode; a card's edit.refine_steps overrides it
REFINE_LR = 0.05
Z_LIMIT = 3.0


def _resize(img: np.ndarray, side: int, *, clip: bool) -> np.ndarray:
    if img.shape[0] == side:
        out = img
    else:
        interp = cv2.INTER_AREA if side < img.shape[0] else cv2.INTER_LANCZOS4
        out = cv2.resize(img, (side, side), interpolation=interp)
    return (np.clip(out, 0, 1) if clip else out).astype(np.float32)


def local_weight(gen: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """(N, 64, 64, 1) in [0, 1]: how strongly each pixel of the edits `gen` changed from the
    reconstruction (0 where nothing changed, so an unchanged face stays bit-exact)."""
    change = np.abs(gen - rec[None]).sum(3)
    blurred = np.stack([cv2.GaussianBlur(c, (0, 0), LOCAL_SIGMA) for c in change])
    return np.clip(blurred / LOCAL_TAU, 0, 1)[..., None].astype(np.float32)


def _reach(before: float, after: float) -> float:
    """How far (0-1) an attribute moved from `before` to `after`: the slider's move (RECOLOUR_FULL
    = in full), and at least how far it now stands on the side it moved to (at -1, "not blond"
    in full even where the encoder read the hair as barely blond)."""
    d = after - before
    return 0.0 if d == 0 else float(min(1.0, max(abs(d) / RECOLOUR_FULL, np.sign(d) * after)))


def edit_region(gen: np.ndarray, rec: np.ndarray, zone: np.ndarray | None = None) -> np.ndarray:
    """(64, 64) float32 in [0, 1]: where the edit `gen` changes the reconstruction `rec`
    enough for the refiner to repaint it (0 everywhere when nothing changed); `zone` (64x64 in
    [0, 1], the moved attributes' footprint) weights the change first."""
    change = cv2.GaussianBlur(np.abs(gen - rec).sum(2), (0, 0), LOCAL_SIGMA)
    if zone is not None:
        change = change * zone
    region = (change > REGION_TAU).astype(np.uint8)
    if not region.any():
        return np.zeros(change.shape, np.float32)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * REGION_GROW + 1,) * 2)
    region = cv2.dilate(region, k).astype(np.float32)
    return np.clip(cv2.GaussianBlur(region, (0, 0), REGION_SOFT) * 2, 0, 1) * (region > 0)


@dataclass
class EditSession:
    """One encoded face. values: the start value of every attribute (-2..2); box: the face
    square in photo pixels (before levelling by `angle` degrees)."""

    editor: "FaceEditor"
    rgb: np.ndarray
    box: faces.Box
    angle: float
    image64: np.ndarray  # the model's input: the levelled crop at 64x64, float32 [0, 1]
    values: dict[str, float]
    z: torch.Tensor = field(repr=False)
    y: torch.Tensor = field(repr=False)
    reconstruction: np.ndarray = field(repr=False)  # G(z, y), float32 [0, 1]
    options: EditOptions = field(default_factory=EditOptions)  # transfer, gain and links of its edits
    crop: np.ndarray | None = field(default=None, repr=False)  # the levelled face square at full size
    _hair: tuple | None = field(default=None, repr=False)  # hair_mask(), once computed
    # previews and renders run on worker threads; GrabCut's seed is global, so one at a time
    _hair_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _drawings: dict = field(default_factory=dict, repr=False)  # what each DRAWN attribute draws, once found

    def preview(self, values: dict[str, float] | None = None, transfer: str | None = None) -> np.ndarray:
        """The edited 64x64 face (one generator pass), float32 HxWx3 in [0, 1]; transfer
        overrides the session's for this call."""
        return self.previews([values or {}], transfer)[0]

    def previews(self, values_list: list[dict[str, float]], transfer: str | None = None) -> np.ndarray:
        """Several edits of this face in one batched generator pass: (N, 64, 64, 3)."""
        ed = self.editor
        transfer = self.transfer_for(transfer)
        zs, ys = zip(*(ed._latents(self, ed.check_attributes(v)) for v in values_list))
        gen = ed._generate(torch.stack(zs), torch.stack(ys))
        for i, (z, y) in enumerate(zip(zs, ys)):
            if torch.equal(z, self.z) and torch.equal(y, self.y):
                gen[i] = self.reconstruction  # bit-exact "no change", whatever the batch size
        if transfer == "replace":
            return gen
        out = self.image64[None] + (gen - self.reconstruction[None])
        if transfer == "local":  # G's own pixels where it changed a lot, but the photo's overall tone
            rest = self.reconstruction - self.image64  # = gen - out: what the photo has that G missed
            rest = rest - cv2.GaussianBlur(rest, (0, 0), LOCAL_TONE_SIGMA)
            out += local_weight(gen, self.reconstruction) * rest[None]
        out = np.clip(out, 0, 1).astype(np.float32)
        for i, values in enumerate(values_list):  # hair colour and drawn attributes preview as they render
            if self.recolours(values, transfer):
                out[i] = self.recoloured_face(values)
            elif self.draws(values, transfer):
                out[i] = _resize(self.drawn_face(values, DRAWN_PREVIEW)[0], 64, clip=True)
        return out

    def drawn_face(self, values: dict[str, float], side: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(face square, weight) of an edit that draws its attribute (draws()): the photo's
        levelled face square with it drawn, and where it changed (> 0); at most `side` px (for
        previews: a large face drawn at full size would be slow)."""
        name = self.draws(values)
        module, _ = DRAWN[name]
        crop, drawing = self.crop, self.drawing(name)
        if side is not None and side < crop.shape[0]:
            crop = _resize(crop, side, clip=True)
            if isinstance(drawing, np.ndarray):  # a mask at the face square's size
                drawing = cv2.resize(drawing, (side, side), interpolation=cv2.INTER_AREA)
        return module.draw(crop, drawing, self.amount(values, name))

    def recoloured_face(self, values: dict[str, float]) -> np.ndarray:
        """The 64x64 face square of a hair colour edit's render (the hair mask is computed at
        the first call, then each call is a few milliseconds: fit for live previews)."""
        crop, mask = self.hair_mask()
        _, side, m = self.hair_square()
        hair = recolour.recolour(crop, mask, *self.hair_target(values))
        return _resize(hair[m:side - m, m:side - m], 64, clip=True)

    def render(self, values: dict[str, float] | None = None, job: Job | None = None,
               transfer: str | None = None) -> np.ndarray:
        """The whole photo with the edit: float32, same size; pixels outside the face square
        (and wherever the soft face mask is 0) are returned exactly."""
        job = job or quiet_job()
        transfer = self.transfer_for(transfer)
        job.progress(0.0, "editing the face")
        ed = self.editor
        if self.recolours(values, transfer):
            return ed._paste_recoloured(self, job, *self.hair_target(values))
        if self.draws(values, transfer):
            return ed._paste_drawn(self, job, values)
        edited = self.preview(values, transfer)
        job.progress(0.3, "bringing the face back to size")
        if self.refined(transfer):
            # The refiner draws along the 64-px "local" edit (`edited`: the photo's own face plus the
            # change, G's pixels where it changes most) rather than G(z, y') itself: more of the person
            # is kept (whole-face PSNR 20.39 vs 19.96 dB, 7 attributes, 30 held-out faces).
            return ed._paste_refined(self, self.generated(values), job, edited, ed.zone(self.moved(values), read=True))
        return ed._paste(self, edited, job, transfer)

    def moved(self, values: dict[str, float] | None) -> list[str]:
        """The attributes an edit to these values changes (links included)."""
        ed = self.editor
        changed = ed.linked(self, ed.check_attributes(values or {}))
        return [a for a, v in changed.items() if v != self.values[a]]

    def recolours(self, values: dict[str, float] | None, transfer: str | None = None) -> bool:
        """True when render() recolours the photo's own hair (recolour.py) instead of drawing
        the generator's: an edit that moves hair colours only, with zones on, in the "local" or
        "delta" (Subtle) transfer, with or without the face refiner."""
        moved = self.moved(values)
        return (self.editor.zones and self.crop is not None and self.transfer_for(transfer) in ("local", "delta")
                and bool(moved) and all(a in HAIR_COLOURS for a in moved))

    def draws(self, values: dict[str, float] | None, transfer: str | None = None) -> str | None:
        """The attribute render() draws on the photo's face (DRAWN: glasses.py, facial_hair.py)
        instead of having it repainted, or None: an edit that raises that attribute alone on a
        face read without it, with zones on, in the "local" or "delta" transfer, where the
        generator's own edit shows what to draw."""
        moved = self.moved(values)
        if not (self.editor.zones and self.crop is not None and self.transfer_for(transfer) in ("local", "delta")
                and len(moved) == 1 and moved[0] in DRAWN):
            return None
        name = moved[0]
        if self.values[name] >= 0 or self.amount(values, name) <= 0 or self.drawing(name) is None:
            return None
        return name

    def drawing(self, name: str):
        """What a DRAWN attribute draws on this face (from its full edit), found once; None: nothing."""
        if name not in self._drawings:
            module, read = DRAWN[name]
            zone = self.editor.zone([name], 1.0, read=read)
            self._drawings[name] = module.find(self.generated({name: 1.0}), self.reconstruction, zone, self.crop)
        return self._drawings[name]

    def amount(self, values: dict[str, float] | None, name: str) -> float:
        """How far (0-1) an edit moves attribute `name` towards present: the slider's move, and
        at least how far it now stands on the present side (at +1: in full)."""
        ed = self.editor
        after = ed.linked(self, ed.check_attributes(values or {})).get(name, self.values[name])
        return _reach(self.values[name], after) if after > self.values[name] else 0.0

    def hair_square(self) -> tuple[np.ndarray, int, int]:
        """The square that hair colour edits work in: the levelled face square grown by up to
        HAIR_MARGIN of its side on every side (a detected face's square cuts the crown), as far
        as it stays inside the photo.
        Returns (2x3 map from its pixels to photo pixels, its side, the margin in pixels)."""
        s = self.box[2]
        h, w = self.rgb.shape[:2]
        A = faces.crop_matrix(self.box, self.angle)
        # as wide as the photo allows on every side: mirrored hair beyond its edge would teach
        # GrabCut's background model the hair's own colour
        for m in range(int(round(HAIR_MARGIN * s)), -1, -1):
            c = A @ np.array([[-m, s - 1 + m, -m, s - 1 + m], [-m, -m, s - 1 + m, s - 1 + m], [1, 1, 1, 1]], np.float64)
            if c[0].min() >= -0.5 and c[1].min() >= -0.5 and c[0].max() <= w - 0.5 and c[1].max() <= h - 0.5:
                break
        shift = np.array([[1, 0, -m], [0, 1, -m], [0, 0, 1]], np.float64)
        return A @ shift, s + 2 * m, m

    def hair_mask(self) -> tuple[np.ndarray, np.ndarray]:
        """(crop, mask) over hair_square(): the photo there (parts beyond the photo mirrored
        in) and the hair that every colour edit of this face recolours (recolour.hair_mask;
        0 beyond the photo), computed once. Its prior: the generator's change when the hair is
        made blond and when it is made black (opposite ends: together they find all of this
        face's hair, where grey alone changes only the top) within the union of the hair
        colours' zones."""
        with self._hair_lock:
            if self._hair is None:
                self._hair = self._find_hair()
            return self._hair

    def _find_hair(self) -> tuple[np.ndarray, np.ndarray]:
        A, side, m = self.hair_square()
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        crop = cv2.warpAffine(self.rgb, A, (side, side), flags=flags, borderMode=cv2.BORDER_REFLECT_101)
        inside = cv2.warpAffine(np.ones(self.rgb.shape[:2], np.float32), A, (side, side), flags=flags,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        colours = [a for a in HAIR_COLOURS if a in self.values]
        changes = [self.generated({a: 1.0}) - self.reconstruction for a in PRIOR_COLOURS if a in self.values]
        prior = recolour.hair_prior(changes, self.editor.zone(colours, 1.0))
        mask = recolour.hair_mask(np.clip(crop, 0, 1), prior, m / side) * (inside > 0.999)
        return crop, mask.astype(np.float32)

    def changed_area(self, values: dict[str, float] | None = None) -> np.ndarray:
        """(h, w) bool over the photo: where render(values) may change a pixel (the refined
        render's region, or the hair a colour edit recolours, in photo pixels; a pixel of
        bilinear reach included)."""
        if self.recolours(values):
            A = self.hair_square()[0]
            weight = self.hair_mask()[1]
        else:
            A = faces.crop_matrix(self.box, self.angle)
            weight = self.region(values, self.box[2])
        h, w = self.rgb.shape[:2]
        area = cv2.warpAffine((weight > 0).astype(np.float32), A, (w, h), flags=cv2.INTER_LINEAR) > 0
        return cv2.dilate(area.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)

    def hair_target(self, values: dict[str, float] | None) -> tuple[str, float]:
        """The hair colour a colour edit moves towards and how far (0-1): the colour made more
        present; else the most present one that the edit does not lower (the encoder's reading
        of the other colours), brown or black when none is present."""
        ed = self.editor
        after = ed.linked(self, ed.check_attributes(values or {}))
        delta = {a: after.get(a, self.values[a]) - self.values[a] for a in HAIR_COLOURS if a in self.values}
        amount = max((_reach(self.values[a], after[a]) for a, d in delta.items() if d != 0), default=0.0)
        raised = [a for a in delta if delta[a] > 0]
        if raised:
            return max(raised, key=lambda a: after[a]), amount
        kept = {a: self.values[a] for a in delta if delta[a] == 0}
        best = max(kept, key=kept.get, default=None)
        if best is not None and kept[best] > 0:
            return best, amount
        return ("Brown_Hair" if "Brown_Hair" in kept else "Black_Hair"), amount

    def refined(self, transfer: str | None = None) -> bool:
        """True when render() has the face refiner repaint the edit's region."""
        return self.transfer_for(transfer) == "local" and self.editor.refiner is not None and self.crop is not None

    def generated(self, values: dict[str, float] | None = None) -> np.ndarray:
        """G(z', y') of these values: the 64x64 edited face itself, float32 [0, 1]."""
        ed = self.editor
        return ed._generate(*(t[None] for t in ed._latents(self, ed.check_attributes(values or {}))))[0]

    def region(self, values: dict[str, float] | None = None, side: int | None = None) -> np.ndarray:
        """(side, side) in [0, 1] (default 64), in the levelled face square: where a refined
        render of these values may change the photo (edit_region of the edit, resized as the
        render resizes it)."""
        moved = self.moved(values)
        if self.recolours(values):  # the face square's part of the hair (it may reach beyond: changed_area)
            _, _, m = self.hair_square()
            hair = self.hair_mask()[1]
            return _resize(hair[m:hair.shape[0] - m, m:hair.shape[1] - m], side or 64, clip=True)
        if self.draws(values):
            return _resize((self.drawn_face(values)[1] > 0).astype(np.float32), side or 64, clip=True)
        region = edit_region(self.generated(values), self.reconstruction, self.editor.zone(moved, read=True))
        return region if side is None else _resize(region, side, clip=True)

    def transfer_for(self, transfer: str | None) -> str:
        """The transfer of one call: the session's unless given (checked like any option)."""
        if transfer is None:
            return self.options.transfer
        return dataclasses.replace(self.options, transfer=transfer).transfer


class FaceEditor:
    """FaceEditor(model, device).run(rgb, None, EditOptions(changes=...), job) -> rgb; or encode()
    once, then session.preview(values) per slider move and session.render(values) to finish.

    The constructor's arguments are the engine's make-up (how edits are computed, measured by
    `studio bench edit`); what a user chooses per edit is in EditOptions."""

    name = "edit"

    def __init__(self, model: str | object, device=None, *, method: str = "auto",
                 refine_steps: int | None = None, upscale="auto", level: bool = True, attributes=None,
                 refiner="auto", zones: bool = True):
        card: dict = {}
        if isinstance(model, str):
            from studio.checkpoints import load_model

            model, info = load_model(model, device)
            if info.architecture != "icgan64":
                raise StudioError(f"checkpoint '{info.name}' is a {info.architecture}, not an IcGAN face editor")
            card = info.card
        self.net = model.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.device = device if device is not None else next(self.net.parameters()).device
        self.net.to(self.device)
        if attributes is None:
            from studio.data.attributes import ATTRIBUTES

            attributes = card.get("attributes", ATTRIBUTES)
        self.attributes: list[str] = list(attributes)
        if len(self.attributes) != self.net.ny:
            raise StudioError(f"the model has {self.net.ny} attributes but its card lists {len(self.attributes)}")
        if method not in ("auto", *METHODS):
            raise StudioError(f"method must be auto, {' or '.join(METHODS)}")
        chosen = card.get("edit_methods", {}) if method == "auto" else {}
        self.methods = {a: chosen.get(a, "label" if method == "auto" else method) for a in self.attributes}
        if not bool(self.net.directions.abs().sum() > 0):  # no directions stored: only the label edit works
            self.methods = dict.fromkeys(self.attributes, "label")
        card_gains = card.get("edit_gains", {})  # options.gain overrides them per edit
        self.gains = {a: float(card_gains.get(a, 1.0)) for a in self.attributes}
        self.refine_steps = int(card.get("edit", {}).get("refine_steps", REFINE_STEPS) if refine_steps is None
                                else refine_steps)
        if upscale == "auto":  # the face SR checkpoint when installed, else a Lanczos resize
            from studio.engines.upscale import face_upscaler

            upscale = face_upscaler(device)
        self.upscale = upscale
        if refiner == "auto":  # the shipped face refiner when installed (None: the older transfer)
            from studio.engines.face_refine import load_refiner

            refiner = load_refiner(device)
        self.refiner = refiner
        self.level = level
        self.zones = zones
        self._zones: dict[int, np.ndarray] = {}
        self._readings: dict[int, np.ndarray] = {}
        self._index = {a.lower(): i for i, a in enumerate(self.attributes)}

    # -- attributes ----------------------------------------------------------------------

    def check_attributes(self, changes: dict[str, float]) -> dict[str, float]:
        """Changes with canonical names (case-insensitive match); StudioError when a name is
        unknown or a value is outside -2..2."""
        out = {}
        for name, value in changes.items():
            i = self._index.get(str(name).strip().lower())
            if i is None:
                raise StudioError(f"unknown attribute {name!r}; choose from: {', '.join(self.attributes)}")
            v = float(value)
            if not -VALUE_LIMIT <= v <= VALUE_LIMIT:  # also refuses nan
                raise StudioError(f"{self.attributes[i]}={value}: values go from -{VALUE_LIMIT:g} to {VALUE_LIMIT:g} "
                                  "(1 = present, -1 = absent)")
            out[self.attributes[i]] = v
        return out

    # -- the face ------------------------------------------------------------------------

    def locate(self, rgb: np.ndarray, options: EditOptions) -> tuple[faces.Box, float]:
        """(face square, levelling angle): options.box as is, else the detected face (the
        largest, or the options.face-th from the left)."""
        if options.box is not None:
            return faces.square_box(options.box), 0.0
        dets = faces.detect_faces(rgb)
        if not dets:
            raise StudioError("no face found; give the face's square with --box x,y,w,h",
                              gui=f"No face found: {faces.GUI_BOX}.")
        if options.face is None:
            det = dets[0]  # the largest
        else:
            order = sorted(dets, key=lambda b: b[0] + b[2] / 2)  # left to right, as a person counts
            if not options.face <= len(order):
                raise StudioError(f"--face {options.face}: found {len(order)} face(s); "
                                  f"give 1..{len(order)} (counted from the left)",
                                  gui=f"Face {options.face} was asked for, but {len(order)} face(s) were found: "
                                      f"choose 1..{len(order)} (counted from the left), or {faces.GUI_BOX}.")
            det = order[options.face - 1]
        angle = faces.eye_angle(rgb, det) if self.level else 0.0
        return faces.crop_box_for_detection(det), angle

    def encode(self, rgb: np.ndarray, job: Job | None = None, options: EditOptions | None = None) -> EditSession:
        """Find and encode the face once; options (box, face, transfer, gain, links) stay with
        the session and apply to its edits."""
        job = job or quiet_job()
        options = options or EditOptions()
        # A copy: renders are absolute (this photo plus the edit), and the app edits its picture in
        # place when a render is applied, which must not leak into the next render.
        rgb = np.array(rgb, np.float32, copy=True)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise StudioError("face editing needs an RGB image")
        job.progress(0.0, "finding the face")
        box, angle = self.locate(rgb, options)
        x, y, s, _ = box
        h, w = rgb.shape[:2]
        faces.check_square(box, w, h)
        # Parts of the square beyond the photo are mirrored in, as faces.extract does.
        crop = cv2.warpAffine(rgb, faces.crop_matrix(box, angle), (s, s), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REFLECT_101)
        image64 = _resize(crop, 64, clip=True)
        job.progress(0.1, "encoding the face")
        x64 = self._tensor(image64)
        with torch.inference_mode():
            logits = self.net.encoder_y(x64).float()[0]
            z = self.net.encoder_z(x64).float()[0].clamp(-Z_LIMIT, Z_LIMIT)
        yv = torch.tanh(logits / 2)  # = 2*sigmoid(logit) - 1
        z = self._refine(z.clone(), yv.clone(), x64, job.span(0.15, 1.0))
        values = {a: float(v) for a, v in zip(self.attributes, yv)}
        session = EditSession(self, rgb, box, angle, image64, values, z, yv, np.empty(0), options, crop)
        session.reconstruction = self._generate(z[None], yv[None])[0]
        job.progress(1.0, "face encoded")
        return session

    def _refine(self, z: torch.Tensor, y: torch.Tensor, x64: torch.Tensor, job: Job) -> torch.Tensor:
        """A few Adam steps on z (y fixed) so G(z, y) looks more like this face (identity)."""
        if self.refine_steps <= 0:
            return z
        z = z[None].clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=REFINE_LR)
        with torch.enable_grad():
            for i in range(self.refine_steps):
                loss = (self.net.generator(z, y[None]) - x64).abs().mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                with torch.no_grad():
                    z.clamp_(-Z_LIMIT, Z_LIMIT)
                job.progress((i + 1) / self.refine_steps, "fitting the face")
        return z.detach()[0]

    def zone(self, names: list[str], full: float = ZONE_FULL, read: bool = False) -> np.ndarray | None:
        """(64, 64) in [0, 1]: where flipping any of these attributes changes a face, counting
        fully above `full` of its peak (None for none, or when zones are off); `read`: where it
        also is read by the editor's encoder, 0 below ZONE_FLOOR of that product's peak."""
        if not names or not self.zones:
            return None
        footprint = np.max([self._zone(self.attributes.index(a), read) for a in names], axis=0)
        if read:
            footprint = np.where(footprint < ZONE_FLOOR, 0, footprint)
        return np.clip(footprint / full, 0, 1).astype(np.float32)

    def _zone(self, i: int, read: bool = False) -> np.ndarray:
        """Attribute i's footprint; `read`: times where the editor's own attribute encoder reads
        the attribute (_reading), peak 1."""
        if not read:
            return self._footprint(i)
        both = self._footprint(i) * self._reading(i)
        return (both / max(float(both.max()), 1e-6)).astype(np.float32)

    def _reading(self, i: int) -> np.ndarray:
        """Where E_y reads attribute i: the mean |d logit_i / d pixel| over the same seeded
        random faces as the footprint's, blurred, peak 1; computed once."""
        if i not in self._readings:
            z, y = self._zone_latents()
            with torch.no_grad():
                x = self.net.generator(z.to(self.device), y.to(self.device))
            with torch.enable_grad():
                x.requires_grad_(True)
                grad, = torch.autograd.grad(self.net.encoder_y(x)[:, i].sum(), x)
            read = cv2.GaussianBlur(grad.abs().sum(1).mean(0).float().cpu().numpy(), (0, 0), READ_SIGMA)
            self._readings[i] = (read / max(float(read.max()), 1e-12)).astype(np.float32)
        return self._readings[i]

    def _zone_latents(self) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(ZONE_SEED)
        z = torch.randn(ZONE_SAMPLES, self.net.nz, generator=g).clamp_(-Z_LIMIT, Z_LIMIT)
        return z, torch.rand(ZONE_SAMPLES, self.net.ny, generator=g) * 2 - 1

    def _footprint(self, i: int) -> np.ndarray:
        """Attribute i's footprint: the mean change between G with the attribute absent and
        present (the editor's own gain and method) over seeded random faces; computed once."""
        if i not in self._zones:
            z, y = self._zone_latents()
            ends = []
            for v in (-1.0, 1.0):
                zv, yv = z.clone(), y.clone()
                step = self.gains[self.attributes[i]] * (v - y[:, i])
                if self.methods[self.attributes[i]] == "latent":
                    zv = (zv + step[:, None] / 2 * self.net.directions[i].to(zv)).clamp_(-Z_LIMIT, Z_LIMIT)
                else:
                    yv[:, i] = (y[:, i] + step).clamp(-Y_LIMIT, Y_LIMIT)
                ends.append(self._generate(zv, yv))
            change = cv2.GaussianBlur(np.abs(ends[1] - ends[0]).sum(3).mean(0), (0, 0), ZONE_SIGMA)
            self._zones[i] = (change / max(float(change.max()), 1e-6)).astype(np.float32)
        return self._zones[i]

    # -- generating and pasting ----------------------------------------------------------

    def _tensor(self, img: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].to(self.device)
        return t * 2 - 1

    def linked(self, session: EditSession, values: dict[str, float]) -> dict[str, float]:
        """The values with LINKS applied: an attribute made (more) present pushes its partners
        to at most minus its value, except partners the user moved as well."""
        if not session.options.links:
            return values
        out = dict(values)
        for a, v in values.items():
            if v <= 0 or v <= session.values[a]:
                continue
            for b in LINKS.get(a, ()):
                if b in session.values and values.get(b, session.values[b]) == session.values[b]:
                    out[b] = min(out.get(b, session.values[b]), -v)
        return out

    def _latents(self, session: EditSession, values: dict[str, float]) -> tuple[torch.Tensor, torch.Tensor]:
        """(z', y') for the given values (missing attributes keep their start values)."""
        z, y = session.z.clone(), session.y.clone()
        gain = session.options.gain
        for a, v in self.linked(session, values).items():
            i = self.attributes.index(a)
            step = (self.gains[a] if gain is None else gain) * (v - session.values[a])  # 0 for an unmoved attribute: y stays bit-exact
            if self.methods[a] == "latent":  # direction = mean code with - without: a change of 2
                z += step / 2 * self.net.directions[i].to(z)
            elif step != 0:
                y[i] = max(-Y_LIMIT, min(Y_LIMIT, float(session.y[i]) + step))
        return z.clamp_(-Z_LIMIT, Z_LIMIT), y

    def _generate(self, z: torch.Tensor, y: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            out = self.net.generator(z.to(self.device), y.to(self.device)).float()
        return out.add(1).mul(0.5).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()

    def _paste(self, session: EditSession, edited: np.ndarray, job: Job, transfer: str) -> np.ndarray:
        s = session.box[2]
        if self.upscale is not None:  # sharper: both through the same SR, so only the edit differs
            big = np.asarray(self.upscale(edited), np.float32)
            change = big - np.asarray(self.upscale(session.image64), np.float32) if transfer != "replace" else big
        else:
            change = edited - session.image64 if transfer != "replace" else edited
        change = _resize(change, s, clip=transfer == "replace")
        job.progress(0.7, "blending")
        return self._to_photo(session, change, faces.face_weight(s), transfer)

    def _paste_refined(self, session: EditSession, gen: np.ndarray, job: Job, coarse: np.ndarray,
                       zone: np.ndarray | None) -> np.ndarray:
        """The refiner repaints, along `coarse`, the region where `gen` changes the face (weighted
        by the moved attributes' `zone`); the photo keeps every other pixel."""
        s = session.box[2]
        region = edit_region(gen, session.reconstruction, zone)
        if not region.any():
            return session.rgb.copy()
        job.progress(0.5, "drawing the edit in the photo's detail")
        soft = _resize(region, s, clip=True)  # as EditSession.region(values, s)
        face = self.refiner(session.crop, soft, coarse)
        job.progress(0.9, "blending")
        return self._to_photo(session, face, soft * faces.face_weight(s), "replace")

    def _paste_recoloured(self, session: EditSession, job: Job, target: str, amount: float) -> np.ndarray:
        """A hair colour edit: the photo's hair (session.hair_mask) given `target` hair's colour,
        `amount` of the way, its own strands kept; every other pixel is the photo's."""
        job.progress(0.5, "finding the hair")
        crop, mask = session.hair_mask()
        if not mask.any():
            return session.rgb.copy()
        job.progress(0.7, "recolouring")
        hair = recolour.recolour(crop, mask, target, amount)
        job.progress(0.9, "blending")
        # recolour() feathered the mask already; here it only bounds what may change, with a
        # narrow fade at the square's edge (the mask's prior has faded out before it anyway)
        A, side, _ = session.hair_square()
        return self._to_photo(session, hair, (mask > 0) * faces.border_weight(side), "replace", A)

    def _paste_drawn(self, session: EditSession, job: Job, values: dict[str, float]) -> np.ndarray:
        """An edit that draws its attribute (glasses, a mustache) on the photo's face square where
        the generator puts it; every other pixel is the photo's."""
        job.progress(0.5, "drawing")
        face, weight = session.drawn_face(values)
        job.progress(0.9, "blending")
        return self._to_photo(session, face, (weight > 0) * faces.border_weight(face.shape[0]), "replace")

    def _to_photo(self, session: EditSession, change: np.ndarray, weight: np.ndarray, transfer: str,
                  matrix: np.ndarray | None = None) -> np.ndarray:
        """Rotate a face-square image back into the photo and blend it with `weight` (s x s):
        added to the photo ("local", "delta") or in place of it ("replace"). `matrix` maps the
        image's pixels to the photo's when it is another square than the face's (hair_square)."""
        rgb, s = session.rgb, weight.shape[0]
        h, w = rgb.shape[:2]
        A = faces.crop_matrix(session.box, session.angle) if matrix is None else matrix
        corners = A @ np.array([[0, s - 1, 0, s - 1], [0, 0, s - 1, s - 1], [1, 1, 1, 1]], np.float64)
        x0, y0 = max(0, int(math.floor(corners[0].min()))), max(0, int(math.floor(corners[1].min())))
        x1, y1 = min(w, int(math.ceil(corners[0].max())) + 1), min(h, int(math.ceil(corners[1].max())) + 1)
        out = rgb.copy()
        if x0 >= x1 or y0 >= y1:
            return out
        # Photo pixels of the region -> crop pixels: the inverse map, shifted to the region.
        inv = cv2.invertAffineTransform(A)
        inv[:, 2] += inv[:, :2] @ np.array([x0, y0], np.float64)
        size = (x1 - x0, y1 - y0)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP

        def to_photo(img):
            return cv2.warpAffine(img, inv, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)

        wgt = to_photo(weight)
        fill = to_photo(np.ascontiguousarray(change))
        orig = rgb[y0:y1, x0:x1]
        if transfer != "replace":  # orig + w * change: a zero change leaves a pixel bit-exact
            blended = np.clip(orig + wgt[..., None] * fill, 0, 1)
            out[y0:y1, x0:x1] = np.where(wgt[..., None] > 0, blended, orig).astype(rgb.dtype)
        else:
            out[y0:y1, x0:x1] = composite(orig, fill.astype(rgb.dtype), wgt)
        return out

    # -- the one-shot edit (CLI, batches) --------------------------------------------------

    def check(self, options: EditOptions) -> None:
        """Refuse unknown attribute names before a batch starts (they depend on the model)."""
        self.check_attributes(dict(options.changes))

    def run(self, rgb: np.ndarray, mask=None, options: EditOptions | None = None,
            job: Job | None = None) -> np.ndarray:
        """options.changes applied to the face; mask: unused (the tool reads none)."""
        job = job or quiet_job()
        options = options or EditOptions()
        changes = self.check_attributes(dict(options.changes))
        session = self.encode(rgb, job.span(0.0, 0.7), options)
        return session.render({**session.values, **changes}, job.span(0.7, 1.0))
