"""`studio bench edit --size 256`: attribute edits rendered at 256 px, old engine against new.

    studio bench edit --size 256 --faces ../shared/data/faces/celebahq/256 \
        --attrs ../shared/data/faces/celebahq/list_attr.txt [--n 30] [--attributes Smiling,Eyeglasses] \
        [--refiner PATH] [--grid grid.png] [--json out.json]

Faces: the last --holdout files by number (never trained on), read at 256x256 and already framed,
so each edit's face box is the whole square. The held-out files are split by position: the even
ones give the --n edited faces (evenly spread), the odd ones the --n real faces that the realism
measure compares with (disjoint, so an unedited face is not compared with itself).

Each face gets each chosen attribute set to the opposite of its label (+-1), the editor's card
gains and links and the "local" transfer, as the app's edit, rendered at 256 by two engines:
`old` (no face refiner, no zones: the 64-px change brought to size and blended) and `new` (the
face refiner repaints the edit's region, hair colour is recoloured: the shipped `face-refiner`,
or --refiner PATH; without either only the recolouring differs, and the run says so). Per engine:
- success: the judge (trained apart from the editor) reads the flipped attribute in the render
  area-downscaled to 64x64;
- kept: the share of the other attributes the judge reads as on the unedited face;
- PSNR outside the change region: new engine, outside session.region() brought to 256 by the
  engine's own resize (any value > 0 counts as inside): every pixel there must be the photo's,
  so this is inf, with the count of changed pixels outside (must be 0); the old engine has no
  region: its PSNR over the whole face against the original is given instead (both engines
  also get that whole-face PSNR, of the mean squared error over the renders);
- realism: the sliced Wasserstein distance between 7x7 Laplacian-pyramid patches of the WHOLE
  256-px edited faces and of the real faces (Karras et al. 2018; lower is closer), one per
  attribute over the --n edits and their mean; beside it the same distance for the unedited
  faces, and the ratio (issue 18's target: at most 1.3). Each face's patches sit at the same
  positions in its original and in its edits, so the two distances differ by the edit alone;
- milliseconds per render (the session's render(), encoding excluded; the median).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import cv2
import numpy as np

from studio.bench.edit import Judge
from studio.bench.photo_inpaint import SWD_PATCHES, pool_levels
from studio.catalogue import EditOptions, tool
from studio.data.attributes import labels_for, read_labels
from studio.data.images import list_images, read_square
from studio.errors import StudioError
from studio.metrics import psnr, pyramid_patches, sliced_wasserstein, swd_levels

SIZE = 256
WHOLE_FACE = EditOptions(box=(0, 0, SIZE, SIZE))  # the faces are framed like training faces already
ENGINES = ("old", "new")
DEFAULT_ATTRIBUTES = ("Smiling", "Eyeglasses", "Blond_Hair", "Black_Hair", "Male", "Mustache", "Bangs")
REALISM_TARGET = 1.3  # issue 18: edited faces at most this many times the unedited faces' distance


def spread(files: list, n: int) -> list:
    """n items evenly spread over the list (all of them when n is larger)."""
    return [files[i] for i in np.linspace(0, len(files) - 1, min(n, len(files))).round().astype(int)]


def to64(img: np.ndarray) -> np.ndarray:
    return cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA)


def region256(session, values: dict) -> np.ndarray:
    """Where a refined render of these values may change the 256-px face: the engine's region,
    resized as the engine resizes it before it blends (HxW bool)."""
    return session.region(values, SIZE) > 0


def pooled_psnr(mses: list[float]) -> float:
    """PSNR (peak 1) of the mean squared error over several renders: an unchanged render (an
    edit that finds nothing to change) counts as error 0 instead of making a mean of dB infinite."""
    mse = float(np.mean(mses))
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def patches(img: np.ndarray, index: int, seed: int) -> list[np.ndarray]:
    """The face's realism patches; the same positions for every image of face `index`."""
    return pyramid_patches(img, None, swd_levels(img.shape[:2]), SWD_PATCHES, np.random.default_rng((seed, index)))


def evaluate(editor, judge: Judge, faces: list[np.ndarray], labels: np.ndarray, attrs: list[str],
             real: list[list[np.ndarray]], seed: int = 0, keep_outputs: int = 0) -> tuple[dict, dict]:
    """Figures of one engine; and {attribute: renders of the first `keep_outputs` faces}."""
    index = [editor.attributes.index(a) for a in attrs]
    k = len(editor.attributes)
    success, kept, whole, ms, edited = ({a: [] for a in attrs} for _ in range(5))
    outside_changed, outside_psnr, region_share = 0, math.inf, []
    kept_renders = {a: [] for a in attrs}
    for n, (face, lab) in enumerate(zip(faces, labels)):
        s = editor.encode(face, options=WHOLE_FACE)
        refined = s.refined()
        ref = judge(to64(face)[None])[0]  # the unedited face, as the judge reads it
        for a, i in zip(attrs, index):
            values = {a: float(-lab[i])}
            t = time.perf_counter()
            out = s.render(values)
            ms[a].append(1000 * (time.perf_counter() - t))
            read = judge(to64(out)[None])[0]
            success[a].append(bool(read[i] == -lab[i]))
            others = np.arange(k) != i
            kept[a].append(float(np.mean(read[others] == ref[others])))
            whole[a].append(float(np.mean((out - face) ** 2)))
            if refined:
                inside = region256(s, values)
                changed = (out != face).any(2)
                outside_changed += int((changed & ~inside).sum())
                if (~inside).any():
                    outside_psnr = min(outside_psnr, psnr(out, face, peak=1.0, where=~inside))
                region_share.append(float(inside.mean()))
            edited[a].append(patches(out, n, seed))
            if n < keep_outputs:
                kept_renders[a].append(out)
    # The unedited faces: their own patches at the same positions as their edits'.
    real_pool = pool_levels(real)
    unedited = sliced_wasserstein(pool_levels([patches(f, n, seed) for n, f in enumerate(faces)]), real_pool)
    per_attr = {}
    for a in attrs:
        per_attr[a] = {"success": float(np.mean(success[a])), "kept": float(np.mean(kept[a])),
                       "psnr_face_db": pooled_psnr(whole[a]), "ms_per_render": float(np.median(ms[a])),
                       "realism_swd": sliced_wasserstein(pool_levels(edited[a]), real_pool)}
    realism = float(np.mean([r["realism_swd"] for r in per_attr.values()]))
    r = {"refined": bool(region_share),
         "success": float(np.mean([r["success"] for r in per_attr.values()])),
         "kept": float(np.mean([r["kept"] for r in per_attr.values()])),
         "psnr_face_db": pooled_psnr([m for a in attrs for m in whole[a]]),
         # inf as the string "inf": strict JSON has no infinity
         "psnr_outside_region_db": (("inf" if math.isinf(outside_psnr) else outside_psnr) if region_share else None),
         "changed_pixels_outside_region": outside_changed if region_share else None,
         "region_share": float(np.mean(region_share)) if region_share else None,
         "realism_swd": realism, "realism_swd_unedited": unedited,
         "realism_ratio": realism / unedited if unedited > 0 else math.inf,
         "ms_per_render": float(np.median([m for a in attrs for m in ms[a]])),
         "per_attribute": per_attr}
    return r, kept_renders


def print_table(results: dict) -> None:
    print("\n| engine | success % | kept % | PSNR outside region (dB) | changed px outside | PSNR whole face (dB) "
          "| realism SWD edited | unedited | ratio | ms/render |")
    print("|---" * 10 + "|")
    for name, r in results.items():
        outside = r["psnr_outside_region_db"]
        outside = "n/a (no region)" if outside is None else outside if isinstance(outside, str) else f"{outside:.2f}"
        changed = "n/a" if r["changed_pixels_outside_region"] is None else str(r["changed_pixels_outside_region"])
        print(f"| {name} | {100 * r['success']:.1f} | {100 * r['kept']:.1f} | {outside} | {changed} "
              f"| {r['psnr_face_db']:.2f} | {r['realism_swd']:.1f} | {r['realism_swd_unedited']:.1f} "
              f"| {r['realism_ratio']:.2f} | {r['ms_per_render']:.0f} |")
    attrs = list(next(iter(results.values()))["per_attribute"])
    print("\n| attribute | " + " | ".join(f"{e} succ | {e} kept | {e} SWD" for e in results) + " |")
    print("|---" * (1 + 3 * len(results)) + "|")
    for a in attrs:
        cells = [f"{100 * r['per_attribute'][a]['success']:.0f} | {100 * r['per_attribute'][a]['kept']:.0f} | "
                 f"{r['per_attribute'][a]['realism_swd']:.1f}" for r in results.values()]
        print(f"| {a} | " + " | ".join(cells) + " |")


def save_grid(path: Path, faces: list[np.ndarray], renders: dict[str, dict[str, list]], attrs: list[str]) -> None:
    """Per row a face: original, then old / new for each of `attrs`, at 100 %, names on top."""
    pad, head = 4, 24
    cols = [("original", None, None)] + [(f"{a} {e}", e, a) for a in attrs for e in renders]
    rows = len(next(iter(renders.values()))[attrs[0]])
    canvas = np.ones((head + rows * (SIZE + pad) + pad, len(cols) * (SIZE + pad) + pad, 3), np.float32)
    for r in range(rows):
        for c, (_, engine, a) in enumerate(cols):
            img = faces[r] if engine is None else renders[engine][a][r]
            y, x = head + pad + r * (SIZE + pad), pad + c * (SIZE + pad)
            canvas[y:y + SIZE, x:x + SIZE] = img
    bgr = cv2.cvtColor(np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    for c, (name, _, _) in enumerate(cols):
        cv2.putText(bgr, name, (pad + c * (SIZE + pad) + 2, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), bgr):
        raise StudioError(f"cannot write the grid {path}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio bench edit --size 256", description=__doc__.split("\n\n")[0])
    p.add_argument("--faces", type=Path, required=True, help="folder of 256x256 faces named like CelebA-HQ")
    p.add_argument("--attrs", type=Path, required=True, help="CelebA attribute file for those faces")
    p.add_argument("--size", type=int, choices=(SIZE,), default=SIZE)
    p.add_argument("--holdout", type=int, default=100,
                   help="use only the last N files by number (never trained on); 0 = all")
    p.add_argument("--n", type=int, default=30, help="faces to edit (the real faces are as many others)")
    p.add_argument("--attributes", default=",".join(DEFAULT_ATTRIBUTES), help="comma list of attributes to flip")
    p.add_argument("--model", default=tool("edit").model)
    p.add_argument("--judge", default="icgan-judge64", help="the separately trained attribute classifier")
    p.add_argument("--refiner", default=None, metavar="PATH",
                   help="face refiner checkpoint file for the new engine (default: the installed face-refiner)")
    p.add_argument("--refine", type=int, default=None, help="z refinement steps at encode (default: the editor's)")
    p.add_argument("--seed", type=int, default=0, help="patch positions of the realism measure")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--grid", type=Path, default=None,
                   help="write a picture at 100 %%: per face, original then old / new for the first 3 attributes")
    p.add_argument("--grid-rows", type=int, default=4)
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    return p


def load_refiner(path: str | None):
    """The new engine's refiner: the file given, else FaceEditor's own choice ("auto")."""
    if path is None:
        return "auto"
    from studio.checkpoints import load_model
    from studio.engines.face_refine import FaceRefine

    net, info = load_model(path, "cpu")
    if info.architecture != "face-refiner":
        raise StudioError(f"--refiner {path} is a {info.architecture} checkpoint, not a face refiner")
    return FaceRefine(net)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n < 1 or args.holdout < 0 or args.grid_rows < 1:
        raise StudioError("--n and --grid-rows must be at least 1, --holdout 0 or more")
    import torch

    from studio.checkpoints import load_model
    from studio.engines.edit import FaceEditor

    if args.threads:
        torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    editors = {"old": FaceEditor(args.model, cpu, refine_steps=args.refine, refiner=None, zones=False),
               "new": FaceEditor(args.model, cpu, refine_steps=args.refine, refiner=load_refiner(args.refiner))}
    names = editors["old"].attributes
    # canonical names, in the order given (StudioError for a name the model lacks)
    attrs = list(editors["old"].check_attributes({a.strip(): 0.0 for a in args.attributes.split(",") if a.strip()}))
    if not attrs:
        raise StudioError(f"--attributes names none; choose from: {', '.join(names)}")
    files = list_images(args.faces)
    held = files[-args.holdout:] if args.holdout else files
    if len(held) < 2:
        raise StudioError(f"--holdout {args.holdout} of {len(files)} files leaves fewer than 2 faces "
                          "(the edited faces and the real ones must differ)")
    picked, others = spread(held[0::2], args.n), spread(held[1::2], args.n)
    labels = labels_for(picked, read_labels(args.attrs, names=names))
    faces = [read_square(f, SIZE) for f in picked]
    real = [patches(read_square(f, SIZE), 10**6 + i, args.seed) for i, f in enumerate(others)]
    judge_net, judge_info = load_model(args.judge, cpu)
    ny = int(judge_info.card.get("config", {}).get("ny", 18))
    if judge_info.architecture != "attr-judge64" or ny != len(names):
        raise StudioError(f"the judge {args.judge} must be an attr-judge64 reading the editor's {len(names)} "
                          f"attributes (it is a {judge_info.architecture} of {ny})")
    judge = Judge(judge_net)
    print(f"{len(faces)} faces at {SIZE}px from {args.faces} (last {args.holdout or 'all'}; {len(others)} others as "
          f"real faces), attributes {', '.join(attrs)}, model {args.model}, judge {args.judge}, "
          f"{torch.get_num_threads()} threads", flush=True)
    if editors["new"].refiner is None:
        print("note: no face refiner installed and no --refiner given: the new engine differs from the old one in hair colour only", flush=True)
    shown = attrs[:3] if args.grid else []
    results, renders = {}, {}
    for name, editor in editors.items():
        t = time.perf_counter()
        results[name], renders[name] = evaluate(editor, judge, faces, labels, attrs, real, args.seed,
                                                args.grid_rows if args.grid else 0)
        print(f"  {name}: {time.perf_counter() - t:.1f} s", flush=True)
    print_table(results)
    print(f"\nrealism: SWD of 7x7 Laplacian-pyramid patches of whole {SIZE}-px faces to {len(others)} real faces; "
          f"target ratio edited/unedited <= {REALISM_TARGET}")
    if args.grid:
        save_grid(args.grid, faces, {e: {a: renders[e][a] for a in shown} for e in renders}, shown)
        print(f"grid: {args.grid}")
    if args.json:
        report = {"size": SIZE, "n": len(faces), "n_real": len(others), "holdout": args.holdout, "attributes": attrs,
                  "model": args.model, "judge": args.judge, "refiner": args.refiner or "auto", "seed": args.seed,
                  "engines": results}
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0
