"""The public simulation API: spots of a chunk of showers, their visible energy, deposition into
cells (:func:`simulate`, :func:`shower_spots`), and validation profiles."""

from __future__ import annotations

import math

import numpy as np

from colliderlab.physics.calo.em import _em_spots, _n_spots, _photon_spots, _Spots, pi0_decay
from colliderlab.physics.calo.geometry import (
    CaloGeometry,
    get_geometry,
    particle_id,
)
from colliderlab.physics.calo.hadronic import _pion_spots
from colliderlab.physics.calo.showers import CaloShowers, ShowerSpots

__all__ = ["simulate", "shower_spots", "longitudinal_profile", "radial_containment"]


_MAX_CELL_VALUES = 4_000_000  # showers-per-chunk x cells bound (memory of the bincount)


def _event_spots(
    geom: CaloGeometry,
    pid: int,
    energy: np.ndarray,
    angle: np.ndarray,
    impact: np.ndarray,
    decay_distance: float,
    rng: np.random.Generator,
) -> _Spots:
    """All spots of showers of one particle type; incidence tilted by ``angle`` in y-z."""
    n = energy.size
    axis = np.column_stack([np.zeros(n), np.sin(angle), np.cos(angle)])
    origin = np.column_stack([impact, np.zeros(n)])
    events = np.arange(n)
    if abs(pid) == 11:
        parts = [_em_spots(geom, energy, origin, axis, events, rng)]
    elif pid == 22:
        parts = [_photon_spots(geom, energy, origin, axis, events, rng)]
    elif pid == 111:
        e_ph, direc = pi0_decay(energy, rng, axis)
        owner = np.repeat(events, 2)
        d = direc.reshape(-1, 3)
        vertex = origin - (decay_distance / axis[:, 2])[:, None] * axis  # z = -decay_distance
        entry = vertex[owner] + (decay_distance / np.maximum(d[:, 2], 1e-9))[:, None] * d
        ok = d[:, 2] > 1e-6  # photons flying away from the calorimeter are lost
        parts = [_photon_spots(geom, e_ph.ravel()[ok], entry[ok], d[ok], owner[ok], rng)]
    else:
        parts = _pion_spots(geom, energy, origin, axis, rng)
    return _Spots.concatenate(parts)


def _visible(geom: CaloGeometry, spots: _Spots, n: int, rng: np.random.Generator) -> np.ndarray:
    """Visible energy per spot with spot-level sampling fluctuations (module docstring)."""
    vis = geom.sampling_fraction * spots.response * spots.deposit
    a = geom.stochastic
    if a > 0 and spots.deposit.size:
        s1 = np.bincount(spots.event, spots.deposit, minlength=n)
        s2 = np.bincount(spots.event, spots.deposit**2, minlength=n)
        k = np.where(s1 > 0, s2 / (a**2 * np.maximum(s1, 1e-300)), 1.0)
        k_spot = k[spots.event]
        vis *= rng.standard_gamma(k_spot) / k_spot
    return vis


def _deposit(
    geom: CaloGeometry, spots: _Spots, vis: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sum spots into (n, n_cells) cells and (n, n_layers) lateral overflow (float64)."""
    layer, cell = geom._locate(spots.x, spots.y, spots.z)
    inside = cell >= 0
    n_cells, n_layers = geom.n_cells, geom.n_layers
    cells = np.bincount(
        spots.event[inside] * n_cells + cell[inside], vis[inside], minlength=n * n_cells
    ).reshape(n, n_cells)
    out = ~inside & (layer >= 0)
    overflow = np.bincount(
        spots.event[out] * n_layers + layer[out], vis[out], minlength=n * n_layers
    ).reshape(n, n_layers)
    if geom.noise > 0:
        cells += rng.normal(0.0, geom.noise, cells.shape)
        cells[cells < geom.noise_threshold * geom.noise] = 0.0
    return cells, overflow


# --------------------------------------------------------------------------------------------
# Public simulation API
# --------------------------------------------------------------------------------------------
def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _draw_energy(energy, n: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(energy, tuple | list) and len(energy) == 2:
        lo, hi = float(energy[0]), float(energy[1])
        if not 0 < lo <= hi:
            raise ValueError(f"energy range must satisfy 0 < lo <= hi, got {energy}")
        e = np.exp(rng.uniform(math.log(lo), math.log(hi), n))
    elif np.ndim(energy) == 0:
        e = np.full(n, float(energy))
    else:
        e = np.asarray(energy, float)
        if e.shape != (n,):
            raise ValueError(f"energy array has shape {e.shape}, expected ({n},)")
    if not np.all(np.isfinite(e)) or np.any(e <= 0):
        raise ValueError("energies must be finite and > 0 GeV")
    return e


def _draw_angle(angle, n: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(angle, tuple | list) and len(angle) == 2:
        a = rng.uniform(float(angle[0]), float(angle[1]), n)
    elif np.ndim(angle) == 0:
        a = np.full(n, float(angle))
    else:
        a = np.asarray(angle, float)
        if a.shape != (n,):
            raise ValueError(f"angle array has shape {a.shape}, expected ({n},)")
    if np.any(np.abs(a) >= 1.4):
        raise ValueError("incidence angles must satisfy |angle| < 1.4 rad")
    return a


def _impact(impact, n: int) -> np.ndarray:
    imp = np.asarray(impact, float)
    if imp.shape == (2,):
        return np.broadcast_to(imp, (n, 2))
    if imp.shape != (n, 2):
        raise ValueError(f"impact has shape {imp.shape}, expected (2,) or ({n}, 2)")
    return imp


def _chunks(geom: CaloGeometry, energy: np.ndarray, max_spots: int) -> list[tuple[int, int]]:
    """Shower ranges with about ``max_spots`` spots and a bounded cell array each."""
    est = np.cumsum(1.1 * _n_spots(energy, geom.Z) + 200.0)
    max_events = max(1, _MAX_CELL_VALUES // geom.n_cells)
    bounds, a = [], 0
    while a < energy.size:
        b = int(np.searchsorted(est, (est[a - 1] if a else 0.0) + max_spots, side="right"))
        b = min(max(b, a + 1), a + max_events, energy.size)
        bounds.append((a, b))
        a = b
    return bounds


def _draw_showers(geometry, particle, n: int, energy, angle, impact, rng):
    """Resolve the arguments shared by :func:`shower_spots` and :func:`simulate` and draw the
    incident energies (n,), angles (n,) and impact points (n, 2)."""
    geom, pid, rng = get_geometry(geometry), particle_id(particle), _as_rng(rng)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    e = _draw_energy(energy, n, rng)
    ang = _draw_angle(angle, n, rng)
    return geom, pid, rng, e, ang, _impact(impact, n)


def _spots_and_visible(geom, pid, e, ang, imp, decay_distance, rng) -> tuple[_Spots, np.ndarray]:
    """The spots of len(e) showers and their visible energies (sampling fluctuations)."""
    sp = _event_spots(geom, pid, e, ang, imp, decay_distance, rng)
    return sp, _visible(geom, sp, len(e), rng)


def shower_spots(
    geometry: str | CaloGeometry,
    particle: str | int,
    n: int,
    *,
    energy=(1.0, 100.0),
    angle=0.0,
    impact=(0.0, 0.0),
    decay_distance: float = 1500.0,
    rng: np.random.Generator | int | None = None,
) -> ShowerSpots:
    """The energy spots of ``n`` showers (one chunk; keep ``n`` moderate). Arguments as
    :func:`simulate`; see :class:`ShowerSpots` for the fields."""
    geom, pid, rng, e, ang, imp = _draw_showers(geometry, particle, n, energy, angle, impact, rng)
    sp, vis = _spots_and_visible(geom, pid, e, ang, imp, decay_distance, rng)
    return ShowerSpots(
        sp.event, sp.x, sp.y, sp.z, sp.deposit, vis, sp.t, sp.r, sp.component, e, ang
    )


def simulate(
    geometry: str | CaloGeometry,
    particle: str | int,
    n: int,
    *,
    energy=(1.0, 100.0),
    angle=0.0,
    impact=(0.0, 0.0),
    decay_distance: float = 1500.0,
    rng: np.random.Generator | int | None = None,
    max_spots: int = 400_000,
) -> CaloShowers:
    """Simulate ``n`` showers of one particle type in a calorimeter.

    Args:
        geometry: a :class:`CaloGeometry` or a name in :data:`CALO_GEOMETRIES`.
        particle: ``"e-", "e+", "gamma", "pi0", "pi+", "pi-"`` or the PDG id.
        n: number of showers.
        energy: ``(lo, hi)`` GeV drawn log-uniformly (default 1-100 GeV), a fixed value or an
            (n,) array.
        angle: incidence angle of the shower axis (rad, tilt in the y-z plane): a value,
            ``(lo, hi)`` drawn uniformly, or an (n,) array.
        impact: (x, y) impact point on the front face, mm, or an (n, 2) array.
        decay_distance: pi0 flight distance in front of the calorimeter, mm.
        rng: ``numpy.random.Generator`` (or a seed); same seed -> same showers.
        max_spots: about how many spots to hold in memory at once (showers are chunked).

    Returns:
        :class:`CaloShowers` with (n, n_cells) float32 visible energies in GeV and the
        (n, n_layers) lateral overflow.
    """
    geom, pid, rng, e, ang, imp = _draw_showers(geometry, particle, n, energy, angle, impact, rng)
    showers = np.zeros((n, geom.n_cells), np.float32)
    overflow = np.zeros((n, geom.n_layers), np.float32)
    for a, b in _chunks(geom, e, max_spots):
        sp, vis = _spots_and_visible(geom, pid, e[a:b], ang[a:b], imp[a:b], decay_distance, rng)
        showers[a:b], overflow[a:b] = _deposit(geom, sp, vis, b - a, rng)
    return CaloShowers(
        e,
        showers,
        np.full(n, pid, np.int32),
        ang.astype(np.float32),
        geom.name,
        geom.layer_shapes,
        overflow,
    )


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------
def longitudinal_profile(
    spots: ShowerSpots, edges: np.ndarray, *, weight: str = "deposit", component: int | None = 0
) -> np.ndarray:
    """Mean over showers of the fraction of each shower's energy in bins of spot depth ``t``
    (X0 from the sub-shower start); ``edges`` (B+1,) -> (B,). ``weight``: ``"deposit"`` or
    ``"energy"`` (visible); ``component``: only spots of that component (None: all)."""
    sel = slice(None) if component is None else spots.component == component
    t, ev, wgt = spots.t[sel], spots.event[sel], getattr(spots, weight)[sel]
    nb = len(edges) - 1
    b = np.searchsorted(edges, t, side="right") - 1
    ok = (b >= 0) & (b < nb)
    hist = np.bincount(ev[ok] * nb + b[ok], wgt[ok], minlength=spots.n_events * nb)
    total = np.bincount(ev, wgt, minlength=spots.n_events)
    keep = total > 0
    return (hist.reshape(-1, nb)[keep] / total[keep, None]).mean(axis=0)


def radial_containment(
    spots: ShowerSpots, radii: np.ndarray, *, weight: str = "deposit", component: int | None = 0
) -> np.ndarray:
    """Mean over showers of the fraction of each shower's energy within ``radii`` (Moliere
    radii) of its (sub-)shower axis; (R,) -> (R,)."""
    sel = slice(None) if component is None else spots.component == component
    r, ev, wgt = spots.r[sel], spots.event[sel], getattr(spots, weight)[sel]
    total = np.bincount(ev, wgt, minlength=spots.n_events)
    keep = total > 0
    out = []
    for rad in np.atleast_1d(radii):
        inside = np.bincount(ev, wgt * (r < rad), minlength=spots.n_events)
        out.append(np.mean(inside[keep] / total[keep]))
    return np.array(out)
