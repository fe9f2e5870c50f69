"""Electromagnetic showers: the GFlash parametrisation (longitudinal Gamma profiles, radial
core/tail, spot counts; hep-ex/0001020, NIM A290 (1990) 469) and the spots of electrons, photons
and pi0 decays."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from colliderlab.physics.calo.geometry import M_PI0, CaloGeometry, get_geometry

__all__ = ["pi0_decay", "gflash_mean_profile", "gflash_containment"]


_LNY_MIN = 3.0  # GFlash parameters frozen below ln(E/E_c) = 3


# --------------------------------------------------------------------------------------------
# GFlash parametrisation
# --------------------------------------------------------------------------------------------
def _gflash_longitudinal(
    energy: np.ndarray, geom: CaloGeometry, z1: np.ndarray, z2: np.ndarray
) -> tuple[np.ndarray, ...]:
    """(T, alpha, beta, T_s, alpha_s, beta_s) of showers of ``energy`` (GeV) for standard
    normal draws ``z1, z2`` (broadcasting). hep-ex/0001020, homogeneous media."""
    y = np.maximum(np.asarray(energy, float) * 1e3 / geom.critical_energy, math.exp(_LNY_MIN))
    lny = np.log(y)
    mu_t = np.log(lny - 0.812)
    sig_t = 1.0 / (-1.4 + 1.26 * lny)
    mu_a = np.log(0.81 + (0.458 + 2.26 / geom.Z) * lny)
    sig_a = 1.0 / (-0.58 + 0.86 * lny)
    rho = 0.705 - 0.023 * lny
    T = np.exp(mu_t + sig_t * z1)
    alpha = np.maximum(np.exp(mu_a + sig_a * (rho * z1 + np.sqrt(1.0 - rho**2) * z2)), 1.1)
    beta = (alpha - 1.0) / T
    T_s = T * (0.698 + 0.00212 * geom.Z)
    alpha_s = np.maximum(alpha * (0.639 + 0.00334 * geom.Z), 1.05)
    beta_s = (alpha_s - 1.0) / T_s
    return T, alpha, beta, T_s, alpha_s, beta_s


def _gflash_radial(
    tau: np.ndarray, log_e: np.ndarray, Z: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Core radius R_C, tail radius R_T (R_M) and core weight p at tau = t/T for showers of
    ln(E/GeV) ``log_e`` (hep-ex/0001020); tau is capped at 30 (far tail)."""
    tau = np.minimum(tau, 30.0)
    r_c = np.maximum((0.0251 + 0.00319 * log_e) + (0.1162 - 0.000381 * Z) * tau, 1e-3)
    k1, k2, k3, k4 = 0.659 - 0.00309 * Z, 0.645, -2.59, 0.3585 + 0.0412 * log_e
    r_t = k1 * (np.exp(k3 * (tau - k2)) + np.exp(k4 * (tau - k2)))
    p1, p2, p3 = 2.632 - 0.00094 * Z, 0.401 + 0.00187 * Z, 1.313 - 0.0686 * log_e
    arg = (p2 - tau) / p3
    p = np.clip(p1 * np.exp(arg - np.exp(arg)), 0.0, 1.0)
    return r_c, r_t, p


def _n_spots(energy: np.ndarray, Z: float) -> np.ndarray:
    """N_s = 93 ln(Z) E^0.876 (E in GeV), at least 1."""
    return np.maximum(1, np.rint(93.0 * math.log(Z) * np.maximum(energy, 0.0) ** 0.876)).astype(
        np.int64
    )


def _lgamma(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.lgamma, otypes=[float])(x)


def _quadrature(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2-D Gauss-Hermite nodes (z1, z2) and weights for the standard bivariate normal."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    z1, z2 = np.meshgrid(x, x, indexing="ij")
    return z1.ravel(), z2.ravel(), np.outer(w, w).ravel()


def gflash_mean_profile(
    geometry: str | CaloGeometry, energy: float, edges: np.ndarray, n_quad: int = 24
) -> np.ndarray:
    """Expected mean longitudinal profile of EM showers of ``energy`` GeV: the fraction of the
    energy in each bin of ``edges`` (X0 from the shower start; (B+1,) -> (B,)), i.e. the gamma
    density averaged over the correlated (ln T, ln alpha) distribution of the parametrisation
    (Gauss-Hermite quadrature; 16 sub-points per bin)."""
    geom = get_geometry(geometry)
    edges = np.asarray(edges, float)
    z1, z2, wq = _quadrature(n_quad)
    _, alpha, beta, *_ = _gflash_longitudinal(np.full_like(z1, energy), geom, z1, z2)
    sub = (np.arange(16) + 0.5) / 16
    t = (edges[:-1, None] + np.diff(edges)[:, None] * sub).ravel()  # (B*16,)
    log_pdf = (
        (alpha[:, None] - 1) * np.log(beta[:, None] * t)
        + np.log(beta[:, None])
        - beta[:, None] * t
        - _lgamma(alpha)[:, None]
    )
    mean_pdf = wq @ np.exp(log_pdf)  # (B*16,)
    return mean_pdf.reshape(-1, 16).mean(axis=1) * np.diff(edges)


def gflash_containment(
    geometry: str | CaloGeometry, energy: float, radii: np.ndarray, n_quad: int = 16
) -> np.ndarray:
    """Expected fraction of the energy of EM showers of ``energy`` GeV within ``radii``
    (Moliere radii) of the shower axis: the integral r^2/(r^2+R^2) of the two-component radial
    profile, weighted by the energy profile and averaged over (ln T, ln alpha)."""
    geom = get_geometry(geometry)
    radii = np.atleast_1d(np.asarray(radii, float))
    z1, z2, wq = _quadrature(n_quad)
    T, alpha, beta, *_ = _gflash_longitudinal(np.full_like(z1, energy), geom, z1, z2)
    # integrate in u = beta t (dimensionless), midpoint rule
    du = 0.01
    u = np.arange(0.5 * du, 80.0, du)
    pdf = np.exp((alpha[:, None] - 1) * np.log(u) - u - _lgamma(alpha)[:, None]) * du  # (Q, U)
    tau = u[None, :] / (beta * T)[:, None]
    r_c, r_t, p = _gflash_radial(tau, math.log(energy), geom.Z)
    out = []
    for r in radii:  # few radii
        frac = p * r**2 / (r**2 + r_c**2) + (1 - p) * r**2 / (r**2 + r_t**2)
        out.append(wq @ (pdf * frac).sum(axis=1) / (wq @ pdf.sum(axis=1)))
    return np.array(out)


# --------------------------------------------------------------------------------------------
# Spot generation
# --------------------------------------------------------------------------------------------
@dataclass
class _Spots:
    event: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    deposit: np.ndarray
    response: np.ndarray
    t: np.ndarray
    r: np.ndarray
    component: np.ndarray

    @classmethod
    def concatenate(cls, parts: list[_Spots]) -> _Spots:
        return cls(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(cls))
        )


def _basis(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors (m, 3) orthogonal to the unit vectors ``axis`` (m, 3) and each other."""
    ref = np.where(np.abs(axis[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    e1 = ref - np.sum(ref * axis, axis=1, keepdims=True) * axis
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    return e1, np.cross(axis, e1)


def _place(
    start: np.ndarray,
    axis: np.ndarray,
    owner: np.ndarray,
    s: np.ndarray,
    r: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (mm) of spots at distance ``s`` along and ``r`` off the axis of their owners
    (uniform azimuth)."""
    e1, e2 = _basis(axis)
    psi = rng.uniform(0.0, 2.0 * np.pi, s.size)
    c, sn = r * np.cos(psi), r * np.sin(psi)
    return tuple(
        start[owner, i] + s * axis[owner, i] + c * e1[owner, i] + sn * e2[owner, i]
        for i in range(3)
    )


def _em_spots(
    geom: CaloGeometry,
    energy: np.ndarray,
    start: np.ndarray,
    axis: np.ndarray,
    event: np.ndarray,
    rng: np.random.Generator,
) -> _Spots:
    """GFlash spots of EM sub-showers of ``energy`` (m,) GeV starting at ``start`` (m, 3) mm
    along unit ``axis`` (m, 3), belonging to showers ``event`` (m,)."""
    m = energy.size
    if m == 0:
        z = np.zeros(0)
        return _Spots(np.zeros(0, np.int64), z, z, z, z, z, z, z, np.zeros(0, np.int8))
    z1, z2 = rng.standard_normal((2, m))
    T, alpha, beta, _, alpha_s, beta_s = _gflash_longitudinal(energy, geom, z1, z2)
    ns = _n_spots(energy, geom.Z)
    owner = np.repeat(np.arange(m), ns)
    first = np.cumsum(ns) - ns
    t = rng.standard_gamma(alpha_s[owner]) / beta_s[owner]  # X0, spot profile
    np.maximum(t, 1e-9, out=t)
    # self-normalised weights f_E(t) / f_S(t) -> the energy profile
    lw = (alpha - alpha_s)[owner] * np.log(t) - (beta - beta_s)[owner] * t
    lw -= np.maximum.reduceat(lw, first)[owner]
    w = np.exp(lw)
    deposit = (energy / np.add.reduceat(w, first))[owner] * w
    del lw, w
    log_e = np.log(np.maximum(energy, 1e-6))
    r_c, r_t, p = _gflash_radial(t / T[owner], log_e[owner], geom.Z)
    u = rng.random(t.size) * (1.0 - 1e-6)
    r = np.where(rng.random(t.size) < p, r_c, r_t) * np.sqrt(u / (1.0 - u))  # R_M
    x, y, z = _place(start, axis, owner, t * geom.X0, r * geom.moliere_radius, rng)
    n = t.size
    return _Spots(event[owner], x, y, z, deposit, np.ones(n), t, r, np.zeros(n, np.int8))


def _photon_spots(
    geom: CaloGeometry,
    energy: np.ndarray,
    entry: np.ndarray,
    axis: np.ndarray,
    event: np.ndarray,
    rng: np.random.Generator,
) -> _Spots:
    """Photons entering at ``entry`` (m, 3): convert after Exp(9/7 X0), then shower."""
    s_conv = rng.exponential(9.0 / 7.0 * geom.X0, energy.size)
    return _em_spots(geom, energy, entry + s_conv[:, None] * axis, axis, event, rng)


def pi0_decay(
    energy: np.ndarray, rng: np.random.Generator, axis: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """pi0 -> gamma gamma, isotropic in the rest frame, boosted along ``axis``.

    Args:
        energy: (n,) pi0 energies, GeV (>= m_pi0).
        rng: random generator.
        axis: (n, 3) unit flight directions (default +z).

    Returns:
        photon energies (n, 2), GeV, and unit directions (n, 2, 3).
    """
    energy = np.asarray(energy, float)
    n = energy.size
    if np.any(energy < M_PI0):
        raise ValueError(f"pi0 energy below its mass {M_PI0} GeV")
    axis = np.tile([0.0, 0.0, 1.0], (n, 1)) if axis is None else np.asarray(axis, float)
    gamma = energy / M_PI0
    one_minus_beta = 1.0 / (gamma**2 * (1.0 + np.sqrt(1.0 - 1.0 / gamma**2)))
    beta = 1.0 - one_minus_beta
    cos_t = rng.uniform(-1.0, 1.0, n)
    sin_t = np.sqrt(1.0 - cos_t**2)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    half = 0.5 * M_PI0
    sign = np.array([1.0, -1.0])  # photon 2 is back to back in the rest frame
    c = cos_t[:, None] * sign  # (n, 2)
    # E = gamma m/2 (1 + beta c), written to avoid the cancellation at c -> -1
    e_ph = gamma[:, None] * half * ((1.0 + c) - one_minus_beta[:, None] * c)
    p_par = gamma[:, None] * half * (c + beta[:, None])
    p_perp = half * sin_t[:, None] * sign
    e1, e2 = _basis(axis)
    direc = (
        p_par[..., None] * axis[:, None, :]
        + (p_perp * np.cos(phi)[:, None])[..., None] * e1[:, None, :]
        + (p_perp * np.sin(phi)[:, None])[..., None] * e2[:, None, :]
    )
    direc /= np.linalg.norm(direc, axis=2, keepdims=True)
    return e_ph, direc
