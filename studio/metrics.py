"""Image quality figures as the super-resolution literature computes them (and two of our own:
the detail ratio, for sharpness, and the colour shift from bicubic).

Protocol (Ledig et al. 2017 and most SR papers): compare on the luma channel Y of
ITU-R BT.601 in the 16..235 range, shave `scale` pixels from each border, PSNR with a
peak of 255, SSIM with an 11x11 Gaussian window of sigma 1.5 (Wang et al. 2004).
Inputs are float RGB arrays in [0, 1], shape (H, W, 3), or Y arrays (H, W).
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma in 0..255 (16..235 for in-range input), from RGB in [0, 1]."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return 16.0 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]


def shave(a: np.ndarray, border: int) -> np.ndarray:
    return a[border:-border, border:-border] if border > 0 else a


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0, where: np.ndarray | None = None) -> float:
    """PSNR in dB, computed in float64; inf for identical images. Use peak=1.0 for [0, 1] floats.
    `where` (HxW bool) limits the mean squared error to those pixels, e.g. an inpainted hole."""
    d = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2
    mse = float(np.mean(d[where] if where is not None else d))
    return float("inf") if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def ssim(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """Mean SSIM of two single-channel images (valid region of the 11x11 window)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    k = cv2.getGaussianKernel(11, 1.5)
    win = k @ k.T

    def filt(x):
        return cv2.filter2D(x, -1, win, borderType=cv2.BORDER_REFLECT)[5:-5, 5:-5]

    mu_a, mu_b = filt(a), filt(b)
    va = filt(a * a) - mu_a**2
    vb = filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
    return float(s.mean())


def sr_scores(out_rgb: np.ndarray, hr_rgb: np.ndarray, scale: int = 4) -> tuple[float, float]:
    """(Y-PSNR, Y-SSIM) of an upscaled image against the original, literature protocol."""
    # The output is scored as the 8-bit image a user would save (as BasicSR and others do).
    out8 = np.round(np.clip(out_rgb, 0, 1) * 255.0) / 255.0
    y_out = shave(rgb_to_y(out8), scale)
    y_hr = shave(rgb_to_y(hr_rgb), scale)
    return psnr(y_out, y_hr), ssim(y_out, y_hr)


def crop_to_multiple(rgb: np.ndarray, scale: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    return rgb[: h - h % scale, : w - w % scale]


def colour_shift(out_rgb: np.ndarray, ref_rgb: np.ndarray, sigma: float = 4.0) -> float:
    """Colour drift of an output from a reference (bicubic, in `studio bench sr`), in 8-bit levels.

    Both RGB images are Gaussian-blurred (sigma in pixels, reflected borders), which keeps each
    pixel's local per-channel mean and removes detail: at the default sigma of 4, one input
    pixel of a 4x upscale, detail finer than 8 pixels is damped below 1 %. The figure is the
    mean over pixels and channels of |blurred output - blurred reference| times 255, so an
    output equal to the reference plus a constant 2/255 in every channel has shift 2.0, and
    one that only adds fine detail (texture) has about 0. Edges sharper than the reference's
    count a little: Set5's originals are 0.37 from their bicubic upscales.
    """
    def local_mean(rgb):
        return cv2.GaussianBlur(np.asarray(rgb, np.float64), (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)

    return float(np.mean(np.abs(local_mean(np.clip(out_rgb, 0, 1)) - local_mean(ref_rgb))) * 255.0)


def detail_ratio(out_rgb: np.ndarray, hr_rgb: np.ndarray, where: np.ndarray | None = None) -> float:
    """Mean |Laplacian| of the output's Y over the original's: how much fine detail came back
    (bicubic ~0.2, 1.0 = as much as the original). PSNR rewards blur; this shows sharpness.
    `where` (HxW bool) limits both means to those pixels, e.g. an inpainted hole."""
    lap_out = np.abs(cv2.Laplacian(rgb_to_y(np.clip(out_rgb, 0, 1)), cv2.CV_64F))
    lap_hr = np.abs(cv2.Laplacian(rgb_to_y(hr_rgb), cv2.CV_64F))
    if where is not None:
        lap_out, lap_hr = lap_out[where], lap_hr[where]
    return float(lap_out.mean() / max(lap_hr.mean(), 1e-9))


SWD_PATCH = 7  # Karras et al. (2018): 7x7 patches of each Laplacian-pyramid level
SWD_MIN_SIDE = 16  # levels stop before the image's short side falls under this


def laplacian_pyramid(rgb: np.ndarray, levels: int) -> list[np.ndarray]:
    """Band-pass levels, finest first; the last entry is the low-pass residue."""
    out, cur = [], np.asarray(rgb, np.float32)
    for _ in range(levels - 1):
        down = cv2.pyrDown(cur)
        out.append(cur - cv2.pyrUp(down, dstsize=(cur.shape[1], cur.shape[0])))
        cur = down
    out.append(cur)
    return out


def swd_levels(shape: tuple[int, int]) -> int:
    """How many pyramid levels an image of this (h, w) gets."""
    n, side = 1, min(shape)
    while side // 2 >= SWD_MIN_SIDE:
        n, side = n + 1, side // 2
    return n


def pyramid_patches(rgb: np.ndarray, where: np.ndarray | None, levels: int, per_level: int,
                    rng: np.random.Generator) -> list[np.ndarray]:
    """Up to `per_level` random 7x7x3 patches (flattened) per Laplacian level whose centres lie
    in `where` (HxW bool, taken at each level's resolution: any pixel of the block; None = all)."""
    r = SWD_PATCH // 2
    out = []
    for k, band in enumerate(laplacian_pyramid(rgb, levels)):
        h, w = band.shape[:2]
        if where is None:
            ok = np.ones((h, w), bool)
        else:
            ok = cv2.resize(where.astype(np.uint8), (w, h), interpolation=cv2.INTER_AREA) > 0 if k else where
        ok = ok.copy()
        ok[:r], ok[h - r:], ok[:, :r], ok[:, w - r:] = False, False, False, False
        ys, xs = np.nonzero(ok)
        if len(ys) == 0:
            out.append(np.zeros((0, SWD_PATCH * SWD_PATCH * 3), np.float32))
            continue
        pick = rng.choice(len(ys), min(per_level, len(ys)), replace=False)
        oy, ox = np.mgrid[-r:r + 1, -r:r + 1]
        out.append(band[ys[pick, None, None] + oy, xs[pick, None, None] + ox].reshape(len(pick), -1))
    return out


def sliced_wasserstein(a: list[np.ndarray], b: list[np.ndarray], *, projections: int = 512, repeats: int = 4,
                       seed: int = 0) -> float:
    """Mean over pyramid levels of the sliced Wasserstein distance between patch sets `a` (e.g.
    fills) and `b` (the truth), times 1000 as Karras et al. report it. Both sets of a level are
    normalised per channel by the truth's mean and standard deviation, so missing texture (a
    blur) and a colour shift both count. Levels where either set is empty are skipped."""
    rng = np.random.default_rng(seed)
    dists = []
    for pa, pb in zip(a, b):
        if len(pa) == 0 or len(pb) == 0:
            continue
        n = min(len(pa), len(pb))
        pa = pa[rng.choice(len(pa), n, replace=False)].reshape(n, -1, 3).astype(np.float64)
        pb = pb[rng.choice(len(pb), n, replace=False)].reshape(n, -1, 3).astype(np.float64)
        mean, std = pb.mean((0, 1)), pb.std((0, 1)) + 1e-8
        pa, pb = ((pa - mean) / std).reshape(n, -1), ((pb - mean) / std).reshape(n, -1)
        total = 0.0
        for _ in range(repeats):
            d = rng.standard_normal((pa.shape[1], projections))
            d /= np.linalg.norm(d, axis=0, keepdims=True)
            total += np.abs(np.sort(pa @ d, 0) - np.sort(pb @ d, 0)).mean()
        dists.append(total / repeats)
    return float(np.mean(dists) * 1e3) if dists else float("nan")


def agreement(mask: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """IoU, precision and recall of a proposed mask against a true one (both HxW, > 127 = damage)."""
    m, t = mask > 127, truth > 127
    inter = float((m & t).sum())
    return {"iou": inter / max(float((m | t).sum()), 1.0), "precision": inter / max(float(m.sum()), 1.0),
            "recall": inter / max(float(t.sum()), 1.0), "mask_fraction": float(m.mean()),
            "damage_fraction": float(t.mean())}
