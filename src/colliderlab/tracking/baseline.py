"""Classical track finding, the baseline of the GNN pipeline: triplet seeding, helix fits, track
following and ambiguity resolution (in the spirit of ATLAS / ACTS seeding, arXiv:1405.6569,
arXiv:2106.13593; compare Exa.TrkX, arXiv:2103.06995, on the same events).

1. Layers: straight lines from the beam line (``|z| <= z0_max``, ``|eta| <= 4``) are crossed with
   the layers of :class:`~colliderlab.tracking.layers.Layers`; layers that a line crosses one
   after the other (or skipping ``layer_skip`` layers, for inefficiencies) make the doublet layer
   pairs, and triplets of them starting on a line's first ``seed_start_layers`` layers the seed
   layer triplets. Nothing is assumed about the layout.
2. Doublets: hits of the inner layer are matched to the outer layer's hits sorted by phi, in a
   window (``np.searchsorted``) bounded by the curvature of ``seed_pt_min`` and ``d0_max``; the
   r-z line must point back to ``|z0| <= z0_max``.
3. Triplets: doublets sharing their middle hit with compatible r-z slopes (again a sorted search
   on (middle hit, slope)); the circle through the three hits must have pT >= ``seed_pt_min``
   and ``|d0| <= d0_max``, and the slopes along the arc must agree within the errors and the
   multiple scattering (Highland) at the middle layer.
4. Following: every seed's helix (:func:`~colliderlab.tracking.helixfit.fit_helix`) is
   intersected with all layers; on the next layer crossed, the hit of smallest chi2 in a window
   (measurement error, multiple scattering) is added and the helix refitted; all candidates move
   one layer per step together. A candidate stops after ``max_missed`` consecutive empty layers.
5. Ambiguity resolution: candidates ranked by hit count then chi2/ndf; each hit goes to the best
   live candidate holding it; a candidate that loses more than ``max_shared`` hits, or keeps fewer
   than ``min_hits``, is dropped, until nothing changes.

Measurement errors per layer are ``pitch / sqrt(12)`` from ``detectors.csv`` when given
(:func:`layer_resolution`): strips are coarse along z on barrel layers and along r on disks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from colliderlab.tracking.helixfit import (
    HelixFit,
    arc_to_radius,
    arc_to_z,
    fit_helix,
    helix_position,
)
from colliderlab.tracking.layers import Layers, hit_coordinates

__all__ = ["BaselineConfig", "find_tracks", "layer_pairs", "layer_resolution", "seed_triplets_layers"]

_REQUIRED = ("hit_id", "x", "y", "z", "volume_id", "layer_id")
_TWO_PI = 2 * np.pi


@dataclass(frozen=True)
class BaselineConfig:
    """Cuts of :func:`find_tracks` (lengths in mm, momenta in GeV); defaults for the TrackML-like
    card at 2 T.

    Seeding: ``seed_pt_min`` (triplet pT and the doublets' phi window), ``z0_max`` (|z0| of the
    doublets' r-z line; 3 x the 55 mm beam spot), ``d0_max`` (|d0| of a triplet's circle),
    ``cot_theta_max`` (|cot theta| of doublets, |eta| < 4), ``seed_start_layers`` (seeds start on
    the first layers a beam-line track crosses), ``layer_skip`` (layers a doublet may skip),
    ``seed_sigma`` (tolerance of the r-z cuts in standard deviations), ``x0_per_layer``
    (radiation lengths per layer for the multiple scattering), ``phi_margin`` (rad).
    Following: ``window_chi2`` (chi2, 2 dof, of a hit added), ``ms_scale`` (multiple-scattering
    error scale of the prediction), ``window_floor`` (error floor of the prediction),
    ``max_missed`` (consecutive layers without hit), ``max_hits`` (hits per track).
    Resolution: ``min_hits``, ``max_shared``. Without detectors: ``sigma_rphi`` and
    ``sigma_coarse`` for every layer.
    """

    seed_pt_min: float = 0.9
    z0_max: float = 165.0
    d0_max: float = 2.0
    cot_theta_max: float = 27.3
    seed_start_layers: int = 2
    layer_skip: int = 1
    seed_sigma: float = 4.0
    x0_per_layer: float = 0.03
    phi_margin: float = 0.003
    window_chi2: float = 16.0
    ms_scale: float = 2.0
    window_floor: float = 0.1
    max_missed: int = 2
    max_holes: int = 1
    max_hits: int = 30
    min_hits: int = 5
    max_shared: int = 2
    sigma_rphi: float = 0.05
    sigma_coarse: float = 1.0
    second_d0_max: float = 60.0

    def __post_init__(self) -> None:
        for name in ("seed_pt_min", "z0_max", "d0_max", "cot_theta_max", "seed_sigma", "window_chi2"):
            if not getattr(self, name) > 0:
                raise ValueError(f"BaselineConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.seed_start_layers < 1 or self.min_hits < 3 or self.max_hits < self.min_hits:
            raise ValueError("BaselineConfig needs seed_start_layers >= 1 and 3 <= min_hits <= max_hits")


def layer_resolution(detectors: pd.DataFrame, layers: Layers) -> tuple[np.ndarray, np.ndarray]:
    """``(L,)`` measurement errors (mm) of the layers: across (``pitch_u / sqrt(12)``) and along
    the coarse direction (``pitch_v / sqrt(12)``: z on a barrel layer, r on a disk)."""
    missing = [c for c in ("volume_id", "layer_id", "pitch_u", "pitch_v") if c not in detectors.columns]
    if missing:
        raise ValueError(f"detectors table lacks {', '.join(missing)}")
    g = detectors.groupby(["volume_id", "layer_id"], sort=True)[["pitch_u", "pitch_v"]].max().reset_index()
    idx = layers.index_of(g.volume_id.to_numpy(), g.layer_id.to_numpy(), what="detectors")
    sig_u, sig_c = np.full(len(layers), np.nan), np.full(len(layers), np.nan)
    sig_u[idx], sig_c[idx] = g.pitch_u.to_numpy() / np.sqrt(12), g.pitch_v.to_numpy() / np.sqrt(12)
    return sig_u, sig_c


def _crossing_sequences(layers: Layers, z0_max: float) -> list[np.ndarray]:
    """Layer indices crossed, in order, by straight lines from the beam line (|eta| <= 4)."""
    eta = np.linspace(-4.0, 4.0, 801)
    zv = np.array([-z0_max, 0.0, z0_max])
    sh = np.repeat(np.sinh(eta), len(zv))[:, None]
    z0 = np.tile(zv, len(eta))[:, None]
    pos, barrel = layers.position[None, :], layers.barrel[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(barrel, pos, (pos - z0) / sh)
        z = np.where(barrel, z0 + pos * sh, pos)
    inside = (r >= layers.r_min) & (r <= layers.r_max) & (z >= layers.z_min) & (z <= layers.z_max) & (r > 0)
    r = np.where(inside, r, np.inf)
    order = np.argsort(r, axis=1)
    n = inside.sum(axis=1)
    return [order[i, : n[i]] for i in range(len(order))]


def layer_pairs(layers: Layers, config: BaselineConfig = BaselineConfig()) -> np.ndarray:
    """``(P, 2)`` (inner, outer) layer indices that a track from the beam line crosses one after
    the other, or with up to ``config.layer_skip`` layers between them."""
    pairs = {(int(s[i]), int(s[i + k])) for s in _crossing_sequences(layers, config.z0_max)
             for k in range(1, 2 + config.layer_skip) for i in range(len(s) - k)}
    return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)


def seed_triplets_layers(layers: Layers, config: BaselineConfig = BaselineConfig()) -> np.ndarray:
    """``(T, 3)`` seed layer triplets: consecutive crossed layers (at most one gap of
    ``layer_skip`` layers) starting on one of a line's first ``seed_start_layers`` layers."""
    steps = [(1, 1)] + [(1 + k, 1) for k in range(1, config.layer_skip + 1)] + [(1, 1 + k) for k in range(1, config.layer_skip + 1)]
    out = {(int(s[i]), int(s[i + a]), int(s[i + a + b])) for s in _crossing_sequences(layers, config.z0_max)
           for i in range(min(config.seed_start_layers, len(s))) for a, b in steps if i + a + b < len(s)}
    return np.array(sorted(out), dtype=np.int64).reshape(-1, 3)


@dataclass
class _Hits:
    """Per hit ``(N,)``: position, cylindrical coordinates, layer index, errors (mm) on r-phi,
    z and r; per layer ``(L,)``: errors across and along the coarse direction, barrel flag."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    r: np.ndarray
    phi: np.ndarray
    layer: np.ndarray
    sig_u: np.ndarray
    sig_z: np.ndarray
    sig_r: np.ndarray
    layer_sig_u: np.ndarray
    layer_sig_c: np.ndarray
    layer_barrel: np.ndarray


def _prepare(hits: pd.DataFrame, layers: Layers, config: BaselineConfig, detectors: pd.DataFrame | None) -> _Hits:
    missing = [c for c in _REQUIRED if c not in hits.columns]
    if missing:
        raise ValueError(f"hits lack column(s) {', '.join(missing)} (find_tracks needs {', '.join(_REQUIRED)})")
    if len(hits) == 0:
        raise ValueError("hits table has no hits: nothing to reconstruct")
    if hits["hit_id"].duplicated().any():
        raise ValueError("hits table repeats hit_id values")
    cyl = hit_coordinates(hits)
    if not all(np.isfinite(v).all() for v in cyl.values()):
        raise ValueError("hits have NaN or infinite x, y or z")
    layer = layers.index_of(hits.volume_id.to_numpy(), hits.layer_id.to_numpy())
    if detectors is not None:
        sig_u, sig_c = layer_resolution(detectors, layers)
    else:
        sig_u, sig_c = np.full(len(layers), config.sigma_rphi), np.full(len(layers), config.sigma_coarse)
    su, sc, barrel = sig_u[layer], sig_c[layer], layers.barrel[layer]
    floor = 0.02
    return _Hits(x=hits.x.to_numpy(float), y=hits.y.to_numpy(float), z=cyl["z"], r=cyl["r"], phi=cyl["phi"], layer=layer,
                 sig_u=np.hypot(su, floor), sig_z=np.where(barrel, np.hypot(sc, floor), floor),
                 sig_r=np.where(barrel, floor, np.hypot(sc, floor)), layer_sig_u=sig_u, layer_sig_c=sig_c,
                 layer_barrel=layers.barrel.astype(bool))


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges ``[lo, hi)``: the owner of each element and the element."""
    n = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(len(lo)), n)
    start = np.repeat(lo - np.cumsum(n) + n, n)
    return owner, start + np.arange(int(n.sum()))


def _wrap(a: np.ndarray) -> np.ndarray:
    return np.mod(a + np.pi, _TWO_PI) - np.pi


def _dphi_max(r1: np.ndarray, r2: np.ndarray, config: BaselineConfig, b_field: float) -> np.ndarray:
    """Largest |phi2 - phi1| of a track of pT >= seed_pt_min and |d0| <= d0_max from r1 to r2."""
    two_r = 2e3 * config.seed_pt_min / (0.299792458 * abs(b_field))
    curv = np.arcsin(np.minimum(r2 / two_r, 1.0)) - np.arcsin(np.minimum(r1 / two_r, 1.0))
    return curv + config.d0_max * np.abs(1 / r1 - 1 / r2) + config.phi_margin


def _doublets(h: _Hits, inner: np.ndarray, outer: np.ndarray, r2_max: float, config: BaselineConfig,
              b_field: float) -> dict[str, np.ndarray]:
    """Hit pairs (inner layer hits ``inner``, outer ``outer``) compatible with the beam line."""
    order = outer[np.argsort(h.phi[outer], kind="stable")]
    ext = np.concatenate([order, order, order])
    ext_phi = np.concatenate([h.phi[order] - _TWO_PI, h.phi[order], h.phi[order] + _TWO_PI])
    width = _dphi_max(h.r[inner], np.full(len(inner), r2_max), config, b_field)
    lo = np.searchsorted(ext_phi, h.phi[inner] - width)
    hi = np.searchsorted(ext_phi, h.phi[inner] + width, side="right")
    owner, pos = _expand(lo, hi)
    a, b = inner[owner], ext[pos]
    dr = h.r[b] - h.r[a]
    with np.errstate(divide="ignore", invalid="ignore"):
        cot = (h.z[b] - h.z[a]) / dr
    sig_a = np.hypot(h.sig_z[a], cot * h.sig_r[a])
    sig_b = np.hypot(h.sig_z[b], cot * h.sig_r[b])
    z0 = h.z[a] - h.r[a] * cot
    sig_z0 = np.hypot(sig_a * h.r[b], sig_b * h.r[a]) / dr
    keep = ((dr > 0.5) & (np.abs(cot) <= config.cot_theta_max)
            & (np.abs(z0) <= config.z0_max + config.seed_sigma * sig_z0)
            & (np.abs(_wrap(h.phi[b] - h.phi[a])) <= _dphi_max(h.r[a], h.r[b], config, b_field)))
    return {"a": a[keep], "b": b[keep], "cot": cot[keep], "sig": (np.hypot(sig_a, sig_b) / dr)[keep]}


def _ms_angle(pt: np.ndarray, cot: np.ndarray, x0: float) -> np.ndarray:
    """Highland RMS scattering angle (rad) through ``x0`` radiation lengths at normal incidence."""
    p = pt * np.sqrt(1 + cot * cot)
    x = x0 * np.sqrt(1 + cot * cot)
    return 0.0136 / p * np.sqrt(x) * (1 + 0.038 * np.log(x))


def _triplets(h: _Hits, d1: dict, d2: dict, r3_max: float, config: BaselineConfig, b_field: float) -> np.ndarray:
    """``(S, 3)`` hit triplets from inner doublets ``d1`` and outer ``d2`` sharing the middle hit."""
    if len(d1["a"]) == 0 or len(d2["a"]) == 0:
        return np.empty((0, 3), np.int64)
    span = 2 * config.cot_theta_max + 10
    key2 = d2["a"] * span + d2["cot"] + 0.5 * span
    order = np.argsort(key2, kind="stable")
    key2 = key2[order]
    two_r = 2e3 * config.seed_pt_min / (0.299792458 * abs(b_field))
    ms = _ms_angle(np.full(len(d1["cot"]), config.seed_pt_min), d1["cot"], config.x0_per_layer) * (1 + d1["cot"] ** 2)
    tol = (config.seed_sigma * np.sqrt(d1["sig"] ** 2 + d2["sig"].max() ** 2 + ms**2)
           + np.abs(d1["cot"]) * (1 / np.sqrt(1 - min(r3_max / two_r, 0.99) ** 2) - 1))
    key1 = d1["b"] * span + d1["cot"] + 0.5 * span
    lo, hi = np.searchsorted(key2, key1 - tol), np.searchsorted(key2, key1 + tol, side="right")
    i1, pos = _expand(lo, hi)
    i2 = order[pos]
    a, b, c = d1["a"][i1], d1["b"][i1], d2["b"][i2]
    # the circle through the three hits: signed curvature, then arc lengths of the two chords
    ax, ay, cx, cy = h.x[a] - h.x[b], h.y[a] - h.y[b], h.x[c] - h.x[b], h.y[c] - h.y[b]
    la, lc = np.hypot(ax, ay), np.hypot(cx, cy)
    kappa = np.abs(2 * (ax * cy - ay * cx) / (la * lc * np.hypot(ax - cx, ay - cy)))
    pt = 0.299792458e-3 * abs(b_field) / np.maximum(kappa, 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (h.z[b] - h.z[a]) / (la * _asin_ratio(0.5 * kappa * la))
        t2 = (h.z[c] - h.z[b]) / (lc * _asin_ratio(0.5 * kappa * lc))
    ms = _ms_angle(pt, t1, config.x0_per_layer) * (1 + t1 * t1)
    keep = np.flatnonzero((pt >= config.seed_pt_min) & (np.abs(t1 - t2) <= config.seed_sigma * np.sqrt(
        d1["sig"][i1] ** 2 + d2["sig"][i2] ** 2 + ms**2)))
    seeds = np.stack([a[keep], b[keep], c[keep]], axis=1)
    if len(seeds) == 0:
        return seeds
    fit = fit_helix(h.x[seeds], h.y[seeds], h.z[seeds], b_field)
    return seeds[np.abs(fit.d0) <= config.d0_max]


def _asin_ratio(x: np.ndarray) -> np.ndarray:
    """``asin(x) / x`` (1 at 0, NaN beyond 1): an arc over its chord."""
    x = np.where(x <= 1, x, np.nan)
    return np.where(x > 1e-8, np.arcsin(np.minimum(x, 1.0)) / np.maximum(x, 1e-8), 1.0)


def _fit(h: _Hits, track_hits: np.ndarray, b_field: float) -> HelixFit:
    """Helix fits of candidates ``(M, K)`` hit indices (-1 padding)."""
    ok = track_hits >= 0
    idx = np.where(ok, track_hits, 0)

    def pick(v: np.ndarray) -> np.ndarray:
        return np.where(ok, v[idx], np.nan)

    return fit_helix(pick(h.x), pick(h.y), pick(h.z), b_field, sigma_rphi=np.where(ok, h.sig_u[idx], 1.0),
                     sigma_z=np.where(ok, h.sig_z[idx], 1.0), sigma_r=np.where(ok, h.sig_r[idx], 0.0))


def _seeds(h: _Hits, layers: Layers, config: BaselineConfig, b_field: float, use: np.ndarray) -> np.ndarray:
    """``(S, 3)`` seed hit triplets, inner to outer, of the hits ``use``."""
    order = np.flatnonzero(use)
    order = order[np.argsort(h.layer[order], kind="stable")]
    bounds = np.searchsorted(h.layer[order], np.arange(len(layers) + 1))
    on = [order[bounds[i]: bounds[i + 1]] for i in range(len(layers))]
    cache: dict[tuple[int, int], dict] = {}

    def doublets(i: int, j: int) -> dict:
        if (i, j) not in cache:
            cache[(i, j)] = _doublets(h, on[i], on[j], float(layers.r_max[j]), config, b_field)
        return cache[(i, j)]

    found = [_triplets(h, doublets(a, b), doublets(b, c), float(layers.r_max[c]), config, b_field)
             for a, b, c in seed_triplets_layers(layers, config) if len(on[a]) and len(on[b]) and len(on[c])]
    return np.concatenate(found) if found else np.empty((0, 3), np.int64)


@dataclass
class _Candidates:
    """Track candidates: hit indices ``(M, max_hits)`` (-1 padding), hit count, helix, arc length
    of the last layer visited and of the last hit, consecutive misses, still following."""

    hits: np.ndarray
    n: np.ndarray
    fit: HelixFit
    s_layer: np.ndarray
    s_hit: np.ndarray
    missed: np.ndarray
    active: np.ndarray
    holes: np.ndarray
    chi2: np.ndarray


def _next_layer(c: _Candidates, rows: np.ndarray, layers: Layers) -> tuple[np.ndarray, np.ndarray]:
    """The next layer each candidate of ``rows`` crosses after its last layer (-1: none) and the
    arc length to it."""
    f = c.fit.take(rows)
    pos, barrel = layers.position[None, :], layers.barrel[None, :]
    rho, d0, z0, cot, phi0 = (v[:, None] for v in (f.rho, f.d0, f.z0, f.cot_theta, f.phi0))
    s = np.where(barrel, arc_to_radius(rho, d0, pos), arc_to_z(rho, z0, cot, pos))
    x, y, z = helix_position(rho, phi0, d0, z0, cot, np.nan_to_num(s))
    r = np.hypot(x, y)
    inside = np.where(barrel, (z >= layers.z_min) & (z <= layers.z_max), (r >= layers.r_min) & (r <= layers.r_max))
    s = np.where(inside & (s > c.s_layer[rows, None] + 1.0), s, np.inf)
    nxt = np.argmin(s, axis=1)
    s_next = s[np.arange(len(rows)), nxt]
    return np.where(np.isfinite(s_next), nxt, -1), s_next


def _residuals(h: _Hits, f: HelixFit, hit: np.ndarray, barrel: np.ndarray, s_last: np.ndarray,
               config: BaselineConfig) -> np.ndarray:
    """chi2 (2 dof) of hits ``(P,)`` against helices ``f`` ``(P,)``: r-phi and z (barrel) or r
    (disk) residuals at the hit's radius or z, over measurement and scattering errors."""
    s = np.where(barrel, arc_to_radius(f.rho, f.d0, h.r[hit]), arc_to_z(f.rho, f.z0, f.cot_theta, h.z[hit]))
    x, y, z = helix_position(f.rho, f.phi0, f.d0, f.z0, f.cot_theta, s)
    du = h.r[hit] * _wrap(h.phi[hit] - np.arctan2(y, x))
    dc = np.where(barrel, h.z[hit] - z, h.r[hit] - np.hypot(x, y))
    slope = np.sqrt(1 + f.cot_theta**2)
    ms = config.ms_scale * _ms_angle(f.pt, f.cot_theta, config.x0_per_layer) * np.abs(s - s_last) * slope
    along = np.where(barrel, slope, slope / np.maximum(np.abs(f.cot_theta), 1e-3))
    sig_c = np.where(barrel, h.sig_z[hit], h.sig_r[hit])
    var_u = h.sig_u[hit] ** 2 + config.window_floor**2 + ms**2
    var_c = sig_c**2 + config.window_floor**2 + (ms * along) ** 2
    chi2 = du**2 / var_u + dc**2 / var_c
    return np.where(np.isfinite(chi2), chi2, np.inf)


def _step(h: _Hits, layers: Layers, c: _Candidates, keys: np.ndarray, key_hit: np.ndarray,
          config: BaselineConfig, b_field: float) -> None:
    """Move every active candidate to its next layer, adding the best hit there (in place)."""
    rows = np.flatnonzero(c.active)
    nxt, s_next = _next_layer(c, rows, layers)
    c.active[rows[nxt < 0]] = False
    rows, nxt, s_next = rows[nxt >= 0], nxt[nxt >= 0], s_next[nxt >= 0]
    f = c.fit.take(rows)
    x, y, _ = helix_position(f.rho, f.phi0, f.d0, f.z0, f.cot_theta, s_next)
    r_pred, phi_pred = np.hypot(x, y), np.arctan2(y, x)
    # phi window wide enough for the chi2 cut (r-phi error, and a coarse r on disks)
    slope = np.sqrt(1 + f.cot_theta**2)
    ms = config.ms_scale * _ms_angle(f.pt, f.cot_theta, config.x0_per_layer) * (s_next - c.s_hit[rows]) * slope
    spread = np.hypot(np.hypot(h.layer_sig_u[nxt], config.window_floor), ms)
    coarse = np.where(layers.barrel[nxt], 0.0, np.hypot(h.layer_sig_c[nxt], ms * slope / np.maximum(np.abs(f.cot_theta), 1e-3)))
    sin_psi = np.clip(0.5 * np.abs(f.rho) * r_pred, 0.0, 0.99)
    width = np.sqrt(config.window_chi2) * (spread + coarse * sin_psi / np.sqrt(1 - sin_psi**2)) / r_pred + config.phi_margin
    centre = nxt * 20.0 + phi_pred + np.pi
    lo, hi = np.searchsorted(keys, centre - width), np.searchsorted(keys, centre + width, side="right")
    owner, pos = _expand(lo, hi)
    hit = key_hit[pos]
    chi2 = _residuals(h, f.take(owner), hit, layers.barrel[nxt[owner]], c.s_hit[rows[owner]], config)
    good = chi2 < config.window_chi2
    owner, hit, chi2 = owner[good], hit[good], chi2[good]
    best = np.lexsort((chi2, owner))
    first = best[np.r_[True, owner[best][1:] != owner[best][:-1]]] if len(best) else best
    got, hit = rows[owner[first]], hit[first]
    c.hits[got, c.n[got]] = hit
    c.holes[got] += c.missed[got]
    c.chi2[got] += chi2[first]
    c.n[got] += 1
    c.missed[rows] += 1
    c.missed[got] = 0
    c.s_layer[rows] = s_next
    c.s_hit[got] = s_next[owner[first]]
    c.active[rows[c.missed[rows] > config.max_missed]] = False
    c.active[got[c.n[got] >= c.hits.shape[1]]] = False
    if len(got):
        refit = _fit(h, c.hits[got], b_field)
        for name in c.fit.__dataclass_fields__:
            getattr(c.fit, name)[got] = getattr(refit, name)


def _follow(h: _Hits, layers: Layers, seeds: np.ndarray, config: BaselineConfig, b_field: float,
            use: np.ndarray) -> _Candidates:
    """Follow all seeds outwards together, one layer per step, picking hits among ``use``."""
    m = len(seeds)
    hits = np.full((m, config.max_hits), -1, np.int64)
    hits[:, :3] = seeds
    fit = _fit(h, hits, b_field)
    fit = HelixFit(**{k: np.array(getattr(fit, k), dtype=float) for k in fit.__dataclass_fields__})
    s_last = arc_to_radius(fit.rho, fit.d0, h.r[seeds[:, 2]])
    s_last = np.where(h.layer_barrel[h.layer[seeds[:, 2]]], s_last, arc_to_z(fit.rho, fit.z0, fit.cot_theta, h.z[seeds[:, 2]]))
    s_last = np.nan_to_num(s_last, nan=0.0)
    c = _Candidates(hits=hits, n=np.full(m, 3), fit=fit, s_layer=s_last.copy(), s_hit=s_last,
                    missed=np.zeros(m, np.int64), active=np.ones(m, bool), holes=np.zeros(m, np.int64),
                    chi2=np.zeros(m))
    free = np.flatnonzero(use)
    ext_phi = np.concatenate([h.phi[free] - _TWO_PI, h.phi[free], h.phi[free] + _TWO_PI])
    keys = np.tile(h.layer[free], 3) * 20.0 + ext_phi + np.pi
    order = np.argsort(keys, kind="stable")
    keys, key_hit = keys[order], np.tile(free, 3)[order]
    for _ in range(2 * len(layers)):
        if not c.active.any():
            break
        _step(h, layers, c, keys, key_hit, config, b_field)
    return c


def _resolve(c: _Candidates, n_hits: int, config: BaselineConfig) -> np.ndarray:
    """Track index of every hit (-1: none) after greedy ambiguity resolution, in parallel rounds.

    Candidates are ranked by hit count, then chi2/ndf. A candidate is decided once it is the best
    undecided holder of all its hits: it is accepted if at most ``max_shared`` of its hits belong
    to accepted tracks and it keeps ``min_hits``; this equals the sequential greedy pass."""
    big = (c.n >= config.min_hits) & (c.holes <= config.max_holes)
    rank_order = np.lexsort((c.chi2 / np.maximum(c.n - 3, 1), c.holes, -c.n))
    rank_order = rank_order[big[rank_order]]
    rank = np.full(len(c.n), -1)
    rank[rank_order] = np.arange(len(rank_order))
    tid = np.repeat(np.arange(len(c.n)), c.n)[big[np.repeat(np.arange(len(c.n)), c.n)]]
    hit = c.hits[c.hits >= 0][big[np.repeat(np.arange(len(c.n)), c.n)]]
    owner = np.full(n_hits, -1)
    undecided = big.copy()
    sentinel = len(c.n) + 1
    while undecided.any():
        live = undecided[tid]
        best = np.full(n_hits, sentinel)
        np.minimum.at(best, hit[live], rank[tid[live]])
        blocked = np.bincount(tid[live], weights=best[hit[live]] != rank[tid[live]], minlength=len(c.n)) > 0
        ready = undecided & ~blocked
        on_ready = ready[tid]
        taken = np.bincount(tid[on_ready], weights=owner[hit[on_ready]] >= 0, minlength=len(c.n))
        accept = ready & (taken <= config.max_shared) & (c.n - taken >= config.min_hits)
        take = accept[tid] & (owner[hit] < 0)
        owner[hit[take]] = tid[take]
        undecided &= ~ready
    _, track_id = np.unique(owner, return_inverse=True)
    return np.where(owner >= 0, track_id - (owner < 0).any(), -1)


def find_tracks(hits: pd.DataFrame, layers: Layers, b_field: float, config: BaselineConfig = BaselineConfig(), *,
                detectors: pd.DataFrame | None = None) -> pd.DataFrame:
    """Classical track finding (module doc): triplet seeds, helix following, ambiguity resolution.

    Args:
        hits: one row per hit: ``hit_id, x, y, z`` (mm) ``, volume_id, layer_id``; never truth.
        layers: the geometry's layers (:func:`~colliderlab.tracking.layers.layers_from_detectors`).
        b_field: the solenoid field along +z (T).
        config: the cuts.
        detectors: the ``detectors.csv`` table; its pitches give the layers' measurement errors
            (otherwise ``config.sigma_rphi`` / ``config.sigma_coarse`` for every layer).

    Returns:
        ``hit_id, track_id`` for every hit, track ids 0, 1, ... and -1 for unassigned hits; each
        track has at least ``config.min_hits`` hits.

    Raises:
        ValueError: a missing column, no hits, a hit on a layer the geometry lacks, or B = 0.
    """
    if not np.isfinite(b_field) or b_field == 0:
        raise ValueError(f"b_field must be a non-zero field in tesla, got {b_field}")
    h = _prepare(hits, layers, config, detectors)
    track = np.full(len(h.x), -1)
    passes = [config]
    if config.second_d0_max > 0:
        passes.append(replace(config, d0_max=config.second_d0_max, seed_start_layers=len(layers)))
    for cfg in passes:
        use = track < 0
        seeds = _seeds(h, layers, cfg, b_field, use)
        if len(seeds):
            new = _resolve(_follow(h, layers, seeds, cfg, b_field, use), len(h.x), cfg)
            track = np.where(new >= 0, new + track.max() + 1, track)
    return pd.DataFrame({"hit_id": hits["hit_id"].to_numpy(), "track_id": track})
