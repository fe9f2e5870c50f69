"""Photon conversions to e+ e- in the tracker's material.

A photon flies straight from its production point; crossing a surface of ``x/X0`` radiation
lengths along its path it converts with probability ``1 - exp(-7/9 x/X0)`` (the high-energy pair
production cross section, PDG Review "Passage of particles through matter", eq. 34.31). The
electron takes the energy fraction ``x`` drawn from the Bethe-Heitler complete-screening
spectrum ``dsigma/dx ~ 1 - 4/3 x (1 - x)`` (same section, eq. 34.29), the positron the rest;
both continue along the photon's direction (the opening angle, of order m_e/E, is neglected).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colliderlab.physics.tracker.geometry import KILL, Surfaces

__all__ = ["Conversions", "convert_photons", "pair_fraction"]

M_ELECTRON = 0.000511  # GeV


@dataclass
class Conversions:
    """Converted photons: their index among the photons given, the surface and point (mm) of
    conversion, the radial direction of the crossing (+1 outwards) and the electron's energy
    fraction ``x``."""

    photon: np.ndarray
    surface: np.ndarray
    point: np.ndarray  # (K, 3)
    sigma: np.ndarray
    fraction: np.ndarray


def pair_fraction(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` electron energy fractions from ``1 - 4/3 x (1 - x)`` on [0, 1] (accept-reject)."""
    out = np.empty(0)
    while len(out) < n:
        x = rng.random(2 * (n - len(out)) + 8)
        keep = rng.random(len(x)) < 1 - 4.0 / 3.0 * x * (1 - x)
        out = np.concatenate([out, x[keep]])
    return out[:n]


def convert_photons(vertex: np.ndarray, momentum: np.ndarray, surf: Surfaces,
                    rng: np.random.Generator) -> Conversions:
    """Which photons convert, and where.

    Args:
        vertex: ``(G, 3)`` production points (mm); momentum: ``(G, 3)`` (GeV).
        surf: the tracker's surfaces (material in ``surf.x0``).
        rng: random numbers.
    """
    d = momentum / np.linalg.norm(momentum, axis=1, keepdims=True)  # (G, 3)
    nc = surf.n_cyl
    # cylinders: the crossing on the way out, for photons made inside
    a = d[:, 0] ** 2 + d[:, 1] ** 2
    b = 2 * (vertex[:, 0] * d[:, 0] + vertex[:, 1] * d[:, 1])
    c = (vertex[:, 0] ** 2 + vertex[:, 1] ** 2)[:, None] - surf.size[None, :nc] ** 2  # (G, Nc)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_cyl = (-b[:, None] + np.sqrt(b[:, None] ** 2 - 4 * a[:, None] * c)) / (2 * a[:, None])
        z_cyl = vertex[:, 2:3] + t_cyl * d[:, 2:3]
        t_cyl = np.where((c < 0) & (t_cyl > 0) & (np.abs(z_cyl) <= surf.hi[None, :nc]), t_cyl, np.nan)
        t_pl = (surf.size[None, nc:] - vertex[:, 2:3]) / d[:, 2:3]  # (G, Np)
    x_pl = vertex[:, 0:1] + t_pl * d[:, 0:1]
    y_pl = vertex[:, 1:2] + t_pl * d[:, 1:2]
    r_pl = np.hypot(x_pl, y_pl)
    t_pl = np.where((t_pl > 0) & (r_pl >= surf.lo[None, nc:]) & (r_pl <= surf.hi[None, nc:]), t_pl, np.nan)
    t = np.concatenate([t_cyl, t_pl], axis=1)  # (G, S)
    # incidence: on a cylinder the radial component of d at the crossing point
    pts = vertex[:, None, :] + np.where(np.isfinite(t), t, 0.0)[:, :, None] * d[:, None, :]  # (G, S, 3)
    r = np.maximum(np.hypot(pts[..., 0], pts[..., 1]), 1e-12)
    cos_cyl = np.abs(pts[..., 0] * d[:, None, 0] + pts[..., 1] * d[:, None, 1]) / r
    cos = np.where(np.arange(surf.n)[None, :] < nc, cos_cyl, np.abs(d[:, 2:3]))
    x_eff = surf.x0[None, :] / np.maximum(cos, 0.1)
    p_conv = -np.expm1(-7.0 / 9.0 * x_eff)
    converts = np.isfinite(t) & (surf.role[None, :] != KILL) & (rng.random(t.shape) < p_conv)
    t_conv = np.where(converts, t, np.inf)
    first = np.argmin(t_conv, axis=1)
    photon = np.flatnonzero(np.isfinite(t_conv[np.arange(len(t)), first]))
    surface = first[photon]
    point = pts[photon, surface]
    return Conversions(photon=photon, surface=surface, point=point, sigma=np.ones(len(photon)),
                       fraction=pair_fraction(len(photon), rng))
