"""Helices in a uniform solenoid field along +z, and what matter does to them.

A particle of charge ``q`` (e) and transverse momentum ``pT`` (GeV) in a field ``B`` (T) turns on
a circle of radius ``R = pT / (0.3 |q| B)`` in metres (``1000 pT / (0.299792458 |q| B)`` mm).
The state is parametrised by the turning angle ``s >= 0``; with ``h = sign(q)``, the momentum
direction in the transverse plane is ``phi(s) = phi0 - h s`` (a positive charge turns clockwise
seen from +z) and the position angle about the circle's centre ``(xc, yc)`` is
``alpha(s) = alpha0 - h s``:

    x(s) = xc + R cos alpha(s),   y(s) = yc + R sin alpha(s),   z(s) = z0 + R s pz / pT.

Crossings with a cylinder ``r = const``, a plane through the axis-parallel line at distance ``d``
(a barrel stave) and a plane ``z = const`` are closed-form. Multiple scattering follows the
Highland formula (PDG Review "Passage of particles through matter", eq. 34.15; Lynch & Dahl,
NIM B58 (1991) 6); electrons lose energy by bremsstrahlung with the Bethe-Heitler distribution of
the retained fraction (Bethe & Heitler 1934; the ``c = t / ln 2`` form used by the Gaussian-sum
filter, e.g. arXiv:physics/0306087).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "C_LIGHT",
    "Helix",
    "curvature_radius",
    "cylinder_roots",
    "stave_roots",
    "zplane_turn",
    "highland_theta0",
    "scatter",
    "bethe_heitler_fraction",
]

C_LIGHT = 0.299792458  # GeV per (tesla metre) per unit charge
TWO_PI = 2 * np.pi


def curvature_radius(pt: np.ndarray, q: np.ndarray, b_field: float) -> np.ndarray:
    """Radius of curvature in mm: ``1000 pT / (0.299792458 |q| B)`` (pT in GeV, B in T)."""
    return 1000.0 * np.asarray(pt, float) / (C_LIGHT * np.abs(q) * b_field)


@dataclass
class Helix:
    """Helix parameters of ``M`` charged particles at their current point, ``(M,)`` arrays (mm)."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    pt: np.ndarray
    pz: np.ndarray
    phi0: np.ndarray
    h: np.ndarray
    rho: np.ndarray
    xc: np.ndarray
    yc: np.ndarray
    alpha0: np.ndarray

    @classmethod
    def from_state(cls, x, y, z, px, py, pz, q, b_field: float) -> Helix:
        pt = np.hypot(px, py)
        h = np.sign(q).astype(float)
        rho = curvature_radius(pt, q, b_field)
        phi0 = np.arctan2(py, px)
        xc = x + rho * h * np.sin(phi0)
        yc = y - rho * h * np.cos(phi0)
        return cls(x=x, y=y, z=z, pt=pt, pz=pz, phi0=phi0, h=h, rho=rho, xc=xc, yc=yc,
                   alpha0=np.arctan2(y - yc, x - xc))

    @property
    def dz_ds(self) -> np.ndarray:
        """dz per radian of turning (mm): ``R pz / pT``."""
        return self.rho * self.pz / self.pt

    def at(self, s: np.ndarray, rows: np.ndarray | slice = slice(None)) -> tuple[np.ndarray, ...]:
        """Position ``(x, y, z)`` and momentum ``(px, py, pz)`` after turning ``s`` (rows of ``self``)."""
        alpha = self.alpha0[rows] - self.h[rows] * s
        phi = self.phi0[rows] - self.h[rows] * s
        rho = self.rho[rows]
        return (self.xc[rows] + rho * np.cos(alpha), self.yc[rows] + rho * np.sin(alpha),
                self.z[rows] + self.dz_ds[rows] * s,
                self.pt[rows] * np.cos(phi), self.pt[rows] * np.sin(phi), self.pz[rows])

    def turn_to(self, alpha: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """The turning angle in ``(0, 2 pi]`` that brings the position angle to ``alpha``."""
        s = np.mod(self.h[rows] * (self.alpha0[rows] - alpha), TWO_PI)
        return np.where(s < 1e-9, s + TWO_PI, s)


def cylinder_roots(hel: Helix, radius: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Both crossings of every helix with every cylinder ``r = radius``.

    Args:
        hel: ``M`` helices.
        radius: ``(K,)`` cylinder radii (mm).

    Returns:
        ``s_plus, s_minus`` ``(M, K)`` turning angles in ``(0, 2 pi]`` (NaN where the circle does
        not reach the cylinder) and their radial directions ``sigma_plus, sigma_minus`` ``(M, 1)``
        (+1 outgoing, -1 incoming).
    """
    d = np.hypot(hel.xc, hel.yc)[:, None]  # (M, 1)
    rho = hel.rho[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        cos_arg = (radius[None, :] ** 2 - d**2 - rho**2) / (2 * rho * d)  # (M, K)
    a = np.arccos(np.where(np.abs(cos_arg) <= 1, cos_arg, np.nan))
    beta = np.arctan2(hel.yc, hel.xc)[:, None]
    s_plus = _turn(hel, beta + a)
    s_minus = _turn(hel, beta - a)
    # radial velocity at beta +- a is proportional to -/+ h sin(a): + is incoming for h > 0
    return s_plus, s_minus, -hel.h[:, None], hel.h[:, None]


def _turn(hel: Helix, alpha: np.ndarray) -> np.ndarray:
    s = np.mod(hel.h[:, None] * (hel.alpha0[:, None] - alpha), TWO_PI)
    return np.where(s < 1e-9, s + TWO_PI, s)


def stave_roots(hel: Helix, rows: np.ndarray, theta: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both crossings of helices ``rows`` with the planes ``x cos(theta) + y sin(theta) = dist``.

    Args:
        rows: ``(L,)`` helix indices; ``theta``, ``dist``: ``(L,)`` plane normal angles and distances.

    Returns:
        ``(L,)`` turning angles in ``(0, 2 pi]`` of the two crossings (NaN where none).
    """
    proj = hel.xc[rows] * np.cos(theta) + hel.yc[rows] * np.sin(theta)
    cos_arg = (dist - proj) / hel.rho[rows]
    a = np.arccos(np.where(np.abs(cos_arg) <= 1, cos_arg, np.nan))
    return hel.turn_to(theta + a, rows), hel.turn_to(theta - a, rows)


def zplane_turn(hel: Helix, z_planes: np.ndarray) -> np.ndarray:
    """Turning angle ``(M, P)`` to reach each plane ``z = z_planes`` (NaN when behind or never)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (z_planes[None, :] - hel.z[:, None]) / hel.dz_ds[:, None]
    return np.where(np.isfinite(s) & (s > 1e-9), s, np.nan)


def highland_theta0(p: np.ndarray, beta: np.ndarray, q: np.ndarray, x_over_x0: np.ndarray) -> np.ndarray:
    """RMS plane-projected scattering angle (rad) after ``x/X0`` radiation lengths (Highland):
    ``13.6 MeV / (beta c p) |q| sqrt(x/X0) (1 + 0.038 ln(x q^2 / (X0 beta^2)))``."""
    x = np.maximum(x_over_x0, 1e-12)
    return 0.0136 / (beta * p) * np.abs(q) * np.sqrt(x) * np.maximum(1 + 0.038 * np.log(x * q**2 / beta**2), 0.0)


def scatter(p: np.ndarray, theta0: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Momenta ``p`` ``(L, 3)`` turned by two independent Gaussian angles of RMS ``theta0``
    ``(L,)`` in the plane perpendicular to each; ``|p|`` is kept."""
    norm = np.linalg.norm(p, axis=1, keepdims=True)
    d = p / norm
    # an axis not parallel to d, then two unit vectors perpendicular to d
    helper = np.where(np.abs(d[:, 2:3]) < 0.9, np.array([[0.0, 0.0, 1.0]]), np.array([[1.0, 0.0, 0.0]]))
    e1 = np.cross(d, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(d, e1)
    t1, t2 = rng.normal(size=(2, len(p))) * theta0
    new = d + np.tan(t1)[:, None] * e1 + np.tan(t2)[:, None] * e2
    return new / np.linalg.norm(new, axis=1, keepdims=True) * norm


def bethe_heitler_fraction(x_over_x0: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fraction of its energy an electron keeps after ``x/X0``: ``-ln z ~ Gamma(t / ln 2, 1)``."""
    c = np.maximum(x_over_x0, 1e-12) / np.log(2.0)
    return np.exp(-rng.gamma(c))
