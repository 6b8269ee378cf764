"""`studio bench video`: removing a logo from a clip where the truth is known.

    studio bench video                                   # the shared clips, 40 frames each
    studio bench video --cases vtest-moving --frames 100 --out /tmp/vbench   # + PNG strips, plot, JSON

A logo (the ProPainter logo from the clips folder) is pasted onto clean frames, then removed; the
clean frames are the truth. Cases:
  vtest-moving  vtest_10s (still camera, 768x576), the logo (200 px) sliding 5 px a frame: what it
                hides is seen in other frames
  vtest-still   the same logo not moving: nothing behind it is ever seen (the fill must hold still)
  car-logo      running_car_10s (moving camera, 972x540) with its logo mask scaled to the clip (6 %)
  skating-box   skating_overlay (panning camera, 640x360) under a still box of 5 % of the frame, on the ice
  skating-skater  the same box over the skater, whom the camera follows: she moves with the camera, so
                what the box hides of her is never seen elsewhere
  face-*        talking heads (fom_00, fom_04, tpsmm_driving) under a still box over the mouth and chin,
                placed from the face found on the first frame
Methods: scene (the scene engine), photo (the photo engine on each frame alone), telea (OpenCV
Telea on each frame); on face cases also face (the face engine: prior reuse + group loss) and
search (the image face engine on each frame alone: a search from scratch at its default steps).
All get the same mask: the logo's pixels grown by 2 px.
Figures per case and method: hole PSNR (dB, mean over frames), flicker (mean absolute change from
one frame to the next inside the hole of either frame, result minus truth, in 8-bit levels: 0 when
the result changes exactly as the truth does), the result's own change there (0: it holds still;
the truth's own change is the case's "truth's change": people walking behind a still logo),
seconds per frame (the engine only: no decoding or encoding) and CPU seconds per frame (all
threads; a busy shared machine stretches the first, not this).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from studio.catalogue import InpaintOptions, VideoInpaintOptions
from studio.jobs import Job
from studio.metrics import psnr
from studio.video.scene import grown_hole

CASES = ("vtest-moving", "vtest-still", "car-logo", "skating-box", "skating-skater")
FACE_CLIPS = {"face-fom00": "fom_00.mp4", "face-fom04": "fom_04.mp4", "face-tpsmm": "tpsmm_driving.mp4"}
FACE_CASES = tuple(FACE_CLIPS)
METHODS = ("scene", "photo", "telea")
FACE_METHODS = ("face", "search", "scene", "photo", "telea")
GROW = 2
COLOUR = (250, 245, 235)  # the pasted logo's


def read_frames(path: Path, n: int) -> list[np.ndarray]:
    from studio.video.io import VideoReader

    out = []
    for rgb in VideoReader(path):
        out.append(rgb)
        if len(out) == n:
            break
    return out


def logo(data: Path, width: int) -> np.ndarray:
    """The logo's alpha (float32 in [0, 1]) cropped to its shape and scaled to `width` px."""
    a = cv2.imread(str(data / "running_car_mask_logo.png"), cv2.IMREAD_GRAYSCALE)
    ys, xs = np.nonzero(a > 127)
    a = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    size = (width, round(width * a.shape[0] / a.shape[1]))
    return cv2.resize(a, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def place(alpha: np.ndarray, size: tuple[int, int], x: int, y: int) -> np.ndarray:
    """A frame-sized alpha with `alpha` at (x, y) (clipped at the frame's edges)."""
    w, h = size
    out = np.zeros((h, w), np.float32)
    ah, aw = alpha.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + aw), min(h, y + ah)
    out[y0:y1, x0:x1] = alpha[y0 - y:y1 - y, x0 - x:x1 - x]
    return out


def face_box(rgb: np.ndarray) -> np.ndarray:
    """A still box over the mouth and chin of the largest face of a frame (fractions of the Haar
    box), as a frame-sized alpha."""
    from studio.engines.faces import detect_faces

    found = detect_faces(rgb.astype(np.float32) / 255.0)
    if not found:
        raise SystemExit("no face found on the clip's first frame")
    x, y, w, h = found[0]
    fx0, fy0, fx1, fy1 = 0.30, 0.70, 0.70, 0.92
    out = np.zeros(rgb.shape[:2], np.float32)
    out[round(y + fy0 * h):round(y + fy1 * h), round(x + fx0 * w):round(x + fx1 * w)] = 1.0
    return out


def make_case(name: str, data: Path, n: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(clean frames, logo alpha per frame)."""
    if name in FACE_CASES:
        truth = read_frames(data / FACE_CLIPS[name], n)
        return truth, [face_box(truth[0])] * len(truth)
    clip = {"vtest-moving": "vtest_10s.mp4", "vtest-still": "vtest_10s.mp4", "car-logo": "running_car_10s.mp4",
            "skating-box": "skating_overlay.mp4", "skating-skater": "skating_overlay.mp4"}[name]
    truth = read_frames(data / clip, n)
    h, w = truth[0].shape[:2]
    if name == "vtest-moving":
        a = logo(data, 200)
        alphas = [place(a, (w, h), 60 + 5 * t, round(190 + 60 * np.sin(t / 10))) for t in range(len(truth))]
    elif name == "vtest-still":
        alphas = [place(logo(data, 200), (w, h), 260, 180)] * len(truth)
    elif name == "car-logo":
        a = cv2.imread(str(data / "running_car_mask_logo.png"), cv2.IMREAD_GRAYSCALE)
        alphas = [cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0] * len(truth)
    else:  # 5 % of the frame: on the ice left of the skater, or over her legs
        bw, bh = round(w * 0.3), round(h * 0.1667)
        x, y = (int(w * 0.45), int(h * 0.55)) if name == "skating-skater" else (int(w * 0.04), int(h * 0.62))
        box = np.zeros((h, w), np.float32)
        box[y:y + bh, x:x + bw] = 1.0
        alphas = [box] * len(truth)
    return truth, alphas


def damage(truth: list[np.ndarray], alphas: list[np.ndarray]) -> list[np.ndarray]:
    colour = np.array(COLOUR, np.float32)
    return [np.round(f * (1 - a[..., None]) + colour * a[..., None]).astype(np.uint8) for f, a in zip(truth, alphas)]


def run_method(method: str, frames: list[np.ndarray], masks: list[np.ndarray], engine, window: int):
    """(outputs, seconds per frame, CPU seconds per frame: all threads' time, which other programs
    on a shared machine do not inflate)."""
    t, cpu = time.perf_counter(), time.process_time()
    if method in ("scene", "face"):
        options = VideoInpaintOptions(engine=method, grow=0, window=window)
        outs = list(engine.run(iter(frames), iter(masks), options, Job(), len(frames)))
    else:
        if method == "search":
            fill = engine.face_engine().image
        elif method == "photo":
            fill = engine.fill_engine()
        else:
            from studio.engines.inpaint_classic import ClassicInpainter

            fill = ClassicInpainter()
        boxes = [None] * len(frames)
        if method == "search":  # the face engine's tracked squares: only the search differs
            from studio.video.face import FaceTrack

            track = FaceTrack()
            for f, m in zip(frames, masks):
                track.add(f.astype(np.float32) / 255.0, m)
            boxes = [track.box(i, len(frames) - 1) for i in range(len(frames))]
        outs = [np.clip(np.round(fill.run(f.astype(np.float32) / 255.0, m, InpaintOptions(box=b), Job()) * 255), 0,
                        255).astype(np.uint8) for f, m, b in zip(frames, masks, boxes)]
    return outs, (time.perf_counter() - t) / len(frames), (time.process_time() - cpu) / len(frames)


def flicker_series(outs: list[np.ndarray], truth: list[np.ndarray] | None, holes: list[np.ndarray]) -> list[float]:
    """Per pair of frames: mean |(R_t - R_t-1) - (T_t - T_t-1)| over the hole of either frame
    (truth None: mean |R_t - R_t-1|, the result's own change there)."""
    series = []
    for t in range(1, len(outs)):
        where = holes[t] | holes[t - 1]
        d = outs[t].astype(np.float32) - outs[t - 1]
        if truth is not None:
            d -= truth[t].astype(np.float32) - truth[t - 1]
        series.append(float(np.abs(d[where]).mean()))
    return series


def score(outs, truth, holes) -> dict:
    p = [psnr(o, t, peak=255.0, where=h) for o, t, h in zip(outs, truth, holes) if h.any()]
    return dict(psnr_hole=float(np.mean(p)), flicker=float(np.mean(flicker_series(outs, truth, holes))),
                change=float(np.mean(flicker_series(outs, None, holes))))


def strip(rows: list[tuple[str, list[np.ndarray]]], frames: list[int], width: int = 320) -> np.ndarray:
    """One row per method, the chosen frames side by side, the method's name on the left (RGB)."""
    lines = []
    for name, images in rows:
        tiles = []
        for i in frames:
            im = images[i]
            tiles.append(cv2.resize(im, (width, round(width * im.shape[0] / im.shape[1])), interpolation=cv2.INTER_AREA))
        row = np.hstack(tiles)
        cv2.putText(row, name, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 0), 2, cv2.LINE_AA)
        lines.append(row)
    return np.vstack(lines)


def plot(series: dict[str, list[float]], title: str, size=(640, 240)) -> np.ndarray:
    """Flicker per frame, one line per method (RGB)."""
    w, h = size
    img = np.full((h, w, 3), 255, np.uint8)
    top = max(max(v) for v in series.values()) or 1.0
    colours = [(200, 30, 30), (30, 120, 200), (40, 160, 40), (120, 120, 120)]
    for k, (name, values) in enumerate(series.items()):
        pts = np.array([(30 + i * (w - 40) / max(1, len(values) - 1), h - 20 - v / top * (h - 50))
                        for i, v in enumerate(values)], np.int32)
        cv2.polylines(img, [pts], False, colours[k % 4], 2, cv2.LINE_AA)
        cv2.putText(img, name, (40 + 110 * k, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colours[k % 4], 1, cv2.LINE_AA)
    cv2.putText(img, f"{title}: flicker per frame (0..{top:.1f} levels)", (30, h - 4), cv2.FONT_HERSHEY_SIMPLEX,
                0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio bench video", description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data/video"), help="the clips folder")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES + FACE_CASES)}")
    p.add_argument("--methods", default=None, help=f"comma-separated, from {', '.join(METHODS)} (face cases: "
                   f"{', '.join(FACE_METHODS)}); default: all of a case's")
    p.add_argument("--frames", type=int, default=40, help="first N frames of each clip")
    p.add_argument("--window", type=int, default=VideoInpaintOptions().window, help="the scene engine's window")
    p.add_argument("--model", default=None, help="photo inpainting checkpoint (default: the catalogue's)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=None, help="folder for PNG strips, flicker plots and results.json")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    if set(cases) - set(CASES + FACE_CASES) or set(methods or ()) - set(METHODS + FACE_METHODS):
        raise SystemExit(f"choose cases from {CASES + FACE_CASES} and methods from {FACE_METHODS}")
    if not (args.data / "vtest_10s.mp4").is_file():
        raise SystemExit(f"the clips are not in {args.data} (see --data)")
    from studio.devices import pick_device
    from studio.video.engine import VideoInpainter

    engine = VideoInpainter(args.model, pick_device(args.device))
    engine.fill_engine()  # loaded before the clock starts
    if any(c in FACE_CASES for c in cases):
        engine.face_engine()
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    report = {}
    print("| case | size | hole | truth's change | method | hole PSNR (dB) | flicker | result's change | s/frame | "
          "CPU s/frame |\n|---|---|---|---|---|---|---|---|---|---|")
    for case in cases:
        truth, alphas = make_case(case, args.data, args.frames)
        holes = [grown_hole(a, GROW) for a in alphas]
        masks = [h.astype(np.float32) for h in holes]
        damaged = damage(truth, alphas)
        h, w = truth[0].shape[:2]
        share = float(np.mean([m.mean() for m in masks]))
        outputs, series = {"damaged": damaged}, {}
        own = float(np.mean(flicker_series(truth, None, holes)))  # what moves behind the logo
        report[case] = {"frames": len(truth), "size": [w, h], "hole_share": share, "truth_change": own, "methods": {}}
        for method in methods or (FACE_METHODS if case in FACE_CASES else METHODS):
            outs, secs, cpu = run_method(method, damaged, masks, engine, args.window)
            r = score(outs, truth, holes) | {"sec_per_frame": secs, "cpu_sec_per_frame": cpu}
            report[case]["methods"][method] = r
            outputs[method], series[method] = outs, flicker_series(outs, truth, holes)
            print(f"| {case} | {w}x{h} | {100 * share:.1f} % | {own:.2f} | {method} | {r['psnr_hole']:.2f} | "
                  f"{r['flicker']:.2f} | {r['change']:.2f} | {secs:.3f} | {cpu:.3f} |", flush=True)
        if args.out:
            outputs["truth"] = truth
            picks = [round(i * (len(truth) - 1) / 3) for i in (1, 2, 3)]
            cv2.imwrite(str(args.out / f"{case}.png"), cv2.cvtColor(strip(list(outputs.items()), picks), cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(args.out / f"{case}_flicker.png"), cv2.cvtColor(plot(series, case), cv2.COLOR_RGB2BGR))
    if args.out:
        (args.out / "results.json").write_text(json.dumps(report, indent=2))
        print(f"strips, plots and results.json in {args.out}")
    return 0
