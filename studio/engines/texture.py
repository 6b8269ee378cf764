"""Texture from the photo itself: a hole's fill re-synthesised from the photo's known pixels,
guided by the net's prediction (structure from the net, texture from the photo).

The net fills a large hole with plausible colours and layout but smooth, as an average of what
could be there. This rebuilds the hole coarse to fine from patches of the known part of the same
crop, in the spirit of Wexler et al. (2007) with PatchMatch (Barnes et al. 2009) as the search:

- a pyramid of the crop; at the coarsest level the hole starts as the net's fill;
- at each level, every pixel whose patch touches the hole gets a nearest known patch (its
  nearest-neighbour field), found by PatchMatch run in parallel over all pixels: neighbours'
  matches shifted by one (and 2, 4, 8.. px: jump flooding), then random tries at halving radii;
- the distance adds to the patches' own difference a guide term: the net's fill and the source,
  both blurred, must agree. It weighs most at the coarse levels (layout) and near the hole's
  edge, where the net is reliable; deep inside a large hole the net is only an average, so there
  the photo's own texture continues (a lattice stays a lattice). Nearer sources win ties;
- the hole's pixels are voted from the matched patches (each pixel the weighted mean of what the
  patches covering it copy; at the finest level the best matches dominate, which keeps copies
  sharp), a few rounds (EM) per level;
- the field is carried to the next finer level (offsets doubled), where the vote copies that
  level's pixels: the full-resolution texture of the photo, not an enlargement.

A pixel's descriptor is 3x3 cells of 2x2-px means (6x6 px), reduced by PCA, so a candidate
costs one small gather; all in torch, whose gathers use every core.

Where the photo has no source of the net's colour (a robe mostly inside the hole) the copy drifts
in colour; `textured_fill` puts back the net's local mean at a coarse scale (CORRECT_SIGMA), which
corrects a colour cast without flattening the texture.
"""

from __future__ import annotations

import cv2
import numpy as np

CELL = 2  # descriptor cell side (px); 3x3 cells make a 6x6 footprint (3-px cells lose fine stripes)
R = CELL + CELL // 2  # footprint radius (3)
VOTE = 2  # vote window radius: each hole pixel averages 5x5 patches' copies
MIN_SIDE = 24  # the coarsest level keeps at least this many px on the hole's crop's short side
GUIDE_SIGMA = 4.0  # the guide compares the net's fill and the source at this blur
GUIDE_WEIGHT = 10.0  # weight of the guide's distance against the patch's own, at the coarsest level
GUIDE_DECAY = 0.5  # and its factor per finer level
EM_COARSE, EM_FINE = 4, 2  # vote rounds at the coarsest level and at each finer one
PM_ITERS = 3  # PatchMatch rounds per search on a fresh field
PM_ITERS_CARRIED = 1  # and on one carried from a coarser level (already close: speed)
CARRIED_JUMPS = 2  # a carried field propagates 1 and 2 px (it is coherent already)
LOCAL = 8  # random-search radius at levels that carry a coarser level's field
SHARP = 0.01  # the finest level's vote trusts its best matches (sharp copies; 1 = blurry)
CORRECT_SIGMA = 24.0  # see the module's last paragraph: smaller flattens clumps of texture (4: a lattice fades)
VOTE_CHUNK = 65536  # hole pixels voted at once (bounds memory)
FINE_SEARCH_LIMIT = 65536  # the finest level gets one vote round when it has more targets than this (speed)
PCA_DIMS = 12  # of the descriptor's 27 numbers (keeps ~all of the distances' variance on photos)
GUIDE_DIMS = 6  # of the blurred descriptor's 27 (smooth: a few components hold it)
SPATIAL = 1.0  # preference for near sources, per squared level size (see _Level)
GUIDE_REACH = 16.0  # px at each level: the guide's weight falls by e each this much deeper in the hole
MIN_SOURCES = 256  # a coarser level is used only if it keeps this many source patches


def _descriptor(img: np.ndarray) -> np.ndarray:
    """HxWx27: at each pixel the means of the 3x3 cells of its 6x6 neighbourhood (borders reflected)."""
    box = cv2.blur(img, (CELL, CELL), borderType=cv2.BORDER_REFLECT_101)
    pad = cv2.copyMakeBorder(box, CELL, CELL, CELL, CELL, cv2.BORDER_REFLECT_101)
    h, w = img.shape[:2]
    cells = [pad[CELL + dy:CELL + dy + h, CELL + dx:CELL + dx + w] for dy in (-CELL, 0, CELL) for dx in (-CELL, 0, CELL)]
    return np.concatenate(cells, axis=2)


class _Level:
    """One pyramid level's search state."""

    def __init__(self, image: np.ndarray, hole: np.ndarray, guide: np.ndarray, weight: float, rng):
        import torch

        self.h, self.w = hole.shape
        self.hole, self.guide, self.rng = hole, guide, rng
        self.image = image.copy()
        inner = _source_mask(hole)
        self.src_ok = torch.from_numpy(inner.astype(bool).ravel())
        self.src = torch.from_numpy(np.flatnonzero(inner))
        # Targets: pixels whose vote reaches the hole.
        reach = cv2.dilate(hole.astype(np.uint8), np.ones((2 * VOTE + 1, 2 * VOTE + 1), np.uint8)) > 0
        ty, tx = np.nonzero(reach)
        self.ty, self.tx = torch.from_numpy(ty.astype(np.int64)), torch.from_numpy(tx.astype(np.int64))
        # The net's fill is trusted near the known pixels and less deep inside a hole, where it is
        # an average: there the photo's own texture continues (a lattice stays a lattice).
        depth = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)[ty, tx]
        self.guide_w = torch.from_numpy((weight * np.exp(-depth / GUIDE_REACH)) ** 2).float()
        # Nearer sources are preferred a little (SPATIAL per squared level size): the texture
        # round a hole continues it rather than a look-alike from the far side of the crop.
        self.spatial = SPATIAL / float(max(self.h, self.w)) ** 2
        tid = np.full(hole.shape, -1, np.int64)
        tid[ty, tx] = np.arange(len(ty))
        self.tid = torch.from_numpy(tid.ravel())
        self.nnf = None  # (n,) linear source index per target
        self.dist = None
        self._src_feat = self._guide_feat = None
        # The targets' bounding box grown by the footprint plus the guide's blur (it bounds the
        # pixels their features read), clamped to the crop.
        m = R + 1 + int(3 * GUIDE_SIGMA)
        self.box = (max(0, int(ty.min()) - m), max(0, int(tx.min()) - m),
                    min(self.h, int(ty.max()) + m + 1), min(self.w, int(tx.max()) + m + 1)) if len(ty) else (0, 0, 1, 1)

    @property
    def src_feat(self):
        """The sources' features (computed once per level, on first use): their own descriptor on its PCA_DIMS principal components, then their look blurred at
        GUIDE_SIGMA (what a smooth fill is compared with) on its GUIDE_DIMS."""
        import torch

        if self._src_feat is None:
            pick = self.src[torch.from_numpy(self.rng.integers(0, len(self.src), min(len(self.src), 4096)))]
            parts, self._proj = [], []
            for img, dims in ((self.image, PCA_DIMS), (_blur(self.image), GUIDE_DIMS)):
                f = torch.from_numpy(_descriptor(img).reshape(self.h * self.w, -1))
                mean = f[pick].mean(0)
                basis = torch.linalg.svd(f[pick] - mean, full_matrices=False).Vh[:dims].T.contiguous()
                self._proj.append((mean, basis))
                parts.append((f - mean) @ basis)
            self._src_feat = torch.cat(parts, 1)
        return self._src_feat

    @property
    def usable(self) -> bool:
        return len(self.src) >= 16 and len(self.ty) > 0

    def target_features(self):
        """The targets' features from the current image and the guide, projected like the
        sources'. Only the targets' bounding box is described (plus the footprint), and the
        guide's part once."""
        import torch

        y0, x0, y1, x1 = self.box
        ty, tx = self.ty - y0, self.tx - x0
        self.src_feat  # noqa: B018 (sets the projections)
        (mo, bo), (mg, bg) = self._proj
        if self._guide_feat is None:
            g = _blur(self.guide)[y0:y1, x0:x1]
            self._guide_feat = (torch.from_numpy(_descriptor(g))[ty, tx] - mg) @ bg
        own = (torch.from_numpy(_descriptor(self.image[y0:y1, x0:x1]))[ty, tx] - mo) @ bo
        return torch.cat([own, self._guide_feat], 1)

    def _distance(self, feat, cand):
        """Own-look distance plus the guide's, weighted per target (see GUIDE_REACH)."""
        diff = (feat - self.src_feat[cand]) ** 2
        far = ((cand // self.w - self.ty) ** 2 + (cand % self.w - self.tx) ** 2).float() * self.spatial
        return diff[:, :PCA_DIMS].sum(1) + self.guide_w * diff[:, PCA_DIMS:].sum(1) + far

    def random_sources(self, n: int):
        import torch

        return self.src[torch.from_numpy(self.rng.integers(0, len(self.src), n))]

    def _try(self, feat, cand, ok):
        """Keep candidate sources that are valid and closer than the current match."""
        import torch

        cand = torch.where(ok, cand, self.nnf)
        ok = ok & self.src_ok[cand]
        d = self._distance(feat, cand)
        better = ok & (d < self.dist)
        self.nnf = torch.where(better, cand, self.nnf)
        self.dist = torch.where(better, d, self.dist)

    def search(self, wide: bool = True) -> None:
        """PatchMatch rounds; `wide`: a fresh field (every jump length, random tries anywhere),
        else a carried one (jumps up to 2**(CARRIED_JUMPS-1) px, random tries within LOCAL px)."""
        import torch

        feat = self.target_features()
        n = len(self.ty)
        if self.nnf is None:
            self.nnf = self.random_sources(n)
        bad = ~self.src_ok[self.nnf]
        if bad.any():
            self.nnf[bad] = self.random_sources(int(bad.sum()))
        self.dist = self._distance(feat, self.nnf)
        h, w = self.h, self.w
        jumps = [1 << k for k in range(int(np.log2(max(h, w))), -1, -1)]
        for _ in range(PM_ITERS if wide else PM_ITERS_CARRIED):
            # Propagation (jump flooding): the neighbour at offset d matched s, so try s - d.
            for j in jumps if wide else jumps[-CARRIED_JUMPS:]:
                for dy, dx in ((j, 0), (-j, 0), (0, j), (0, -j)):
                    ny, nx = self.ty + dy, self.tx + dx
                    inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
                    nt = self.tid[(ny.clamp(0, h - 1) * w + nx.clamp(0, w - 1))]
                    has = inside & (nt >= 0)
                    s = self.nnf[nt.clamp_min(0)]
                    sy, sx = s // w - dy, s % w - dx
                    ok = has & (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
                    self._try(feat, sy.clamp(0, h - 1) * w + sx.clamp(0, w - 1), ok)
            # Random search around the current match at halving radii (and one fresh draw) on a
            # fresh field; a carried one only looks nearby, so it stays coherent (no speckles).
            if wide:
                self._try(feat, self.random_sources(n), torch.ones(n, dtype=torch.bool))
            r = max(h, w) if wide else LOCAL
            while r >= 1:
                off = torch.from_numpy(self.rng.integers(-r, r + 1, (2, n)))
                sy, sx = self.nnf // w + off[0], self.nnf % w + off[1]
                ok = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
                self._try(feat, sy.clamp(0, h - 1) * w + sx.clamp(0, w - 1), ok)
                r //= 2

    def vote(self, sharp: float = 1.0) -> None:
        """Each hole pixel becomes the weighted mean of the pixels its covering patches copy
        (weights exp(-d / (2 sharp * median d)): a smaller `sharp` trusts the best matches more)."""
        import torch

        h, w = self.h, self.w
        hy, hx = np.nonzero(self.hole)
        img = torch.from_numpy(self.image.reshape(h * w, 3))
        scale = 2 * sharp * torch.quantile(self.dist[:100000], 0.5).clamp_min(1e-8)
        vy, vx = (torch.arange(-VOTE, VOTE + 1).repeat_interleave(2 * VOTE + 1)[:, None],
                  torch.arange(-VOTE, VOTE + 1).repeat(2 * VOTE + 1)[:, None])
        for i in range(0, len(hy), VOTE_CHUNK):
            y = torch.from_numpy(hy[i:i + VOTE_CHUNK].astype(np.int64))[None]
            x = torch.from_numpy(hx[i:i + VOTE_CHUNK].astype(np.int64))[None]
            ty, tx = y + vy, x + vx  # (window, n): the patches centred there cover the pixel
            t = self.tid[ty.clamp(0, h - 1) * w + tx.clamp(0, w - 1)]
            ok = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w) & (t >= 0)
            t = t.clamp_min(0)
            s = self.nnf[t]
            src = (s // w - vy).clamp(0, h - 1) * w + (s % w - vx).clamp(0, w - 1)
            d = torch.where(ok, self.dist[t], torch.inf)
            # Relative to each pixel's best patch, so the weights never all vanish.
            wt = torch.exp(-(d - d.min(0).values) / scale)
            out = (img[src] * wt[..., None]).sum(0) / wt.sum(0)[:, None]
            self.image[y[0].numpy(), x[0].numpy()] = out.numpy()

    def upsample_into(self, finer: _Level) -> None:
        """Carry the field to a level twice as large: each fine target takes its coarse parent's
        source, doubled, plus its own position within the parent."""
        import torch

        fy, fx = finer.ty, finer.tx
        cy, cx = (fy // 2).clamp(0, self.h - 1), (fx // 2).clamp(0, self.w - 1)
        t = self.tid[cy * self.w + cx]
        have = t >= 0
        s = self.nnf[t.clamp_min(0)]
        sy = (s // self.w) * 2 + (fy - cy * 2)
        sx = (s % self.w) * 2 + (fx - cx * 2)
        cand = sy.clamp(0, finer.h - 1) * finer.w + sx.clamp(0, finer.w - 1)
        fresh = finer.random_sources(len(fy))
        finer.nnf = torch.where(have & finer.src_ok[cand], cand, fresh)


def _source_mask(hole: np.ndarray) -> np.ndarray:
    """1 where a pixel's whole footprint is known and inside the crop (it can be a source)."""
    known = (~hole).astype(np.uint8)
    return cv2.erode(known, np.ones((2 * R + 1, 2 * R + 1), np.uint8), borderValue=0)


def _blur(img: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), GUIDE_SIGMA, borderType=cv2.BORDER_REFLECT_101)


def _down(img: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half size; a coarse pixel is hole if any of its 2x2 was (no damaged pixel leaks in)."""
    h, w = hole.shape
    size = ((w + 1) // 2, (h + 1) // 2)
    small = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(hole.astype(np.uint8), size, interpolation=cv2.INTER_AREA) > 0
    ph, pw = h + h % 2, w + w % 2
    padded = np.zeros((ph, pw), bool)
    padded[:h, :w] = hole
    coarse |= padded.reshape(ph // 2, 2, pw // 2, 2).any(axis=(1, 3))
    return small, coarse


def synthesise(image: np.ndarray, hole: np.ndarray, guide: np.ndarray, *, seed: int = 0,
               guide_weight: float | None = None) -> np.ndarray:
    """image: HxWx3 float32 (hole pixels ignored); hole: HxW bool; guide: HxWx3, the net's fill.
    Returns a copy whose hole holds texture copied from the known pixels, laid out like `guide`.
    Pixels outside the hole are returned as they are."""
    import torch

    hole = np.asarray(hole, bool)
    if not hole.any():
        return image
    rng = np.random.default_rng(seed)
    start = np.where(hole[..., None], guide, image).astype(np.float32)
    guide = guide.astype(np.float32)
    # Pyramid: halve while the short side stays >= MIN_SIDE and the level keeps sources.
    pyr = [(start, hole, guide)]
    while True:
        img, hl, g = pyr[-1]
        if min(hl.shape) // 2 < MIN_SIDE:
            break
        small, coarse = _down(img, hl)
        gs = cv2.resize(g, (coarse.shape[1], coarse.shape[0]), interpolation=cv2.INTER_AREA)
        if _source_mask(coarse).sum() < MIN_SOURCES:
            break
        pyr.append((np.where(coarse[..., None], gs, small).astype(np.float32), coarse, gs))
    with torch.inference_mode():
        prev = None
        for k in range(len(pyr) - 1, -1, -1):
            img, hl, g = pyr[k]
            # The guide sets the layout at the coarse levels; at fine ones the patch's own look must
            # win, or any source of the right colour matches and the copy loses its coherence.
            weight = (GUIDE_WEIGHT if guide_weight is None else guide_weight) * GUIDE_DECAY ** (len(pyr) - 1 - k)
            level = _Level(img, hl, g, weight, rng)
            if not level.usable:  # too little known texture: the net's fill stays
                out = image.copy()
                out[hole] = start[hole]
                return out
            rounds = EM_COARSE if prev is None else 1 if (k == 0 and len(level.ty) > FINE_SEARCH_LIMIT) else EM_FINE
            if prev is not None:
                prev.upsample_into(level)
                # First vote from the carried field: this level's own pixels, before searching again.
                level.dist = torch.zeros(len(level.ty))
                level.vote()
            for _ in range(rounds):
                level.search(wide=prev is None)
                level.vote(SHARP if k == 0 else 1.0)
            prev = level
    out = image.copy()
    out[hole] = np.clip(prev.image[hole], 0.0, 1.0)
    return out


def textured_fill(image: np.ndarray, hole: np.ndarray, fill: np.ndarray, strength: float, *, seed: int = 0) -> np.ndarray:
    """The net's `fill` (HxWx3, the crop with the hole filled) with the photo's texture: the
    synthesis, its local colour mean set to the fill's, mixed in at `strength` (0 = the fill as
    it is, 1 = all texture). Pixels outside the hole are `image`'s."""
    hole = np.asarray(hole, bool)
    out = np.where(hole[..., None], fill, image).astype(np.float32)
    if strength <= 0 or not hole.any():
        return out
    syn = synthesise(image, hole, fill, seed=seed)
    low = cv2.GaussianBlur(fill.astype(np.float32) - syn, (0, 0), CORRECT_SIGMA)
    textured = np.clip(syn + low, 0.0, 1.0)
    out[hole] += float(strength) * (textured[hole] - out[hole])
    return out
