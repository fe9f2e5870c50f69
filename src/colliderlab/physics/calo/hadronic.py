"""Charged-pion showers: an EM fraction, a visible hadronic fraction with its intrinsic spread and
two-component lateral profiles in interaction lengths; punch-through of late starts."""

from __future__ import annotations

import math

import numpy as np

from colliderlab.physics.calo.em import _em_spots, _n_spots, _place, _Spots
from colliderlab.physics.calo.geometry import CaloGeometry

_HAD_CORE, _HAD_HALO, _HAD_CORE_WEIGHT = 0.1, 0.3, 0.5  # hadronic lateral profile, lambda_I
_HAD_INTRINSIC = 0.3  # relative width of the hadronic visible fraction at 1 GeV


def _pion_spots(
    geom: CaloGeometry,
    energy: np.ndarray,
    origin: np.ndarray,
    axis: np.ndarray,
    rng: np.random.Generator,
) -> list[_Spots]:
    n = energy.size
    dedx = geom.dedx * 1e-3  # GeV/mm
    s_int = rng.exponential(geom.interaction_length, n)
    s_exit = geom.depth / axis[:, 2]
    track = np.minimum(np.minimum(s_int, s_exit), energy / dedx)
    e_track = dedx * track
    parts = [_track_spots(geom, origin, axis, track, e_track, rng)]
    shower = np.flatnonzero((s_int < s_exit) & (energy - e_track > 1e-6))
    if shower.size == 0:
        return parts
    e_sh = energy[shower] - e_track[shower]
    start = origin[shower] + s_int[shower, None] * axis[shower]
    ax = axis[shower]
    # electromagnetic fraction (Groom / Gabriel et al.), Beta fluctuations
    mean_fem = np.clip(1.0 - (e_sh / geom.fem_e0) ** (geom.fem_k - 1.0), 0.02, 0.98)
    kappa = geom.fem_concentration
    f_em = rng.beta(mean_fem * kappa, (1.0 - mean_fem) * kappa)
    e_em, e_had = f_em * e_sh, (1.0 - f_em) * e_sh
    parts.append(_em_spots(geom, e_em, start, ax, shower, rng))
    parts.append(_hadronic_spots(geom, e_sh, e_had, start, ax, shower, rng))
    return parts


def _track_spots(
    geom: CaloGeometry,
    origin: np.ndarray,
    axis: np.ndarray,
    track: np.ndarray,
    e_track: np.ndarray,
    rng: np.random.Generator,
) -> _Spots:
    """The MIP track: n_tr spots at the midpoints of equal steps along the axis."""
    n_tr = int(
        np.clip(math.ceil(geom.depth / (0.25 * min(la.thickness for la in geom.layers))), 4, 200)
    )
    frac = (np.arange(n_tr) + 0.5) / n_tr
    owner = np.repeat(np.arange(track.size), n_tr)
    s = (track[:, None] * frac).ravel()
    x, y, z = _place(origin, axis, owner, s, np.zeros_like(s), rng)
    k = owner.size
    return _Spots(
        owner,
        x,
        y,
        z,
        np.repeat(e_track / n_tr, n_tr),
        np.full(k, 1.0 / geom.e_mip),
        s / geom.X0,
        np.zeros(k),
        np.full(k, 2, np.int8),
    )


def _hadronic_spots(
    geom: CaloGeometry,
    e_sh: np.ndarray,
    e_had: np.ndarray,
    start: np.ndarray,
    ax: np.ndarray,
    shower: np.ndarray,
    rng: np.random.Generator,
) -> _Spots:
    """The hadronic part of the showers (events ``shower``, starting at ``start`` along ``ax``):
    Bock et al. gamma profile in lambda_I, wide two-component lateral profile."""
    h = 1.0 / geom.e_over_h
    if h < 1.0:  # Beta: the visible fraction stays below 1
        conc = np.maximum((1.0 - h) * e_had / (h * _HAD_INTRINSIC**2) - 1.0, 1.0)
        v_h = rng.beta(h * conc, (1.0 - h) * conc)
    else:  # compensating (e/h = 1) or over-compensating calorimeter: Gamma around h
        k = np.maximum(e_had, 1e-6) / _HAD_INTRINSIC**2
        v_h = h * rng.standard_gamma(k) / k
    log_e = np.log(e_sh)
    shape = np.maximum(0.6165 + 0.3183 * log_e, 0.2)
    rate = 0.9099 - 0.0237 * log_e
    nh = _n_spots(e_had, geom.Z)
    owner = np.repeat(np.arange(shower.size), nh)
    lam = geom.interaction_length
    s = rng.standard_gamma(shape[owner]) / rate[owner] * lam
    u = rng.random(s.size) * (1.0 - 1e-6)
    radius = np.where(rng.random(s.size) < _HAD_CORE_WEIGHT, _HAD_CORE, _HAD_HALO) * lam
    r = radius * np.sqrt(u / (1.0 - u))
    x, y, z = _place(start, ax, owner, s, r, rng)
    return _Spots(
        shower[owner],
        x,
        y,
        z,
        (e_had / nh)[owner],
        v_h[owner],
        s / geom.X0,
        r / geom.moliere_radius,
        np.ones(s.size, np.int8),
    )
