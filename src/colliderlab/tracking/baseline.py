"""Classical track finding, the baseline of the GNN pipeline (Exa.TrkX, arXiv:2103.06995): triplet
seeding, helix fits, track following and ambiguity resolution, in the spirit of ATLAS / ACTS
(arXiv:1405.6569, arXiv:2106.13593). It reads hits and geometry only, never truth.

1. Layers: straight lines from the beam line (``|z| <= z0_max``, ``|eta| <= 4``) are crossed with
   the layers of :class:`~colliderlab.tracking.layers.Layers`; layers crossed one after the other
   (or skipping ``layer_skip``) give the doublet layer pairs (:func:`layer_pairs`), the seed layer
   triplets (:func:`seed_layer_triplets`) and the layers that may follow a layer on a track.
2. Doublets: the outer layer's hits sorted by (bin of z or r, phi); each inner hit searches, with
   ``np.searchsorted``, the bins its r-z lines from ``|z0| <= z0_max`` reach, in a phi window set
   by the curvature at ``seed_pt_min`` and ``|d0| <= d0_max``.
3. Triplets: doublets sharing their middle hit with r-z slopes that agree (a sorted search on
   (middle hit, slope), then the slopes along the arc within the errors and the multiple
   scattering); the circle through the hits must allow pT >= ``seed_pt_min`` within its errors
   and have ``|d0| <= d0_max``; the ``max_seeds_per_middle`` best per middle hit are kept.
4. Following: all seeds move together one layer per step. A candidate's helix
   (:func:`~colliderlab.tracking.helixfit.fit_helix`) is crossed with the layers that may follow
   its last one; on the first crossed, the hit of least chi2 within ``window_chi2`` (measurement
   error, multiple scattering) is added and the helix refitted. Candidates with the same last two
   hits merge; a candidate stops after ``max_missed`` consecutive empty layers.
5. Ambiguity resolution: candidates with few holes (missed layers between hits) ranked by hit
   count, holes, mean chi2; each is accepted, in order, if at most ``max_shared`` of its hits are
   taken and it keeps ``min_hits`` (a greedy pass, run in parallel rounds).
6. A second pass seeds the hits left over on any layers, with the d0 of tracks born inside the
   tracker (conversions, V0 decays) that point away from the beam line, up to ``second_d0_max``.

The measurement errors of a layer are ``pitch / sqrt(12)`` from ``detectors.csv`` when given
(:func:`layer_resolution`): strips are coarse along z on a barrel layer and along r on a disk.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from colliderlab.tracking.helixfit import (
    C_LIGHT,
    Candidates,
    HitArrays,
    arc_of_chord,
    expand_ranges,
    follow_tracks,
    highland_angle,
)
from colliderlab.tracking.layers import Layers, hit_coordinates

__all__ = [
    "BaselineConfig",
    "find_tracks",
    "layer_pairs",
    "layer_resolution",
    "seed_layer_triplets",
]

_REQUIRED = ("hit_id", "x", "y", "z", "volume_id", "layer_id")
_TWO_PI = 2 * np.pi
_BINS = 16  # bins of the outer layer's z (or r) in the doublet search
_FLOOR = 0.02  # mm, added to every measurement error


@dataclass(frozen=True)
class BaselineConfig:
    """Cuts of :func:`find_tracks` (mm, GeV, rad); the defaults suit the TrackML-like card at 2 T.

    Seeding: ``seed_pt_min``; ``z0_max`` (3 x the 55 mm beam spot); ``d0_max``; ``cot_theta_max``
    (|eta| < 4); ``seed_start_layers`` (seeds start on a track's first layers); ``layer_skip``
    (layers a doublet may jump); ``seed_sigma`` (tolerance of the seed cuts in standard
    deviations); ``x0_per_layer`` (radiation lengths per layer, for multiple scattering);
    ``phi_margin``; ``seed_max_coarse`` (layers measuring worse along z or r make no seeds);
    ``max_seeds_per_middle``. Following: ``window_chi2`` (2 dof); ``ms_scale`` and
    ``window_floor`` (of the predicted position's error); ``max_missed``; ``max_hits``.
    Resolution: ``min_hits``; ``max_holes``; ``hole_penalty`` (a track needs ``min_hits +
    hole_penalty * holes`` hits); ``max_mean_chi2``; ``max_shared``. Second pass: ``second_pass``,
    ``second_d0_max``, ``pointing_angle``. Without detectors every layer measures to
    ``sigma_rphi`` across and ``sigma_coarse`` along z or r.
    """

    seed_pt_min: float = 0.9
    z0_max: float = 165.0
    d0_max: float = 2.0
    cot_theta_max: float = 27.3
    seed_start_layers: int = 2
    layer_skip: int = 1
    seed_sigma: float = 6.0
    x0_per_layer: float = 0.03
    phi_margin: float = 0.003
    seed_max_coarse: float = 1.0
    max_seeds_per_middle: int = 2
    window_chi2: float = 16.0
    ms_scale: float = 2.0
    window_floor: float = 0.1
    max_missed: int = 2
    max_hits: int = 30
    min_hits: int = 5
    max_holes: int = 2
    hole_penalty: float = 1.5
    max_mean_chi2: float = 6.0
    max_shared: int = 2
    second_pass: bool = True
    second_d0_max: float = 60.0
    pointing_angle: float = 0.05
    sigma_rphi: float = 0.05
    sigma_coarse: float = 1.0

    def __post_init__(self) -> None:
        positive = ("seed_pt_min", "z0_max", "d0_max", "cot_theta_max", "seed_sigma", "window_chi2")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"BaselineConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.seed_start_layers < 1 or self.max_seeds_per_middle < 1:
            raise ValueError("BaselineConfig needs seed_start_layers, max_seeds_per_middle >= 1")
        if not 3 <= self.min_hits <= self.max_hits:
            raise ValueError("BaselineConfig needs 3 <= min_hits <= max_hits")


def layer_resolution(detectors: pd.DataFrame, layers: Layers) -> tuple[np.ndarray, np.ndarray]:
    """``(L,)`` measurement errors (mm) of the layers: across (``pitch_u / sqrt(12)``) and along
    the coarse direction (``pitch_v / sqrt(12)``: z on a barrel layer, r on a disk)."""
    need = ("volume_id", "layer_id", "pitch_u", "pitch_v")
    missing = [c for c in need if c not in detectors.columns]
    if missing:
        raise ValueError(f"detectors table lacks {', '.join(missing)}")
    g = detectors.groupby(["volume_id", "layer_id"], sort=True)[["pitch_u", "pitch_v"]].max()
    idx = layers.index_of(*np.array(g.index.tolist()).T, what="detectors")
    sig_u, sig_c = np.full(len(layers), np.nan), np.full(len(layers), np.nan)
    sig_u[idx], sig_c[idx] = g.pitch_u.to_numpy() / np.sqrt(12), g.pitch_v.to_numpy() / np.sqrt(12)
    return sig_u, sig_c


def _crossing_sequences(layers: Layers, z0_max: float) -> list[np.ndarray]:
    """Layer indices crossed, in order, by straight lines from the beam line (|eta| <= 4); of
    layers crossed at one point (overlapping extents, e.g. two disks in one plane) the first."""
    sh = np.repeat(np.sinh(np.linspace(-4.0, 4.0, 801)), 3)[:, None]
    z0 = np.tile([-z0_max, 0.0, z0_max], 801)[:, None]
    pos, barrel = layers.position[None, :], layers.barrel[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(barrel, pos, (pos - z0) / sh)
        z = np.where(barrel, z0 + pos * sh, pos)
    inside = (r >= layers.r_min) & (r <= layers.r_max) & (z >= layers.z_min) & (z <= layers.z_max)
    inside &= r > 0
    r = np.where(inside, r, np.inf)
    order = np.argsort(r, axis=1, kind="stable")
    r = np.take_along_axis(r, order, axis=1)
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(r) & np.c_[np.ones(len(r), bool), np.diff(r, axis=1) > 1e-6]
    return [row[k] for row, k in zip(order, keep, strict=True)]


def layer_pairs(layers: Layers, config: BaselineConfig = BaselineConfig()) -> np.ndarray:
    """``(P, 2)`` (inner, outer) layer indices that a track from the beam line crosses one after
    the other, or with up to ``config.layer_skip`` layers between them."""
    seqs = _crossing_sequences(layers, config.z0_max)
    pairs = {
        (int(s[i]), int(s[i + k]))
        for s in seqs
        for k in range(1, 2 + config.layer_skip)
        for i in range(len(s) - k)
    }
    return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)


def seed_layer_triplets(layers: Layers, config: BaselineConfig = BaselineConfig()) -> np.ndarray:
    """``(T, 3)`` seed layer triplets: layers crossed one after the other (at most one jump of up
    to ``layer_skip`` layers) starting on one of a line's first ``seed_start_layers`` layers."""
    jumps = range(1, config.layer_skip + 1)
    steps = [(1, 1)] + [(1 + k, 1) for k in jumps] + [(1, 1 + k) for k in jumps]
    out = {
        (int(s[i]), int(s[i + a]), int(s[i + a + b]))
        for s in _crossing_sequences(layers, config.z0_max)
        for i in range(min(config.seed_start_layers, len(s)))
        for a, b in steps
        if i + a + b < len(s)
    }
    return np.array(sorted(out), dtype=np.int64).reshape(-1, 3)


def _successors(layers: Layers, config: BaselineConfig) -> np.ndarray:
    """``(L, S)`` the layers that may follow each layer on a track (the next two crossed by
    the lines of :func:`layer_pairs`), -1 padding."""
    nxt: list[set[int]] = [set() for _ in range(len(layers))]
    for seq in _crossing_sequences(layers, config.z0_max):
        for i, layer in enumerate(seq):
            nxt[int(layer)].update(int(j) for j in seq[i + 1 : i + 3])
    out = np.full((len(layers), max(1, max(len(n) for n in nxt))), -1, np.int64)
    for i, n in enumerate(nxt):
        out[i, : len(n)] = sorted(n)
    return out


def _prepare(hits: pd.DataFrame, layers: Layers, config: BaselineConfig, detectors) -> HitArrays:
    missing = [c for c in _REQUIRED if c not in hits.columns]
    if missing:
        raise ValueError(f"hits lack column(s) {', '.join(missing)} (needs {', '.join(_REQUIRED)})")
    if len(hits) == 0:
        raise ValueError("the event has no hits: nothing to reconstruct")
    if hits["hit_id"].duplicated().any():
        raise ValueError("hits repeat hit_id values")
    cyl = hit_coordinates(hits)
    if not all(np.isfinite(v).all() for v in cyl.values()):
        raise ValueError("hits have NaN or infinite x, y or z")
    layer = layers.index_of(hits.volume_id.to_numpy(), hits.layer_id.to_numpy())
    if detectors is not None:
        sig_u, sig_c = layer_resolution(detectors, layers)
    else:
        sig_u, sig_c = (
            np.full(len(layers), config.sigma_rphi),
            np.full(len(layers), config.sigma_coarse),
        )
    barrel = layers.barrel.astype(bool)
    coarse = np.hypot(sig_c[layer], _FLOOR)
    return HitArrays(
        x=hits.x.to_numpy(float),
        y=hits.y.to_numpy(float),
        z=cyl["z"],
        r=cyl["r"],
        phi=cyl["phi"],
        layer=layer,
        sig_u=np.hypot(sig_u[layer], _FLOOR),
        sig_z=np.where(barrel[layer], coarse, _FLOOR),
        sig_r=np.where(barrel[layer], _FLOOR, coarse),
        layer_sig_u=sig_u,
        layer_sig_c=sig_c,
        layer_barrel=barrel,
    )


def _two_r(config: BaselineConfig, b_field: float) -> float:
    """Diameter (mm) of the circle of a track of ``seed_pt_min``."""
    return 2e3 * config.seed_pt_min / (C_LIGHT * abs(b_field))


def _d0_cap(r1: np.ndarray, config: BaselineConfig, b_field: float, second: bool) -> np.ndarray:
    """Largest |d0| (mm) of a seed whose first hit is at radius ``r1``: ``d0_max``; in the second
    pass that of a track born at r <= r1 heading away from the beam line within
    ``pointing_angle``, ``d0_max + r1 (r1 / 2R + angle)``, at most ``second_d0_max``."""
    if not second:
        return np.full(np.shape(r1), config.d0_max)
    bound = config.d0_max + r1 * (r1 / _two_r(config, b_field) + config.pointing_angle)
    return np.minimum(config.second_d0_max, bound)


def _dphi_max(r1, r2, d0, config: BaselineConfig, b_field: float) -> np.ndarray:
    """Largest |phi2 - phi1| of a track of pT >= seed_pt_min and |d0| <= ``d0`` from r1 to r2."""
    two_r = _two_r(config, b_field)
    curv = np.arcsin(np.minimum(r2 / two_r, 1.0)) - np.arcsin(np.minimum(r1 / two_r, 1.0))
    return curv + d0 * np.abs(1 / r1 - 1 / r2) + config.phi_margin


def _coarse_window(h: HitArrays, inner, outer, barrel: bool, z0_max: float, tol: float):
    """Range of the outer layer's z (barrel) or r (disk) that the r-z lines from
    ``|z0| <= z0_max`` through each inner hit reach, widened by ``tol`` (mm)."""
    r1, z1 = h.r[inner][:, None], h.z[inner][:, None]
    z0 = np.array([[-z0_max, z0_max]])
    with np.errstate(divide="ignore", invalid="ignore"):
        if barrel:
            ends = np.concatenate(
                [z1 + (z1 - z0) * (r2 - r1) / r1 for r2 in (h.r[outer].min(), h.r[outer].max())],
                axis=1,
            )
            return ends.min(axis=1) - tol, ends.max(axis=1) + tol
        t = np.concatenate(
            [(z2 - z0) / (z1 - z0) for z2 in (h.z[outer].min(), h.z[outer].max())], axis=1
        )
    valid = t >= 1
    lo = r1[:, 0] * np.where(valid, t, np.inf).min(axis=1)
    hi = r1[:, 0] * np.where(valid, t, -np.inf).max(axis=1)
    hi = np.where((np.abs(z1[:, 0]) < z0_max) | ~valid.all(axis=1), np.inf, hi)
    return lo - tol, hi + tol


def _doublets(
    h: HitArrays, inner, outer, barrel: bool, config: BaselineConfig, b_field: float, second: bool
) -> dict:
    """Hit pairs (``inner`` layer, ``outer`` layer) compatible with the beam line: ``a, b`` hit
    indices, ``cot`` (dz/dr) and its error ``sig``."""
    coord = h.z[outer] if barrel else h.r[outer]
    c_lo, step = coord.min(), (coord.max() - coord.min()) / _BINS + 1e-6
    key = np.clip((coord - c_lo) // step, 0, _BINS - 1) * 20.0 + h.phi[outer] + np.pi
    ext_key = np.concatenate([key - _TWO_PI, key, key + _TWO_PI])
    order = np.argsort(ext_key, kind="stable")
    ext_key, ext = ext_key[order], np.tile(outer, 3)[order]
    sig_c = h.layer_sig_c[h.layer[outer[0]]] + 4 * h.layer_sig_c[h.layer[inner[0]]]
    lo_c, hi_c = _coarse_window(
        h, inner, outer, barrel, 1.1 * config.z0_max, config.seed_sigma * sig_c + 2
    )
    b1 = np.clip(np.floor((np.minimum(lo_c, 1e9) - c_lo) / step), 0, _BINS - 1).astype(np.int64)
    b2 = np.clip(np.floor((np.minimum(hi_c, 1e9) - c_lo) / step), -1, _BINS - 1).astype(np.int64)
    first, binned = expand_ranges(b1, np.where(hi_c >= c_lo, b2 + 1, b1))
    d0 = _d0_cap(h.r[inner], config, b_field, second)
    width = _dphi_max(h.r[inner], h.r[outer].max(), d0, config, b_field)[first]
    centre = binned * 20.0 + h.phi[inner][first] + np.pi
    lo, hi = (
        np.searchsorted(ext_key, centre - width),
        np.searchsorted(ext_key, centre + width, "right"),
    )
    owner, pos = expand_ranges(lo, hi)
    owner = first[owner]
    a, b = inner[owner], ext[pos]
    dr = h.r[b] - h.r[a]
    with np.errstate(divide="ignore", invalid="ignore"):
        cot = (h.z[b] - h.z[a]) / dr
        sig_a, sig_b = (
            np.hypot(h.sig_z[a], cot * h.sig_r[a]),
            np.hypot(h.sig_z[b], cot * h.sig_r[b]),
        )
        sig_z0 = np.hypot(sig_a * h.r[b], sig_b * h.r[a]) / dr
        dphi = np.abs(np.mod(h.phi[b] - h.phi[a] + np.pi, _TWO_PI) - np.pi)
        keep = (dr > 0.5) & (np.abs(cot) <= config.cot_theta_max)
        keep &= np.abs(h.z[a] - h.r[a] * cot) <= config.z0_max + config.seed_sigma * sig_z0
        keep &= dphi <= _dphi_max(h.r[a], h.r[b], d0[owner], config, b_field)
    return {
        "a": a[keep],
        "b": b[keep],
        "cot": cot[keep],
        "sig": (np.hypot(sig_a, sig_b) / dr)[keep],
    }


def _triplets(
    h: HitArrays, d1: dict, d2: dict, config: BaselineConfig, b_field: float, second: bool
) -> np.ndarray:
    """``(S, 3)`` seeds from inner doublets ``d1`` and outer ``d2`` sharing their middle hit."""
    span = 2 * config.cot_theta_max + 10
    key2 = d2["a"] * span + d2["cot"] + 0.5 * span
    order = np.argsort(key2, kind="stable")
    key2 = key2[order]
    ms = highland_angle(config.seed_pt_min, d1["cot"], config.x0_per_layer) * (1 + d1["cot"] ** 2)
    # on a curved track dz/dr = cot_theta / cos(psi) grows with r: psi < asin(r3 / 2R) at seed_pt_min
    sin_psi = min(h.r[d2["b"]].max() / _two_r(config, b_field), 0.99)
    tol = np.sqrt(d1["sig"] ** 2 + d2["sig"].max() ** 2 + ms**2)
    tol = config.seed_sigma * tol + np.abs(d1["cot"]) * (1 / np.sqrt(1 - sin_psi**2) - 1)
    key1 = d1["b"] * span + d1["cot"] + 0.5 * span
    i1, pos = expand_ranges(
        np.searchsorted(key2, key1 - tol), np.searchsorted(key2, key1 + tol, "right")
    )
    i2 = order[pos]
    a, b, c = d1["a"][i1], d1["b"][i1], d2["b"][i2]
    # the circle through the three hits: curvature, then the slopes dz/ds along the two arcs
    ax, ay, cx, cy = h.x[a] - h.x[b], h.y[a] - h.y[b], h.x[c] - h.x[b], h.y[c] - h.y[b]
    la, lc, chord = np.hypot(ax, ay), np.hypot(cx, cy), np.hypot(ax - cx, ay - cy)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.abs(2 * (ax * cy - ay * cx) / (la * lc * chord))
        t1 = (h.z[b] - h.z[a]) / arc_of_chord(la, kappa)
        t2 = (h.z[c] - h.z[b]) / arc_of_chord(lc, kappa)
        pt = C_LIGHT * 1e-3 * abs(b_field) / kappa
        theta0 = highland_angle(np.maximum(pt, config.seed_pt_min), t1, config.x0_per_layer)
        pull = np.abs(t1 - t2) / np.sqrt(
            d1["sig"][i1] ** 2 + d2["sig"][i2] ** 2 + (theta0 * (1 + t1 * t1)) ** 2
        )
        # curvature within errors of seed_pt_min's: the sagitta's error over chord^2 / 8
        sagitta = np.sqrt(
            h.sig_u[b] ** 2
            + 0.25 * (h.sig_u[a] ** 2 + h.sig_u[c] ** 2)
            + (theta0 * la * lc / chord) ** 2
        )
        kappa_max = C_LIGHT * 1e-3 * abs(b_field) / config.seed_pt_min
        keep = np.flatnonzero(
            (kappa - config.seed_sigma * 8 * sagitta / chord**2 <= kappa_max)
            & (pull <= config.seed_sigma)
        )
    seeds = np.stack([a[keep], b[keep], c[keep]], axis=1)
    if len(seeds) == 0:
        return seeds
    d0 = _triplet_d0(h, seeds)
    cap = _d0_cap(h.r[seeds[:, 0]], config, b_field, second)
    good = np.abs(d0) <= cap
    seeds, quality = seeds[good], (pull[keep] / config.seed_sigma + np.abs(d0) / cap)[good]
    # the best seeds of each middle hit (as ACTS's seed filter)
    order = np.lexsort((quality, seeds[:, 1]))
    middle = seeds[order, 1]
    start = np.flatnonzero(np.r_[True, middle[1:] != middle[:-1]])
    rank = np.arange(len(order)) - np.repeat(start, np.diff(np.r_[start, len(order)]))
    return seeds[order[rank < config.max_seeds_per_middle]]


def _triplet_d0(h: HitArrays, seeds: np.ndarray) -> np.ndarray:
    """|d0| (mm) of the circles through hit triplets ``(S, 3)``: the power of the origin over
    ``|centre| + R``, written with the centre scaled by ``dd`` (finite for straight lines)."""
    bx, by = h.x[seeds[:, 1]], h.y[seeds[:, 1]]
    ax, ay = h.x[seeds[:, 0]] - bx, h.y[seeds[:, 0]] - by
    cx, cy = h.x[seeds[:, 2]] - bx, h.y[seeds[:, 2]] - by
    dd, a2, c2 = 2 * (ax * cy - ay * cx), ax * ax + ay * ay, cx * cx + cy * cy
    ux, uy = cy * a2 - ay * c2, ax * c2 - cx * a2  # dd * (centre - b)
    power = dd * (bx * bx + by * by) + 2 * (bx * ux + by * uy)
    return np.abs(power) / (np.hypot(bx * dd + ux, by * dd + uy) + np.hypot(ux, uy))


def _seeds(
    h: HitArrays, layers: Layers, config: BaselineConfig, b_field: float, use, second: bool
) -> np.ndarray:
    """``(S, 3)`` seeds (hit indices, inner to outer) among the hits ``use``; ``second``: seeds of
    the second pass (on any layers, displaced: :func:`_d0_cap`)."""
    order = np.flatnonzero(use)
    order = order[np.argsort(h.layer[order], kind="stable")]
    bounds = np.searchsorted(h.layer[order], np.arange(len(layers) + 1))
    on = [order[bounds[i] : bounds[i + 1]] for i in range(len(layers))]
    cache: dict[tuple[int, int], dict] = {}

    def doublets(i: int, j: int) -> dict:
        if (i, j) not in cache:
            cache[(i, j)] = _doublets(
                h, on[i], on[j], bool(layers.barrel[j]), config, b_field, second
            )
        return cache[(i, j)]

    triplets = seed_layer_triplets(
        layers, replace(config, seed_start_layers=len(layers)) if second else config
    )
    usable = (h.layer_sig_c <= config.seed_max_coarse) & (np.diff(bounds) > 0)
    found = []
    for a, b, c in triplets:
        if usable[[a, b, c]].all() and len(doublets(a, b)["a"]) and len(doublets(b, c)["a"]):
            found.append(_triplets(h, doublets(a, b), doublets(b, c), config, b_field, second))
    return np.concatenate(found) if found else np.empty((0, 3), np.int64)


def _resolve(c: Candidates, n_hits: int, config: BaselineConfig) -> np.ndarray:
    """Track index of every hit (-1: none) after the greedy ambiguity resolution.

    Candidates with few enough holes are ranked by hit count, holes and mean chi2; in order, each
    is accepted if at most ``max_shared`` of its hits belong to accepted tracks and it keeps
    ``min_hits``. Run in parallel rounds: a candidate is decided once it is the best undecided
    holder of all its hits, which gives the sequential result."""
    mean_chi2 = c.chi2 / np.maximum(c.n - 3, 1)
    ok = (c.holes <= config.max_holes) & (mean_chi2 <= config.max_mean_chi2)
    ok &= c.n - config.hole_penalty * c.holes >= config.min_hits
    rank_order = np.lexsort((mean_chi2, c.holes, -c.n))
    rank = np.full(len(c.n), -1)
    rank[rank_order[ok[rank_order]]] = np.arange(int(ok.sum()))
    tid = np.repeat(np.arange(len(c.n)), c.n)
    hit = c.hits[c.hits >= 0]  # row-major: the hits of tid in order
    hit, tid = hit[ok[tid]], tid[ok[tid]]
    owner = np.full(n_hits, -1)
    undecided = ok.copy()
    while undecided.any():
        live = undecided[tid]
        best = np.full(n_hits, len(c.n))
        np.minimum.at(best, hit[live], rank[tid[live]])
        blocked = (
            np.bincount(tid[live], weights=best[hit[live]] != rank[tid[live]], minlength=len(c.n))
            > 0
        )
        ready = undecided & ~blocked
        on_ready = ready[tid]
        taken = np.bincount(tid[on_ready], weights=owner[hit[on_ready]] >= 0, minlength=len(c.n))
        accept = ready & (taken <= config.max_shared) & (c.n - taken >= config.min_hits)
        take = accept[tid] & (owner[hit] < 0)
        owner[hit[take]] = tid[take]
        undecided &= ~ready
    ids = np.unique(owner[owner >= 0])
    return np.where(owner >= 0, np.searchsorted(ids, owner), -1)


def find_tracks(
    hits: pd.DataFrame,
    layers: Layers,
    b_field: float,
    config: BaselineConfig = BaselineConfig(),
    *,
    detectors: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Classical track finding (module doc): triplet seeds, helix following, ambiguity resolution.

    Args:
        hits: one row per hit: ``hit_id, x, y, z`` (mm) ``, volume_id, layer_id``; never truth.
        layers: the geometry's layers (:func:`~colliderlab.tracking.layers.layers_from_detectors`).
        b_field: the solenoid field along +z (T).
        config: the cuts.
        detectors: the ``detectors.csv`` table, whose pitches give the layers' measurement errors
            (without it: ``config.sigma_rphi`` and ``config.sigma_coarse`` for every layer).

    Returns:
        ``hit_id, track_id`` for every hit in the order of ``hits``: track ids 0, 1, ... and -1
        for unassigned hits; each track has at least ``config.min_hits`` hits.

    Raises:
        ValueError: a missing column, no hits, a hit on a layer the geometry lacks, or B = 0.
    """
    if not np.isfinite(b_field) or b_field == 0:
        raise ValueError(f"b_field must be a non-zero field in tesla, got {b_field}")
    h = _prepare(hits, layers, config, detectors)
    track = np.full(len(h.x), -1)
    succ = _successors(layers, config)
    for second in (False, True)[: 1 + config.second_pass]:
        use = track < 0
        seeds = _seeds(h, layers, config, b_field, use, second)
        if len(seeds):
            candidates = follow_tracks(h, layers, seeds, succ, config, b_field, use)
            new = _resolve(candidates, len(h.x), config)
            track = np.where(new >= 0, new + track.max() + 1, track)
    return pd.DataFrame({"hit_id": hits["hit_id"].to_numpy(), "track_id": track})
