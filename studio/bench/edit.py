"""`studio bench edit`: IcGAN attribute edits on held-out faces, scored by a separate judge.

    studio bench edit --faces ../shared/data/faces/celebahq/64 --attrs ../shared/data/faces/celebahq/list_attr.txt \
        --n 200 --grid edit-grid.jpg [--calibrate] [--update-card]
    studio bench edit --size 256 --faces ../shared/data/faces/celebahq/256 --attrs ...  # see edit256.py

Per attribute and on average, on the last --holdout faces by file number (never trained on):
  E_y acc    E_y's reading of the face vs the label file
  judge acc  the judge classifier (trained apart from E_y) vs the label file
  success    the attribute set to the opposite of its label (+-1), then read by the judge
  kept       the other 17 attributes as the judge reads them on the unedited output
             (the face itself, or G(E_z(x), E_y(x)) for "replace")
for these edits:
  label      the app's edit: y changed with the card's gains and links, "local" transfer
  latent     the same, moving z along the attribute's mean-code direction instead of y
  subtle     the label edit with the pure difference transfer (the app's "Subtle" box)
  replace    the label edit, pasting the generated face itself
  plain      the IcGAN paper's edit: y set to +-1 (gain 1, no links), pure difference transfer
and for each, the PSNR of the edited faces against the face itself (how much of the person is
left: an edit must change something, so this is no quality score on its own); plus reconstruction PSNR of G(E_z(x), E_y(x)) with and without the encode-time z refinement,
and milliseconds per edit after encoding (one preview call).

--calibrate first picks each attribute's gain on --n TRAINING faces (before the held-out ones),
read by E_y, not the judge: the smallest of GAINS at which E_y reads the flipped attribute in
CALIBRATE_TARGET of the edits (else the one it reads most often). --update-card writes the gains,
the figures and, per attribute, the better of label and latent into the model's card, where
the editor reads them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from studio.bench.by_size import run_for_size
from studio.catalogue import EditOptions, tool
from studio.data.attributes import labels_for, read_labels
from studio.data.images import list_images, read_square
from studio.metrics import psnr

WHOLE_FACE = EditOptions(box=(0, 0, 64, 64))  # the faces are framed like training faces already
LATENT_MARGIN = 0.02  # mean of success and kept must beat the label edit's by this much
# name: (method, transfer, the card's gains and links? else gain 1 and no links)
VARIANTS = {"label": ("label", "local", True), "latent": ("latent", "local", True),
            "subtle": ("label", "delta", True), "replace": ("label", "replace", True),
            "plain": ("label", "delta", False)}
GAINS = (1.0, 1.5, 2.0, 2.5, 3.0)
CALIBRATE_TARGET = 0.9  # about E_y's own accuracy on real faces: the edit reads like the real thing


class Judge:
    """An attribute classifier as a reader: images (N, 64, 64, 3) in [0, 1] -> +1/-1 signs.
    The benchmark's judge; E_y for calibration."""

    def __init__(self, net):
        self.net = net.eval()

    def __call__(self, images: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(np.asarray(images, np.float32).transpose(0, 3, 1, 2))) * 2 - 1
        with torch.inference_mode():
            return np.where(self.net(x).float().numpy() > 0, 1, -1)


class _Settings:
    """Sets an editor's method and gains and a session's transfer and links for one variant;
    restores them after."""

    def __init__(self, editor, session, method: str, transfer: str, calibrated: bool, gains: dict | None = None):
        self.editor, self.session = editor, session
        self.keep = (editor.methods, editor.gains, session.options)
        attrs = editor.attributes
        self.new = (dict.fromkeys(attrs, method),
                    dict(gains) if gains is not None else dict(editor.gains) if calibrated else dict.fromkeys(attrs, 1.0),
                    dataclasses.replace(session.options, transfer=transfer, links=calibrated))

    def __enter__(self):
        self.editor.methods, self.editor.gains, self.session.options = self.new
        return self.editor

    def __exit__(self, *exc):
        self.editor.methods, self.editor.gains, self.session.options = self.keep


def flip_reads(session, reader, lab: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Each attribute flipped to the opposite of its label, one at a time, read by `reader`:
    (success per attribute, share of the other attributes read as on the unedited output,
    mean PSNR of the edited faces against the face itself: how much of the person is left)."""
    k = len(lab)
    out = session.previews([{}] + [{a: float(-lab[i])} for i, a in enumerate(session.editor.attributes)])
    read = reader(out)
    ref, edits = read[0], read[1:]
    success = edits[np.arange(k), np.arange(k)] == -lab
    others = ~np.eye(k, dtype=bool)
    likeness = float(np.mean([psnr(o, session.image64, peak=1.0) for o in out[1:]]))
    return success, ((edits == ref[None]) & others).sum(1) / max(1, k - 1), likeness


def calibrate(editor, reader, faces: list[np.ndarray], labels: np.ndarray) -> tuple[dict, np.ndarray]:
    """Per attribute, the smallest of GAINS at which `reader` (E_y) reads the flipped attribute in
    CALIBRATE_TARGET of these faces' edits, else the gain it reads best; and the success table
    (len(GAINS), attributes)."""
    attrs = editor.attributes
    hits = np.zeros((len(GAINS), len(attrs)))
    for face, lab in zip(faces, labels):
        s = editor.encode(face, options=WHOLE_FACE)
        for g, gain in enumerate(GAINS):
            with _Settings(editor, s, "label", "local", True, dict.fromkeys(attrs, gain)):
                hits[g] += flip_reads(s, reader, lab)[0]
    rate = hits / max(1, len(faces))
    gains = {}
    for i, a in enumerate(attrs):
        ok = np.flatnonzero(rate[:, i] >= CALIBRATE_TARGET)
        gains[a] = GAINS[int(ok[0]) if len(ok) else int(np.argmax(rate[:, i]))]
    return gains, rate


def evaluate(editor, judge: Judge, faces: list[np.ndarray], labels: np.ndarray, *, timing_faces: int = 5) -> dict:
    """All figures for these faces (64x64, framed like training faces) and their +1/-1 labels."""
    import torch

    attrs = editor.attributes
    k = len(attrs)
    ey_hits, judge_hits = np.zeros(k), np.zeros(k)
    succ = {v: np.zeros(k) for v in VARIANTS}
    kept = {v: np.zeros(k) for v in VARIANTS}
    likeness = {v: [] for v in VARIANTS}
    psnr_raw, psnr_fit, ms_edit, ms_encode = [], [], [], []
    net = editor.net
    has_directions = bool(net.directions.abs().sum() > 0)
    for n, (face, lab) in enumerate(zip(faces, labels)):
        t = time.perf_counter()
        s = editor.encode(face, options=WHOLE_FACE)
        ms_encode.append(1000 * (time.perf_counter() - t))
        start = np.array([s.values[a] for a in attrs])
        ey_hits += np.sign(start) == lab
        judge_hits += judge(face[None])[0] == lab
        with torch.inference_mode():  # E_z alone, to show what the refinement adds
            x = editor._tensor(s.image64)
            raw = editor._generate(net.encoder_z(x).clamp(-3, 3), s.y[None])[0]
        psnr_raw.append(psnr(raw, face, peak=1.0))
        psnr_fit.append(psnr(s.reconstruction, face, peak=1.0))
        for name, (method, transfer, calibrated) in VARIANTS.items():
            if method == "latent" and not has_directions:
                continue
            with _Settings(editor, s, method, transfer, calibrated):
                hit, same, like = flip_reads(s, judge, lab)
            succ[name] += hit
            kept[name] += same
            likeness[name].append(like)
        if n < timing_faces:  # one slider move = one preview call
            for a in attrs[:6]:
                t = time.perf_counter()
                s.preview({a: 1.0})
                ms_edit.append(1000 * (time.perf_counter() - t))
    m = max(1, len(faces))
    per_attr = {}
    for i, a in enumerate(attrs):
        row = {"ey_acc": ey_hits[i] / m, "judge_acc": judge_hits[i] / m}
        for v in VARIANTS:
            row[f"success_{v}"] = succ[v][i] / m
            row[f"kept_{v}"] = kept[v][i] / m
        # The IcGAN edit unless the latent one is clearly better (noise on few faces decides nothing).
        gain = row["success_latent"] + row["kept_latent"] - row["success_label"] - row["kept_label"]
        row["best"] = "latent" if gain > 2 * LATENT_MARGIN else "label"
        row["gain"] = editor.gains[a]
        per_attr[a] = {k2: (round(float(v2), 4) if not isinstance(v2, str) else v2) for k2, v2 in row.items()}
    mean = {key: round(float(np.mean([r[key] for r in per_attr.values()])), 4)
            for key in per_attr[attrs[0]] if key not in ("best", "gain")}
    return {"n": len(faces), "per_attribute": per_attr, "mean": mean,
            "psnr_recon_ez_db": round(float(np.mean(psnr_raw)), 2),
            "psnr_recon_refined_db": round(float(np.mean(psnr_fit)), 2), "refine_steps": editor.refine_steps,
            "psnr_edit_vs_face_db": {v: round(float(np.mean(x)), 2) for v, x in likeness.items() if x},
            "ms_per_edit": round(float(np.median(ms_edit)), 1) if ms_edit else None,
            "ms_encode": round(float(np.median(ms_encode)), 1)}


def print_table(r: dict) -> None:
    cols = ["ey_acc", "judge_acc"] + [f"{k}_{v}" for v in VARIANTS for k in ("success", "kept")]
    short = ["E_y", "judge"] + [f"{'succ' if k == 'success' else 'kept'} {v}" for v in VARIANTS
                                 for k in ("success", "kept")]
    print("\n| attribute | gain | " + " | ".join(short) + " | best |")
    print("|---" * (len(cols) + 3) + "|")
    for a, row in r["per_attribute"].items():
        print(f"| {a} | {row['gain']:g} | " + " | ".join(f"{100 * row[c]:.0f}" for c in cols) + f" | {row['best']} |")
    print("| **mean** | | " + " | ".join(f"**{100 * r['mean'][c]:.1f}**" for c in cols) + " | |")
    print(f"\nreconstruction PSNR: E_z only {r['psnr_recon_ez_db']:.2f} dB, with {r['refine_steps']} refinement steps "
          f"{r['psnr_recon_refined_db']:.2f} dB; {r['ms_per_edit']} ms per edit after encoding; "
          f"encode {r['ms_encode']} ms ({r['n']} faces)")
    print("edited face vs the face itself (PSNR; higher = more of the person kept): "
          + ", ".join(f"{v} {x:.2f} dB" for v, x in r["psnr_edit_vs_face_db"].items()))


def save_grid(path: Path, editor, faces: list[np.ndarray], rows: int) -> None:
    """Rows of faces: original, reconstruction, then each attribute flipped (editor defaults)."""
    attrs = editor.attributes
    pad, cell, head = 2, 64, 40
    cols = 2 + len(attrs)
    rows = min(rows, len(faces))
    canvas = np.ones((head + rows * (cell + pad) + pad, cols * (cell + pad) + pad, 3), np.float32)
    for r, face in enumerate(faces[:rows]):
        s = editor.encode(face, options=WHOLE_FACE)
        flips = [{a: -1.0 if s.values[a] > 0 else 1.0} for a in attrs]
        row = [face, s.reconstruction, *s.previews(flips)]
        for c, img in enumerate(row):
            y, x = head + pad + r * (cell + pad), pad + c * (cell + pad)
            canvas[y:y + cell, x:x + cell] = img
    big = cv2.resize(canvas, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    big = cv2.cvtColor(np.round(big * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    for c, name in enumerate(["original", "reconstr."] + list(attrs)):
        x = 2 * (pad + c * (cell + pad)) + 2
        for j, part in enumerate([name[i:i + 14] for i in range(0, len(name), 14)][:3]):  # wrap long names
            cv2.putText(big, part, (x, 22 + 22 * j), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), big):
        raise SystemExit(f"could not write {path}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    at_256 = run_for_size(argv, "studio bench edit", {256: "studio.bench.edit256"}, 64,
                          "64 (edits scored at 64 px) or 256 (edits rendered at 256 px)")
    if at_256 is not None:
        return at_256
    p = argparse.ArgumentParser(prog="studio bench edit", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=64, choices=(64, 256),
                   help="64: this benchmark; 256: edits rendered at 256 px (studio/bench/edit256.py)")
    p.add_argument("--faces", type=Path, required=True, help="folder of 64x64 faces named like CelebA-HQ")
    p.add_argument("--attrs", type=Path, required=True, help="CelebA attribute file for those faces")
    p.add_argument("--holdout", type=int, default=1000,
                   help="use only the last N files by number (the trainer's validation faces); 0 = all")
    p.add_argument("--n", type=int, default=200, help="faces to evaluate (evenly spread over the set)")
    p.add_argument("--model", default=tool("edit").model)
    p.add_argument("--judge", default="icgan-judge64", help="the separately trained attribute classifier")
    p.add_argument("--refine", type=int, default=None, help="z refinement steps at encode (default: the editor's)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--grid", type=Path, default=None,
                   help="write a picture: original, reconstruction, one column per attribute")
    p.add_argument("--grid-rows", type=int, default=6)
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    p.add_argument("--calibrate", type=int, nargs="?", const=60, default=0, metavar="N",
                   help="first pick each attribute's gain on N training faces (default 60), read by E_y")
    p.add_argument("--update-card", action="store_true",
                   help="record figures, gains and the better method per attribute in the model card")
    args = p.parse_args(argv)

    import torch

    from studio.checkpoints import load_model, update_card
    from studio.engines.edit import FaceEditor

    if args.threads:
        torch.set_num_threads(args.threads)
    all_files = list_images(args.faces)
    split = len(all_files) - args.holdout if args.holdout else 0
    editor = FaceEditor(args.model, torch.device("cpu"), method="label", upscale=None, refine_steps=args.refine)
    attr_table = read_labels(args.attrs)

    def spread(files, n):
        return [files[i] for i in np.linspace(0, len(files) - 1, min(n, len(files))).round().astype(int)]

    if args.calibrate:
        train = spread(all_files[:split] or all_files, args.calibrate)
        gains, rate = calibrate(editor, Judge(editor.net.encoder_y), [read_square(f, 64) for f in train],
                                labels_for(train, attr_table))
        editor.gains = gains
        print(f"calibrated on {len(train)} training faces, read by E_y (share of flips read as asked, per gain):")
        print("| attribute | " + " | ".join(f"gain {g:g}" for g in GAINS) + " | chosen |")
        print("|---" * (len(GAINS) + 2) + "|")
        for i, a in enumerate(editor.attributes):
            print(f"| {a} | " + " | ".join(f"{100 * rate[g, i]:.0f}" for g in range(len(GAINS))) + f" | {gains[a]:g} |")
    files = spread(all_files[split:], args.n)
    labels = labels_for(files, attr_table)
    faces = [read_square(f, 64) for f in files]
    judge_net, _ = load_model(args.judge, torch.device("cpu"))
    print(f"{len(faces)} faces from {args.faces} (last {args.holdout or 'all'}), {torch.get_num_threads()} threads, "
          f"model {args.model}, judge {args.judge}")
    r = evaluate(editor, Judge(judge_net), faces, labels)
    print_table(r)
    best = {a: row["best"] for a, row in r["per_attribute"].items()}
    if args.grid:
        shown = FaceEditor(args.model, torch.device("cpu"), upscale=None, refine_steps=args.refine)
        shown.gains = dict(editor.gains)
        if bool(shown.net.directions.abs().sum() > 0):
            shown.methods = dict(best)
        save_grid(args.grid, shown, faces, args.grid_rows)
        print(f"grid: {args.grid}")
    if args.json:
        args.json.write_text(json.dumps(r, indent=2) + "\n", encoding="utf-8")
    if args.update_card:
        mean = r["mean"]
        chosen = [row[f"success_{best[a]}"] for a, row in r["per_attribute"].items()]
        kept = [row[f"kept_{best[a]}"] for a, row in r["per_attribute"].items()]
        fields = {"edit_gains": dict(editor.gains)} if args.calibrate else {}
        update_card(args.model, edit_methods=best, **fields, metrics={
            "edit_success_pct": round(100 * float(np.mean(chosen)), 1),
            "edit_kept_pct": round(100 * float(np.mean(kept)), 1),
            "edit_success_plain_pct": round(100 * mean["success_plain"], 1),
            "encoder_y_accuracy_pct": round(100 * mean["ey_acc"], 1), "recon_psnr_db": r["psnr_recon_refined_db"],
            "ms_per_edit": r["ms_per_edit"]},
            metrics_protocol=f"studio bench edit --n {len(faces)} (held-out faces, last {args.holdout} by number)"
                             f"{' --calibrate ' + str(args.calibrate) if args.calibrate else ''}, judge {args.judge}, "
                             f"local transfer, the card's gains and links, best method per attribute, "
                             f"{r['refine_steps']} refinement steps, {torch.get_num_threads()} CPU threads")
        print(f"recorded in the card of {args.model}: gains, methods per attribute and metrics")
    return 0
