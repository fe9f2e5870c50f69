"""Helices for the classical track finder (:mod:`.baseline`): fits, propagation to layers, residuals.

A track in a uniform solenoid field ``B`` along +z is a helix: a circle in the transverse plane and
a straight line in (arc length ``s``, ``z``). :func:`fit_helix` fits both, many tracks at once:

- the circle with Karimäki's non-iterative weighted fit (V. Karimäki, "Effective circle fitting
  for particle trajectories", NIM A305 (1991) 187), parametrised at the point of closest approach
  (PCA) to the beam line ``x = y = 0`` by the signed curvature ``rho`` (1/mm, > 0: turning
  clockwise seen from +z, a positive charge for B > 0), the direction ``phi0`` of the momentum
  there and the signed distance ``d0`` (mm). It stays finite for straight tracks.
- the line ``z = z0 + cot_theta * s`` by weighted least squares, ``s`` the signed arc length from
  the PCA along the direction of motion.

``pT = 0.299792458e-3 * B[T] / |rho| [1/mm]`` GeV. The PCA is ``d0 (sin phi0, -cos phi0)``, the
circle's centre ``(1 / rho + d0) (sin phi0, -cos phi0)``; after an arc length ``s`` the position
is ``PCA + s sinc(rho s / 2) (cos(phi0 - rho s / 2), sin(phi0 - rho s / 2))``
(:func:`helix_position`). The arc length to a cylinder ``r`` is closed-form
(:func:`arc_to_radius`), to a plane ``z`` it is ``(z - z0) / cot_theta`` (:func:`arc_to_z`).
The perigee parameters are those of ATLAS / ACTS (arXiv:2106.13593) but for the sign of d0: here
d0 > 0 when the beam line lies to the left of the direction of motion at the PCA.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from colliderlab.physics.tracker.helix import C_LIGHT, highland_theta0
from colliderlab.tracking.layers import Layers

__all__ = [
    "C_LIGHT",
    "Candidates",
    "HelixFit",
    "HitArrays",
    "arc_of_chord",
    "arc_to_radius",
    "arc_to_z",
    "expand_ranges",
    "fit_circle",
    "follow_tracks",
    "fit_helix",
    "helix_position",
    "highland_angle",
    "hit_residuals",
]



@dataclass(frozen=True)
class HelixFit:
    """Fitted helices, arrays of shape ``(M,)`` (0-d for a single track).

    ``pt`` (GeV), ``charge`` (+-1), ``d0``, ``z0`` (mm), ``phi0`` (rad), ``cot_theta`` (dz/ds),
    ``chi2`` (sum of squared normalised residuals, circle and line), ``ndf`` (2 K - 5 for K hits),
    ``rho`` (signed curvature, 1/mm, > 0 clockwise seen from +z).
    """

    pt: np.ndarray
    charge: np.ndarray
    d0: np.ndarray
    z0: np.ndarray
    phi0: np.ndarray
    cot_theta: np.ndarray
    chi2: np.ndarray
    ndf: np.ndarray
    rho: np.ndarray

    def take(self, rows: np.ndarray | slice | int) -> HelixFit:
        """The fits of ``rows``."""
        return HelixFit(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


def _means(w: np.ndarray, *values: np.ndarray) -> list[np.ndarray]:
    total = w.sum(axis=-1)
    return [(w * v).sum(axis=-1) / total for v in values]


def fit_circle(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, ahead: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Karimäki's weighted circle fit (NIM A305 (1991) 187) about the origin.

    Args:
        x, y: ``(M, K)`` points (mm); ``w``: ``(M, K)`` weights (1/mm^2, 0 for padding).
        ahead: ``(M,)`` x and y of a point ahead of the PCA along the motion (default: the
            weighted mean of the points, right for outgoing tracks).

    Returns:
        ``rho`` (1/mm, > 0 clockwise), ``phi0`` (rad), ``d0`` (mm), each ``(M,)``, with the
        direction at the PCA pointing towards ``ahead``.
    """
    r2 = x * x + y * y
    mx, my, mxx, mxy, myy, mxr, myr, mr, mrr = _means(
        w, x, y, x * x, x * y, y * y, x * r2, y * r2, r2, r2 * r2
    )
    cxx, cxy, cyy = mxx - mx * mx, mxy - mx * my, myy - my * my
    cxr, cyr, crr = mxr - mx * mr, myr - my * mr, mrr - mr * mr
    phi = 0.5 * np.arctan2(2 * (crr * cxy - cxr * cyr), crr * (cxx - cyy) - cxr**2 + cyr**2)
    sin, cos = np.sin(phi), np.cos(phi)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (sin * cxr - cos * cyr) / crr
    delta = -kappa * mr + sin * mx - cos * my
    root = np.sqrt(np.maximum(1 - 4 * delta * kappa, 0.0))
    rho, d0 = 2 * kappa / np.maximum(root, 1e-12), 2 * delta / (1 + root)
    ax, ay = (mx, my) if ahead is None else ahead
    flip = cos * (ax - d0 * sin) + sin * (ay + d0 * cos) < 0
    return np.where(flip, -rho, rho), np.where(flip, phi + np.pi, phi), np.where(flip, -d0, d0)


def arc_of_chord(chord: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Arc length (mm) of a chord on a circle of curvature ``rho``: ``2 asin(rho L / 2) / rho``
    (the chord for rho -> 0; NaN when the chord exceeds the diameter)."""
    half = np.abs(0.5 * rho * chord)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.arcsin(np.where(half <= 1, half, np.nan)) / half
    return chord * np.where(half > 1e-8, scale, 1.0)


def _circle_residuals(x, y, rho, phi0, d0) -> np.ndarray:
    """Signed distance of points ``(M, K)`` to circles ``(M, 1)`` (stable for rho -> 0)."""
    f = (
        0.5 * rho * (x * x + y * y + d0 * d0)
        - (1 + rho * d0) * (x * np.sin(phi0) - y * np.cos(phi0))
        + d0
    )
    return 2 * f / (1 + np.sqrt(np.maximum(1 + 2 * rho * f, 0.0)))


def _arc_lengths(x, y, rho, phi0, d0) -> np.ndarray:
    """Signed arc length from the PCA to points ``(M, K)`` on (or near) circles ``(M, 1)``."""
    sin, cos = np.sin(phi0), np.cos(phi0)
    dx, dy = x - d0 * sin, y + d0 * cos
    chord = np.hypot(dx, dy)
    arc = arc_of_chord(chord, np.minimum(np.abs(rho), 2 / np.maximum(chord, 1e-12)))
    return np.where(dx * cos + dy * sin >= 0, 1.0, -1.0) * arc


def _fit_line(s: np.ndarray, z: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ms, mz, mss, msz = _means(w, s, z, s * s, s * z)
    var = mss - ms * ms
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(var > 0, (msz - ms * mz) / var, 0.0)
    return mz - slope * ms, slope


def fit_helix(
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    b_field: float,
    *,
    sigma_rphi: np.ndarray | float = 0.05,
    sigma_z: np.ndarray | float = 0.05,
    sigma_r: np.ndarray | float = 0.0,
    beamline_sigma: float | None = None,
) -> HelixFit:
    """Fit helices to hits: a circle in x-y (Karimäki) and a line in (arc length, z).

    Args:
        x, y, z: hit positions (mm), ``(K,)`` for one track or ``(M, K)`` for ``M`` tracks with
            NaN where a track has fewer than K hits; at least 3 hits per track, in any order.
        b_field: the solenoid field along +z (T).
        sigma_rphi, sigma_z, sigma_r: hit uncertainties (mm) across the track in the transverse
            plane, in z and in r (broadcast to the hits): strips of a barrel layer have a large
            ``sigma_z``, of a disk a large ``sigma_r``. The line fit weighs a hit by
            ``1 / (sigma_z^2 + (cot_theta sigma_r)^2)``, the circle fit by ``1 / (sigma_rphi^2 +
            (sin psi sigma_r)^2)`` with ``psi`` the angle between the track and the radius.
        beamline_sigma: when given, the beam line (x = y = 0) is added to the circle fit as a
            point of that uncertainty (mm), which constrains d0 and improves pT for primaries.

    Returns:
        :class:`HelixFit` of the tracks (0-d arrays for ``(K,)`` input).

    Raises:
        ValueError: mismatched shapes or a track with fewer than 3 hits.
    """
    x, y, z = (np.asarray(a, float) for a in (x, y, z))
    if not (x.shape == y.shape == z.shape) or x.ndim not in (1, 2):
        raise ValueError(
            f"x, y, z must share a shape (K,) or (M, K); got {x.shape}, {y.shape}, {z.shape}"
        )
    single = x.ndim == 1
    x, y, z = (np.atleast_2d(a) for a in (x, y, z))
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
    n = ok.sum(axis=1)
    if (n < 3).any():
        bad = np.flatnonzero(n < 3)[:5].tolist()
        raise ValueError(f"a helix fit needs at least 3 hits per track; track(s) {bad} have fewer")
    sig_u, sig_z, sig_r = (
        np.broadcast_to(np.asarray(s, float), x.shape) for s in (sigma_rphi, sigma_z, sigma_r)
    )
    x0, y0, z0 = (np.where(ok, a, 0.0) for a in (x, y, z))
    ahead = _means(ok.astype(float), x0, y0)
    extra = np.zeros((len(x0), 0 if beamline_sigma is None else 1))
    bx, by = (np.concatenate([a, extra], axis=1) for a in (x0, y0))
    w_beam = extra + (0.0 if beamline_sigma is None else 1.0 / beamline_sigma**2)
    w_xy = np.where(ok, 1.0 / np.maximum(sig_u, 1e-6) ** 2, 0.0)
    rho, phi0, d0 = fit_circle(bx, by, np.concatenate([w_xy, w_beam], axis=1), ahead)
    # second pass: a coarse r smears the transverse position along the track by sin(psi) sigma_r
    sin_psi = np.clip(0.5 * np.abs(rho)[:, None] * np.hypot(x0, y0), 0.0, 1.0)
    w_xy = np.where(ok, 1.0 / np.maximum(sig_u**2 + (sin_psi * sig_r) ** 2, 1e-12), 0.0)
    rho, phi0, d0 = fit_circle(bx, by, np.concatenate([w_xy, w_beam], axis=1), ahead)
    s = _arc_lengths(x0, y0, rho[:, None], phi0[:, None], d0[:, None])
    zz, cot = _fit_line(s, z0, ok.astype(float))
    for _ in range(2):
        w_z = np.where(ok, 1.0 / np.maximum(sig_z**2 + (cot[:, None] * sig_r) ** 2, 1e-12), 0.0)
        zz, cot = _fit_line(s, z0, w_z)
    res_xy = _circle_residuals(x0, y0, rho[:, None], phi0[:, None], d0[:, None])
    res_z = z0 - zz[:, None] - cot[:, None] * s
    chi2 = (w_xy * res_xy**2).sum(axis=1) + (w_z * res_z**2).sum(axis=1)
    with np.errstate(divide="ignore"):
        pt = C_LIGHT * 1e-3 * abs(b_field) / np.abs(rho)
    out = HelixFit(
        pt=pt,
        charge=np.where(rho * b_field >= 0, 1, -1),
        d0=d0,
        z0=zz,
        phi0=np.mod(phi0 + np.pi, 2 * np.pi) - np.pi,
        cot_theta=cot,
        chi2=chi2,
        ndf=2 * n - 5,
        rho=rho,
    )
    return out.take(0) if single else out


def helix_position(rho, phi0, d0, z0, cot_theta, s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x, y, z`` (mm) after the arc length ``s`` (mm) from the PCA (numpy broadcasting)."""
    half = 0.5 * rho * s
    with np.errstate(divide="ignore", invalid="ignore"):
        sinc = np.where(np.abs(half) > 1e-8, np.sin(half) / half, 1.0)
    chord, direction = s * sinc, phi0 - half
    x = d0 * np.sin(phi0) + chord * np.cos(direction)
    return x, -d0 * np.cos(phi0) + chord * np.sin(direction), z0 + cot_theta * s


def arc_to_radius(rho, d0, r) -> np.ndarray:
    """Arc length (mm) from the PCA to the first crossing of the cylinder ``r`` going outwards.

    The chord is ``L = sqrt((r^2 - d0^2) / (1 + rho d0))``, the arc :func:`arc_of_chord`; NaN
    where the circle does not reach ``r`` (numpy broadcasting).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return arc_of_chord(np.sqrt((r * r - d0 * d0) / (1 + rho * d0)), rho)


def arc_to_z(rho, z0, cot_theta, z) -> np.ndarray:
    """Arc length (mm) to the plane ``z``; NaN when behind the PCA or past half a turn."""
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (z - z0) / cot_theta
    return np.where((s > 0) & (np.abs(rho) * s <= np.pi), s, np.nan)


def hit_residuals(
    fit: HelixFit, x: np.ndarray, y: np.ndarray, z: np.ndarray, barrel: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Residuals of hits ``(P,)`` from helices ``fit`` ``(P,)``, taken where the helix reaches the
    hit's radius (``barrel``) or its z (disks): across the track (r dphi, mm), along the coarse
    coordinate (z on a barrel layer, r on a disk, mm), and the helix's arc length there (mm);
    NaN where the helix does not get there."""
    r = np.hypot(x, y)
    f = fit
    s = np.where(barrel, arc_to_radius(f.rho, f.d0, r), arc_to_z(f.rho, f.z0, f.cot_theta, z))
    px, py, pz = helix_position(f.rho, f.phi0, f.d0, f.z0, f.cot_theta, s)
    across = r * (np.mod(np.arctan2(y, x) - np.arctan2(py, px) + np.pi, 2 * np.pi) - np.pi)
    return across, np.where(barrel, z - pz, r - np.hypot(px, py)), s


def highland_angle(pt: np.ndarray, cot_theta: np.ndarray, x0: float) -> np.ndarray:
    """RMS plane scattering angle (rad) of a unit-charge particle (beta = 1) of transverse
    momentum ``pt`` (GeV) crossing ``x0`` radiation lengths at normal incidence, at polar angle
    ``cot_theta`` through a barrel layer (Highland; PDG Review "Passage of particles through
    matter", eq. 34.15)."""
    slant = np.sqrt(1 + cot_theta * cot_theta)
    return highland_theta0(pt * slant, np.ones_like(pt), np.ones_like(pt), x0 * slant)


@dataclass
class HitArrays:
    """An event's hits for the track finder. Per hit ``(N,)``: ``x, y, z, r`` (mm), ``phi``
    (rad), dense ``layer`` index, errors (mm) across the track (``sig_u``), in z and in r; per
    layer ``(L,)``: errors across and along the coarse direction (z of a barrel layer, r of a
    disk), ``layer_barrel`` flag."""

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

    def fit(self, track_hits: np.ndarray, b_field: float) -> HelixFit:
        """Helix fits of tracks given as ``(M, K)`` hit indices (-1 padding), hits weighted by
        their errors."""
        ok = track_hits >= 0
        idx = np.where(ok, track_hits, 0)
        x, y, z = (np.where(ok, v[idx], np.nan) for v in (self.x, self.y, self.z))
        sig = {k: np.where(ok, getattr(self, k)[idx], 1.0) for k in ("sig_u", "sig_z", "sig_r")}
        return fit_helix(
            x, y, z, b_field, sigma_rphi=sig["sig_u"], sigma_z=sig["sig_z"], sigma_r=sig["sig_r"]
        )


def expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges ``[lo, hi)`` ``(R,)``: the range of each element and the element, ``(E,)``."""
    n = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(len(lo)), n)
    return owner, np.repeat(lo - np.cumsum(n) + n, n) + np.arange(int(n.sum()))


@dataclass
class Candidates:
    """Track candidates ``(M,)``: hit indices ``hits`` ``(M, max_hits)`` (-1 padding) and their
    number ``n``, helix ``fit``, last layer visited and its arc length ``s_layer``, arc length of
    the last hit ``s_hit`` (mm), consecutive ``missed`` layers, ``holes`` (missed layers between
    hits), summed ``chi2`` of the hits added, ``active`` (still following)."""

    hits: np.ndarray
    n: np.ndarray
    fit: HelixFit
    layer: np.ndarray
    s_layer: np.ndarray
    s_hit: np.ndarray
    missed: np.ndarray
    holes: np.ndarray
    chi2: np.ndarray
    active: np.ndarray


def _next_layer(c: Candidates, rows: np.ndarray, layers: Layers, succ: np.ndarray):
    """The next layer (-1: none) that each candidate of ``rows`` crosses among the successors of
    its last layer, and the arc length to it (mm)."""
    f = c.fit.take(rows)
    cand = succ[c.layer[rows]]  # (A, S)
    li = np.maximum(cand, 0)
    pos, barrel = layers.position[li], layers.barrel[li]
    rho, d0, z0, cot, phi0 = (v[:, None] for v in (f.rho, f.d0, f.z0, f.cot_theta, f.phi0))
    s = np.where(barrel, arc_to_radius(rho, d0, pos), arc_to_z(rho, z0, cot, pos))
    x, y, z = helix_position(rho, phi0, d0, z0, cot, np.nan_to_num(s))
    r = np.hypot(x, y)
    on_barrel = (z >= layers.z_min[li]) & (z <= layers.z_max[li])
    inside = np.where(barrel, on_barrel, (r >= layers.r_min[li]) & (r <= layers.r_max[li]))
    s = np.where(inside & (cand >= 0) & (s > c.s_layer[rows, None] + 1.0), s, np.inf)
    k = np.argmin(s, axis=1)
    s_next = s[np.arange(len(rows)), k]
    return np.where(np.isfinite(s_next), cand[np.arange(len(rows)), k], -1), s_next


def _errors(f: HelixFit, ds, sig_u, sig_c, barrel, config: Any):
    """Errors (mm) of the predicted position across and along z (barrel) or r (disk), ``ds`` (mm)
    of arc after the last hit: measurement, floor, multiple scattering since the last hit."""
    slope = np.sqrt(1 + f.cot_theta**2)
    theta0 = highland_angle(f.pt, f.cot_theta, config.x0_per_layer)
    ms = config.ms_scale * theta0 * np.abs(ds) * slope
    along = np.where(barrel, slope, slope / np.maximum(np.abs(f.cot_theta), 1e-3))
    floor = config.window_floor**2
    return np.sqrt(sig_u**2 + floor + ms**2), np.sqrt(sig_c**2 + floor + (ms * along) ** 2)


def _candidate_hits(h: HitArrays, c: Candidates, rows, nxt, s_next, keys, key_hit, config):
    """Hits of the layers ``nxt`` in each candidate's window: candidate (index into ``rows``),
    hit, and chi2 (2 dof) against the candidate's helix."""
    f = c.fit.take(rows)
    x, y, _ = helix_position(f.rho, f.phi0, f.d0, f.z0, f.cot_theta, s_next)
    r_pred, barrel = np.hypot(x, y), h.layer_barrel[nxt]
    # a phi window wide enough for the chi2 cut (and for the coarse r of disk hits)
    ds = s_next - c.s_hit[rows]
    err_u, err_c = _errors(f, ds, h.layer_sig_u[nxt], h.layer_sig_c[nxt], barrel, config)
    tan_psi = np.tan(np.arcsin(np.clip(0.5 * np.abs(f.rho) * r_pred, 0.0, 0.99)))
    width = err_u + np.where(barrel, 0.0, err_c) * tan_psi
    width = np.sqrt(config.window_chi2) * width / r_pred + config.phi_margin
    centre = nxt * 20.0 + np.arctan2(y, x) + np.pi
    lo, hi = np.searchsorted(keys, centre - width), np.searchsorted(keys, centre + width, "right")
    owner, pos = expand_ranges(lo, hi)
    hit, g, on_barrel = key_hit[pos], f.take(owner), barrel[owner]
    across, along, s_hit = hit_residuals(g, h.x[hit], h.y[hit], h.z[hit], on_barrel)
    sig_c = np.where(on_barrel, h.sig_z[hit], h.sig_r[hit])
    ds = s_hit - c.s_hit[rows[owner]]
    err_u, err_c = _errors(g, ds, h.sig_u[hit], sig_c, on_barrel, config)
    chi2 = np.nan_to_num((across / err_u) ** 2 + (along / err_c) ** 2, nan=np.inf)
    return owner, hit, chi2


def _step(h: HitArrays, layers: Layers, c: Candidates, keys, key_hit, succ, config, b_field):
    """Move every active candidate to its next layer, adding its best hit there (in place)."""
    rows = np.flatnonzero(c.active)
    nxt, s_next = _next_layer(c, rows, layers, succ)
    c.active[rows[nxt < 0]] = False
    rows, nxt, s_next = rows[nxt >= 0], nxt[nxt >= 0], s_next[nxt >= 0]
    owner, hit, chi2 = _candidate_hits(h, c, rows, nxt, s_next, keys, key_hit, config)
    good = np.flatnonzero(chi2 < config.window_chi2)
    best = good[np.lexsort((chi2[good], owner[good]))]
    best = best[np.r_[True, owner[best][1:] != owner[best][:-1]]] if len(best) else best
    got = rows[owner[best]]
    c.hits[got, c.n[got]] = hit[best]
    c.n[got] += 1
    c.holes[got] += c.missed[got]
    c.chi2[got] += chi2[best]
    c.missed[rows] += 1
    c.missed[got] = 0
    c.layer[rows], c.s_layer[rows], c.s_hit[got] = nxt, s_next, s_next[owner[best]]
    c.active[rows[c.missed[rows] > min(config.max_missed, config.max_holes)]] = False
    c.active[got[c.n[got] >= c.hits.shape[1]]] = False
    if len(got):
        refit = h.fit(c.hits[got, : c.n[got].max()], b_field)
        for name in c.fit.__dataclass_fields__:
            getattr(c.fit, name)[got] = getattr(refit, name)
    _merge(c)


def _merge(c: Candidates) -> None:
    """Drop active candidates whose last two hits are those of a better one (same particle, same
    future), in place."""
    rows = np.flatnonzero(c.active)
    last, prev = c.hits[rows, c.n[rows] - 1], c.hits[rows, c.n[rows] - 2]
    order = np.lexsort((c.chi2[rows], c.holes[rows], -c.n[rows], prev, last))
    same = (last[order][1:] == last[order][:-1]) & (prev[order][1:] == prev[order][:-1])
    drop = rows[order[1:][same]]
    c.active[drop], c.hits[drop], c.n[drop] = False, -1, 0


def follow_tracks(
    h: HitArrays,
    layers: Layers,
    seeds: np.ndarray,
    succ: np.ndarray,
    config: Any,  # the baseline's BaselineConfig (not imported: baseline imports this module)
    b_field: float,
    use: np.ndarray,
) -> Candidates:
    """Follow seeds outwards, all together, one layer per step (:mod:`.baseline`, step 4).

    Args:
        h: the event's hits; ``layers``: its geometry.
        seeds: ``(S, 3)`` hit indices, inner to outer.
        succ: ``(L, K)`` the layers that may follow each layer (-1 padding).
        config: the :class:`~colliderlab.tracking.baseline.BaselineConfig` (following cuts).
        b_field: the solenoid field (T).
        use: ``(N,)`` the hits that may be added.

    Returns:
        :class:`Candidates`, one per seed (emptied, ``n = 0``, where merged into another).
    """
    m = len(seeds)
    hits = np.full((m, config.max_hits), -1, np.int64)
    hits[:, :3] = seeds
    fit = h.fit(seeds, b_field)
    fit = HelixFit(**{f.name: np.array(getattr(fit, f.name), float) for f in fields(fit)})
    last = seeds[:, 2]
    s_barrel = arc_to_radius(fit.rho, fit.d0, h.r[last])
    s_disk = arc_to_z(fit.rho, fit.z0, fit.cot_theta, h.z[last])
    s_last = np.nan_to_num(np.where(h.layer_barrel[h.layer[last]], s_barrel, s_disk), nan=0.0)
    zeros = np.zeros(m, np.int64)
    c = Candidates(
        hits=hits,
        n=zeros + 3,
        fit=fit,
        layer=h.layer[last],
        s_layer=s_last.copy(),
        s_hit=s_last,
        missed=zeros.copy(),
        holes=zeros.copy(),
        chi2=np.zeros(m),
        active=np.ones(m, bool),
    )
    free = np.flatnonzero(use)
    key = h.layer[free] * 20.0 + h.phi[free] + np.pi
    keys = np.concatenate([key - 2 * np.pi, key, key + 2 * np.pi])
    order = np.argsort(keys, kind="stable")
    keys, key_hit = keys[order], np.tile(free, 3)[order]
    for _ in range(2 * len(layers)):
        if not c.active.any():
            break
        _step(h, layers, c, keys, key_hit, succ, config, b_field)
    return c
