"""Step every charged particle of an event from surface to surface on its helix, together.

Each step finds, for all particles still moving, the nearest crossing ahead among every surface
(:mod:`colliderlab.physics.tracker.geometry`), moves them there, records the crossings of
sensitive modules, and applies the surface's material: multiple scattering for everyone,
bremsstrahlung for electrons. A barrel crossing found on the layer's inscribed cylinder is moved
onto the face of the stave it lies on (the exact circle-plane intersection). Particles stop when
they reach the envelope, fall below half the card's ``min_pt`` or have made ``max_crossings``
crossings; loopers therefore cross the same layers again on their way back in, as many times as
that allows. A cylinder is crossed alternately outwards and inwards, which is how the crossing
just made is told from the next one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colliderlab.physics.tracker.card import SiliconTrackerCard
from colliderlab.physics.tracker.geometry import KILL, SENSITIVE, Modules, Surfaces
from colliderlab.physics.tracker.helix import (
    Helix,
    bethe_heitler_fraction,
    cylinder_roots,
    highland_theta0,
    scatter,
    stave_roots,
    zplane_turn,
)

__all__ = ["Start", "Crossings", "propagate"]

_MIN_COS = 0.1  # path length through a layer is capped at 10x its thickness (grazing incidence)


@dataclass
class Start:
    """Particles to propagate, ``(M,)`` arrays: position (mm), momentum (GeV), charge, mass
    (GeV), whether each is an electron (bremsstrahlung), its row in the event's particle table,
    and the surface it starts on (-1: none) with the radial direction it crossed it in."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    q: np.ndarray
    mass: np.ndarray
    electron: np.ndarray
    row: np.ndarray
    surface: np.ndarray
    sigma: np.ndarray


@dataclass
class Crossings:
    """Module crossings, ``(C,)`` arrays: particle row, surface and module index, the true point
    (mm) and the momentum (GeV) on arrival, in the order they were made per particle (``step``)."""

    row: np.ndarray
    surface: np.ndarray
    module: np.ndarray
    step: np.ndarray
    pos: np.ndarray  # (C, 3)
    mom: np.ndarray  # (C, 3)


def _next_crossing(hel: Helix, surf: Surfaces, last: np.ndarray, last_sigma: np.ndarray):
    """Nearest crossing ahead: ``(s, surface, sigma)`` per helix (s = inf when there is none)."""
    m = len(hel.x)
    nc = surf.n_cyl
    s_p, s_m, sig_p, sig_m = cylinder_roots(hel, surf.size[:nc])  # (M, Nc)
    dz = hel.dz_ds[:, None]
    s_p = np.where(np.abs(hel.z[:, None] + dz * s_p) <= surf.hi[None, :nc], s_p, np.nan)
    s_m = np.where(np.abs(hel.z[:, None] + dz * s_m) <= surf.hi[None, :nc], s_m, np.nan)
    # the surface just crossed: only the crossing in the other radial direction is ahead
    on_cyl = np.flatnonzero((last >= 0) & (last < nc))
    col = last[on_cyl]
    same_p = np.broadcast_to(sig_p, (m, 1))[on_cyl, 0] == last_sigma[on_cyl]
    s_p[on_cyl[same_p], col[same_p]] = np.nan
    s_m[on_cyl[~same_p], col[~same_p]] = np.nan
    s_cyl = np.fmin(s_p, s_m)
    sig_cyl = np.where(np.isnan(s_p) | (s_m < s_p), sig_m, sig_p)  # (M, Nc)
    s_pl = zplane_turn(hel, surf.size[nc:])  # (M, Np)
    alpha = hel.alpha0[:, None] - hel.h[:, None] * s_pl
    r = np.hypot(hel.xc[:, None] + hel.rho[:, None] * np.cos(alpha), hel.yc[:, None] + hel.rho[:, None] * np.sin(alpha))
    s_pl = np.where((r >= surf.lo[None, nc:]) & (r <= surf.hi[None, nc:]), s_pl, np.nan)
    on_pl = np.flatnonzero(last >= nc)
    s_pl[on_pl, last[on_pl] - nc] = np.nan
    s_all = np.nan_to_num(np.concatenate([s_cyl, s_pl], axis=1), nan=np.inf)
    best = np.argmin(s_all, axis=1)
    s = s_all[np.arange(m), best]
    sigma = np.where(best < nc, sig_cyl[np.arange(m), np.minimum(best, nc - 1)], 0.0)
    return s, best, sigma


def _on_stave(hel: Helix, rows: np.ndarray, s_cyl: np.ndarray, surf: Surfaces, sidx: np.ndarray):
    """Move barrel crossings onto their stave's face: ``(s, module)`` (module -1 if missed)."""
    radius, n_phi, n_z = surf.size[sidx], surf.n_phi[sidx], surf.n_z[sidx]
    step = 2 * np.pi / n_phi
    x, y, z = hel.at(s_cyl, rows)[:3]
    k = np.mod(np.rint(np.arctan2(y, x) / step), n_phi)
    s_out = np.full(len(rows), np.nan)
    k_out = k.copy()
    todo = np.ones(len(rows), bool)
    for _ in range(2):  # the stave under the cylinder crossing, else its neighbour
        theta = k * step
        s1, s2 = stave_roots(hel, rows, theta, radius)
        d1 = np.abs(np.nan_to_num(s1, nan=np.inf) - s_cyl)
        d2 = np.abs(np.nan_to_num(s2, nan=np.inf) - s_cyl)
        s_try = np.where(d1 <= d2, s1, s2)
        s_try = np.where(np.minimum(d1, d2) < 0.5, s_try, np.nan)
        xs, ys = hel.at(np.nan_to_num(s_try), rows)[:2]
        u = -xs * np.sin(theta) + ys * np.cos(theta)
        ok = todo & np.isfinite(s_try) & (np.abs(u) <= radius * np.tan(step / 2))
        s_out[ok], k_out[ok] = s_try[ok], k[ok]
        todo &= ~ok
        k = np.mod(k + np.sign(u), n_phi)
    found = np.isfinite(s_out)
    s_final = np.where(found, s_out, s_cyl)
    z_final = hel.at(s_final, rows)[2]
    half = surf.hi[sidx]
    iz = np.floor((z_final + half) / (2 * half / n_z)).astype(int)
    inside = found & (iz >= 0) & (iz < n_z)
    module = np.where(inside, surf.first[sidx] + k_out.astype(int) * n_z + iz, -1)
    return s_final, module


def _on_disk(x: np.ndarray, y: np.ndarray, surf: Surfaces, sidx: np.ndarray) -> np.ndarray:
    """Module of each crossing of a disk plane, -1 outside every trapezoid."""
    module = np.full(len(x), -1)
    phi = np.arctan2(y, x)
    n_slots = int((surf.ring_stop[sidx] - surf.ring_start[sidx]).max(initial=0))
    for j in range(n_slots):
        ring = surf.ring_start[sidx] + j
        has = (ring < surf.ring_stop[sidx]) & (module < 0)
        ring = np.where(has, ring, 0)
        n = surf.ring_n_phi[ring]
        k = np.mod(np.rint(phi / (2 * np.pi / n)), n)
        theta = 2 * np.pi * k / n
        v = x * np.cos(theta) + y * np.sin(theta)
        u = -x * np.sin(theta) + y * np.cos(theta)
        inside = has & (v >= surf.ring_r_min[ring]) & (v <= surf.ring_r_max[ring]) & (np.abs(u) <= v * np.tan(np.pi / n))
        module = np.where(inside, surf.ring_first[ring] + k.astype(int), module)
    return module


def _material(pos: np.ndarray, mom: np.ndarray, best: np.ndarray, surf: Surfaces) -> np.ndarray:
    """x/X0 along the path through each crossed surface (normal incidence / |cos|)."""
    cyl = surf.is_cylinder(best)
    r = np.hypot(pos[:, 0], pos[:, 1])
    normal_dot = np.where(cyl, (pos[:, 0] * mom[:, 0] + pos[:, 1] * mom[:, 1]) / np.maximum(r, 1e-12), mom[:, 2])
    cos = np.abs(normal_dot) / np.linalg.norm(mom, axis=1)
    return surf.x0[best] / np.maximum(cos, _MIN_COS)


def propagate(start: Start, card: SiliconTrackerCard, surf: Surfaces, modules: Modules,
              rng: np.random.Generator) -> Crossings:
    """Propagate ``start`` through the tracker; the module crossings of every particle.

    Args:
        start: ``M`` charged particles.
        card, surf, modules: the tracker (:func:`~colliderlab.physics.tracker.geometry.build_geometry`).
        rng: random numbers for the material effects.
    """
    st = {k: np.asarray(v).copy() for k, v in vars(start).items()}
    st["step"] = np.zeros(len(st["x"]), int)
    st["surface"] = st["surface"].astype(int)
    active = np.flatnonzero(np.abs(st["q"]) > 0)
    records: list[tuple] = []
    nc = surf.n_cyl
    while len(active):
        g = {k: v[active] for k, v in st.items()}
        hel = Helix.from_state(g["x"], g["y"], g["z"], g["px"], g["py"], g["pz"], g["q"], card.b_field)
        s, best, sigma = _next_crossing(hel, surf, g["surface"], g["sigma"])
        going = np.isfinite(s) & (surf.role[best] != KILL)
        module = np.full(len(s), -1)
        sens_cyl = np.flatnonzero(going & (best < nc) & (surf.role[best] == SENSITIVE))
        if len(sens_cyl):
            s[sens_cyl], module[sens_cyl] = _on_stave(hel, sens_cyl, s[sens_cyl], surf, best[sens_cyl])
        x, y, z, px, py, pz = hel.at(np.where(going, s, 0.0))
        sens_pl = np.flatnonzero(going & (best >= nc) & (surf.role[best] == SENSITIVE))
        if len(sens_pl):
            module[sens_pl] = _on_disk(x[sens_pl], y[sens_pl], surf, best[sens_pl])
        pos = np.stack([x, y, z], axis=1)
        mom = np.stack([px, py, pz], axis=1)
        hit = np.flatnonzero(going & (module >= 0))
        records.append((g["row"][hit], best[hit], module[hit], g["step"][hit], pos[hit], mom[hit]))
        # material of the surface: multiple scattering, and bremsstrahlung for electrons
        mat = np.flatnonzero(going & (surf.x0[best] > 0))
        if len(mat):
            x_eff = _material(pos[mat], mom[mat], best[mat], surf)
            p = np.linalg.norm(mom[mat], axis=1)
            beta = p / np.hypot(p, g["mass"][mat])
            mom[mat] = scatter(mom[mat], highland_theta0(p, beta, g["q"][mat], x_eff), rng)
            el = g["electron"][mat]
            mom[mat[el]] *= bethe_heitler_fraction(x_eff[el], rng)[:, None]
        for key, val in zip(("x", "y", "z", "px", "py", "pz"), (x, y, z, *mom.T), strict=True):
            st[key][active] = val
        st["surface"][active] = best
        st["sigma"][active] = sigma
        st["step"][active] += 1
        keep = going & (st["step"][active] < card.max_crossings) & (np.hypot(mom[:, 0], mom[:, 1]) >= 0.5 * card.min_pt)
        active = active[keep]
    cat = [np.concatenate(parts) if parts else np.empty(0) for parts in zip(*records, strict=True)] if records else []
    if not cat:
        e = np.empty(0, int)
        return Crossings(e, e, e, e, np.empty((0, 3)), np.empty((0, 3)))
    return Crossings(row=cat[0].astype(int), surface=cat[1].astype(int), module=cat[2].astype(int),
                     step=cat[3].astype(int), pos=cat[4].reshape(-1, 3), mom=cat[5].reshape(-1, 3))
