"""Helix fits and helix extrapolation for the classical track finder (:mod:`.baseline`).

A track in a uniform solenoid field ``B`` along +z is a helix: a circle in the transverse plane and
a straight line in (arc length ``s``, ``z``). :func:`fit_helix` fits both, many tracks at once:

- the circle with Karimäki's non-iterative weighted fit (V. Karimäki, "Effective circle fitting
  for particle trajectories", NIM A305 (1991) 187), parametrised at the point of closest approach
  (PCA) to the beam line ``x = y = 0`` by the signed curvature ``rho`` (1/mm, > 0: turning
  clockwise seen from +z, a positive charge for B > 0), the direction ``phi0`` of the momentum
  there and the signed distance ``d0`` (mm). The parametrisation stays finite for straight tracks.
- the line ``z = z0 + cot_theta * s`` by weighted least squares, ``s`` the signed arc length from
  the PCA along the direction of motion.

``pT = 0.299792458e-3 * B[T] / |rho| [1/mm]`` GeV. The PCA is ``d0 * (sin phi0, -cos phi0)``, the
circle's centre ``(1 / rho + d0) * (sin phi0, -cos phi0)``. After an arc length ``s`` the position is
``PCA + s sinc(rho s / 2) (cos(phi0 - rho s / 2), sin(phi0 - rho s / 2))``
(:func:`helix_position`); the arc length to a cylinder ``r`` is closed-form (:func:`arc_to_radius`),
to a plane ``z`` it is ``(z - z0) / cot_theta`` (:func:`arc_to_z`). Conventions as in the ATLAS /
ACTS perigee (arXiv:2106.13593), with the ATLAS sign of d0 left aside: here d0 > 0 when the beam
line lies to the left of the direction of motion at the PCA.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

__all__ = [
    "C_LIGHT",
    "HelixFit",
    "arc_to_radius",
    "arc_to_z",
    "fit_circle",
    "fit_helix",
    "helix_position",
]

C_LIGHT = 0.299792458  # GeV per (tesla metre) per unit charge


@dataclass(frozen=True)
class HelixFit:
    """Fitted helices, arrays of shape ``(M,)`` (0-d for a single track).

    ``pt`` (GeV), ``charge`` (+-1, for ``b_field`` > 0), ``d0``, ``z0`` (mm), ``phi0`` (rad),
    ``cot_theta`` (dz/ds), ``chi2`` (sum of squared normalised residuals, circle and line), ``ndf``
    (2 K - 5 for K hits), ``rho`` (signed curvature, 1/mm, > 0 clockwise from +z).
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

    def take(self, rows: np.ndarray | slice) -> HelixFit:
        """The fits of ``rows``."""
        return HelixFit(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


def _means(w: np.ndarray, *values: np.ndarray) -> list[np.ndarray]:
    total = w.sum(axis=-1)
    return [(w * v).sum(axis=-1) / total for v in values]


def fit_circle(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, ahead: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, ...]:
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
    mx, my, mxx, mxy, myy, mxr, myr, mr, mrr = _means(w, x, y, x * x, x * y, y * y, x * r2, y * r2, r2, r2 * r2)
    cxx, cxy, cyy = mxx - mx * mx, mxy - mx * my, myy - my * my
    cxr, cyr, crr = mxr - mx * mr, myr - my * mr, mrr - mr * mr
    q1 = crr * cxy - cxr * cyr
    q2 = crr * (cxx - cyy) - cxr * cxr + cyr * cyr
    phi = 0.5 * np.arctan2(2 * q1, q2)
    sin, cos = np.sin(phi), np.cos(phi)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (sin * cxr - cos * cyr) / crr
    delta = -kappa * mr + sin * mx - cos * my
    root = np.sqrt(np.maximum(1 - 4 * delta * kappa, 0.0))
    rho = 2 * kappa / np.maximum(root, 1e-12)
    d0 = 2 * delta / (1 + root)
    # orient phi along the motion: from the PCA towards the points
    ax, ay = (mx, my) if ahead is None else ahead
    flip = cos * (ax - d0 * sin) + sin * (ay + d0 * cos) < 0
    return np.where(flip, -rho, rho), np.where(flip, phi + np.pi, phi), np.where(flip, -d0, d0)


def _circle_residuals(x, y, rho, phi0, d0) -> np.ndarray:
    """Signed distance of points ``(M, K)`` to circles ``(M, 1)`` (stable for rho -> 0)."""
    sin, cos = np.sin(phi0), np.cos(phi0)
    u = 1 + rho * d0
    f = 0.5 * rho * (x * x + y * y + d0 * d0) - u * (x * sin - y * cos) + d0
    return 2 * f / (1 + np.sqrt(np.maximum(1 + 2 * rho * f, 0.0)))


def _arc_lengths(x, y, rho, phi0, d0) -> np.ndarray:
    """Signed arc length from the PCA to points ``(M, K)`` on (or near) circles ``(M, 1)``."""
    sin, cos = np.sin(phi0), np.cos(phi0)
    dx, dy = x - d0 * sin, y + d0 * cos
    chord = np.hypot(dx, dy)
    half = np.clip(0.5 * rho * chord, -1.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(np.abs(half) > 1e-8, np.arcsin(half) / half, 1.0)
    return np.where(dx * cos + dy * sin >= 0, 1.0, -1.0) * chord * scale


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
            NaN where a track has fewer than K hits; at least 3 hits per track.
        b_field: the solenoid field along +z (T).
        sigma_rphi, sigma_z, sigma_r: hit uncertainties (mm) across the track in the transverse
            plane, in z and in r (broadcast to the hits): strips on a barrel layer have a large
            ``sigma_z``, on a disk a large ``sigma_r``. The line fit weighs a hit by
            ``1 / (sigma_z^2 + (cot_theta sigma_r)^2)``, the circle fit by ``1 / (sigma_rphi^2 +
            (sin psi sigma_r)^2)`` with ``psi`` the crossing angle (second pass).
        beamline_sigma: when given, the beam line (x = y = 0) is added to the circle fit as a
            point of that uncertainty (mm), which constrains d0 and improves pT for primaries.

    Returns:
        :class:`HelixFit` of the tracks (0-d arrays for ``(K,)`` input).

    Raises:
        ValueError: mismatched shapes or a track with fewer than 3 hits.
    """
    x, y, z = (np.asarray(a, float) for a in (x, y, z))
    if not (x.shape == y.shape == z.shape) or x.ndim not in (1, 2):
        raise ValueError(f"x, y, z must have one shape (K,) or (M, K); got {x.shape}, {y.shape}, {z.shape}")
    single = x.ndim == 1
    x, y, z = (np.atleast_2d(a) for a in (x, y, z))
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
    n = ok.sum(axis=1)
    if (n < 3).any():
        raise ValueError(f"a helix fit needs at least 3 hits per track; track(s) {np.flatnonzero(n < 3)[:5].tolist()} have fewer")
    sig_u, sig_z, sig_r = (np.broadcast_to(np.asarray(s, float), x.shape) for s in (sigma_rphi, sigma_z, sigma_r))
    x0, y0, z0 = (np.where(ok, a, 0.0) for a in (x, y, z))
    w_xy = np.where(ok, 1.0 / np.maximum(sig_u, 1e-6) ** 2, 0.0)
    bx, by, bw = x0, y0, w_xy
    if beamline_sigma is not None:
        bx, by = (np.concatenate([a, np.zeros((len(a), 1))], axis=1) for a in (x0, y0))
        bw = np.concatenate([w_xy, np.full((len(x0), 1), 1.0 / beamline_sigma**2)], axis=1)
    ahead = _means(ok.astype(float), x0, y0)
    rho, phi0, d0 = fit_circle(bx, by, bw, ahead)
    # second pass: a coarse r smears the transverse position along the track by sin(psi) sigma_r
    sin_psi = np.clip(0.5 * np.abs(rho)[:, None] * np.hypot(x0, y0), 0.0, 1.0)
    w_xy = np.where(ok, 1.0 / np.maximum(sig_u**2 + (sin_psi * sig_r) ** 2, 1e-12), 0.0)
    if beamline_sigma is not None:
        bw = np.concatenate([w_xy, bw[:, -1:]], axis=1)
    else:
        bw = w_xy
    rho, phi0, d0 = fit_circle(bx, by, bw, ahead)
    s = _arc_lengths(x0, y0, rho[:, None], phi0[:, None], d0[:, None])
    zz, cot = _fit_line(s, z0, ok.astype(float))
    for _ in range(2):
        w_z = np.where(ok, 1.0 / np.maximum(sig_z**2 + (cot[:, None] * sig_r) ** 2, 1e-12), 0.0)
        zz, cot = _fit_line(s, z0, w_z)
    res_xy = _circle_residuals(x0, y0, rho[:, None], phi0[:, None], d0[:, None])
    res_z = z0 - zz[:, None] - cot[:, None] * s
    chi2 = (w_xy * res_xy**2).sum(axis=1) + (w_z * res_z**2).sum(axis=1)
    b = float(b_field)
    with np.errstate(divide="ignore"):
        pt = C_LIGHT * 1e-3 * abs(b) / np.abs(rho)
    out = HelixFit(pt=pt, charge=np.where(rho * b >= 0, 1, -1), d0=d0, z0=zz, phi0=np.mod(phi0 + np.pi, 2 * np.pi) - np.pi,
                   cot_theta=cot, chi2=chi2, ndf=2 * n - 5, rho=rho)
    return out.take(0) if single else out


def helix_position(rho, phi0, d0, z0, cot_theta, s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x, y, z`` (mm) after the arc length ``s`` (mm) from the PCA (numpy broadcasting)."""
    half = 0.5 * rho * s
    chord = s * np.sinc(half / np.pi)
    direction = phi0 - half
    return (d0 * np.sin(phi0) + chord * np.cos(direction), -d0 * np.cos(phi0) + chord * np.sin(direction), z0 + cot_theta * s)


def arc_to_radius(rho, d0, r) -> np.ndarray:
    """Arc length (mm) from the PCA to the first crossing of the cylinder ``r`` going outwards.

    ``L^2 = (r^2 - d0^2) / (1 + rho d0)`` is the chord, ``s = 2 asin(rho L / 2) / rho``; NaN where
    the circle does not reach ``r`` (numpy broadcasting).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        chord = np.sqrt((r * r - d0 * d0) / (1 + rho * d0))
        half = 0.5 * rho * chord
        scale = np.where(np.abs(half) > 1e-8, np.arcsin(np.where(np.abs(half) <= 1, half, np.nan)) / half, 1.0)
    return chord * scale


def arc_to_z(rho, z0, cot_theta, z) -> np.ndarray:
    """Arc length (mm) to the plane ``z``; NaN when behind the PCA or past half a turn."""
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (z - z0) / cot_theta
    return np.where((s > 0) & (np.abs(rho) * s <= np.pi), s, np.nan)
