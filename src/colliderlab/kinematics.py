"""Four-vector kinematics over arrays: the one home for pt, eta, phi, rapidity, Delta R.

Every function takes numpy arrays whose last axis (for four-vectors) is ``(E, px, py, pz)``
in GeV and broadcasts over all leading axes, so the same call serves one particle, a
padded ``(N, P, 4)`` batch of jets, or a flat list of particles.

Conventions (the same as FastJet's): azimuth ``phi`` in ``[-pi, pi)``; Delta R uses the
rapidity ``y = 0.5 ln((E + pz) / (E - pz))``, not the pseudorapidity; massless particles
have ``y == eta``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "E",
    "px",
    "py",
    "pz",
    "pt",
    "pt2",
    "p_abs",
    "mass",
    "mass2",
    "eta",
    "rapidity",
    "phi",
    "wrap_phi",
    "delta_phi",
    "delta_r",
    "delta_r2",
    "from_ptyphim",
    "from_ptetaphim",
    "boost_z",
    "sum_p4",
]

# A particle with pt below this is treated as pointing along the beam (eta/y capped).
_TINY = 1e-12
# Rapidity/eta cap for particles exactly along the beam (FastJet uses 1e5; we keep it finite and small).
MAX_RAP = 1e5


def E(p4: np.ndarray) -> np.ndarray:  # noqa: N802 - physics name
    return p4[..., 0]


def px(p4: np.ndarray) -> np.ndarray:
    return p4[..., 1]


def py(p4: np.ndarray) -> np.ndarray:
    return p4[..., 2]


def pz(p4: np.ndarray) -> np.ndarray:
    return p4[..., 3]


def pt2(p4: np.ndarray) -> np.ndarray:
    """Squared transverse momentum. (..., 4) -> (...)"""
    return p4[..., 1] ** 2 + p4[..., 2] ** 2


def pt(p4: np.ndarray) -> np.ndarray:
    """Transverse momentum. (..., 4) -> (...)"""
    return np.hypot(p4[..., 1], p4[..., 2])


def p_abs(p4: np.ndarray) -> np.ndarray:
    """|p|. (..., 4) -> (...)"""
    return np.sqrt(p4[..., 1] ** 2 + p4[..., 2] ** 2 + p4[..., 3] ** 2)


def mass2(p4: np.ndarray) -> np.ndarray:
    """Invariant mass squared E^2 - |p|^2 (can be slightly negative from rounding). (..., 4) -> (...)"""
    return p4[..., 0] ** 2 - p4[..., 1] ** 2 - p4[..., 2] ** 2 - p4[..., 3] ** 2


def mass(p4: np.ndarray) -> np.ndarray:
    """Invariant mass, sign-preserving sqrt as FastJet's ``m()`` does. (..., 4) -> (...)"""
    m2 = mass2(p4)
    return np.sign(m2) * np.sqrt(np.abs(m2))


def eta(p4: np.ndarray) -> np.ndarray:
    """Pseudorapidity -ln tan(theta/2) = asinh(pz / pt). (..., 4) -> (...)"""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.arcsinh(p4[..., 3] / np.maximum(pt(p4), _TINY))
    return np.clip(out, -MAX_RAP, MAX_RAP)


def rapidity(p4: np.ndarray) -> np.ndarray:
    """Rapidity 0.5 ln((E + pz)/(E - pz)), as FastJet's ``rap()``; 0 for empty (padded) entries.

    (..., 4) -> (...)
    """
    e, z = p4[..., 0], p4[..., 3]
    # FastJet's formula (PseudoJet::_set_rap_phi): negative m^2 from rounding counts as 0, and
    # y = -+0.5 ln((pt^2 + m^2) / (E + |pz|)^2), which is stable for large |y|.
    kt2 = pt2(p4)
    m2 = np.maximum(mass2(p4), 0.0)
    e_plus = e + np.abs(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = 0.5 * np.log((kt2 + m2) / (e_plus * e_plus))
    y = np.where(z > 0, -y, y)
    y = np.clip(np.nan_to_num(y, nan=0.0, posinf=MAX_RAP, neginf=-MAX_RAP), -MAX_RAP, MAX_RAP)
    return np.where(e > 0, y, 0.0)


def wrap_phi(phi_: np.ndarray) -> np.ndarray:
    """Map any angle into [-pi, pi)."""
    return (np.asarray(phi_) + np.pi) % (2 * np.pi) - np.pi


def phi(p4: np.ndarray) -> np.ndarray:
    """Azimuth in [-pi, pi). (..., 4) -> (...)"""
    return wrap_phi(np.arctan2(p4[..., 2], p4[..., 1]))


def delta_phi(phi1: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """phi1 - phi2 wrapped into [-pi, pi); broadcasts."""
    return wrap_phi(np.asarray(phi1) - np.asarray(phi2))


def delta_r2(y1: np.ndarray, phi1: np.ndarray, y2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """Squared Delta R = Delta y^2 + Delta phi^2 (use rapidities, as FastJet does)."""
    return (np.asarray(y1) - np.asarray(y2)) ** 2 + delta_phi(phi1, phi2) ** 2


def delta_r(y1: np.ndarray, phi1: np.ndarray, y2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """Delta R = sqrt(Delta y^2 + Delta phi^2); broadcasts over all arguments."""
    return np.sqrt(delta_r2(y1, phi1, y2, phi2))


def from_ptyphim(pt_: np.ndarray, y: np.ndarray, phi_: np.ndarray, m: np.ndarray | float = 0.0) -> np.ndarray:
    """(pt, rapidity, phi, m) -> (..., 4) array of (E, px, py, pz)."""
    pt_, y, phi_ = np.broadcast_arrays(np.asarray(pt_, float), np.asarray(y, float), np.asarray(phi_, float))
    mt = np.sqrt(pt_**2 + np.asarray(m, float) ** 2)
    return np.stack([mt * np.cosh(y), pt_ * np.cos(phi_), pt_ * np.sin(phi_), mt * np.sinh(y)], axis=-1)


def from_ptetaphim(pt_: np.ndarray, eta_: np.ndarray, phi_: np.ndarray, m: np.ndarray | float = 0.0) -> np.ndarray:
    """(pt, pseudorapidity, phi, m) -> (..., 4) array of (E, px, py, pz)."""
    pt_, eta_, phi_ = np.broadcast_arrays(np.asarray(pt_, float), np.asarray(eta_, float), np.asarray(phi_, float))
    pz_ = pt_ * np.sinh(eta_)
    e = np.sqrt(pt_**2 + pz_**2 + np.asarray(m, float) ** 2)
    return np.stack([e, pt_ * np.cos(phi_), pt_ * np.sin(phi_), pz_], axis=-1)


def boost_z(p4: np.ndarray, beta: np.ndarray | float) -> np.ndarray:
    """Lorentz boost along z with velocity ``beta`` (|beta| < 1). (..., 4) -> (..., 4)"""
    beta = np.asarray(beta, float)
    gamma = 1.0 / np.sqrt(1.0 - beta**2)
    e, z = p4[..., 0], p4[..., 3]
    out = np.array(p4, dtype=np.result_type(p4, np.float64), copy=True)
    out[..., 0] = gamma * (e - beta * z)
    out[..., 3] = gamma * (z - beta * e)
    return out


def sum_p4(p4: np.ndarray, mask: np.ndarray | None = None, axis: int = -2) -> np.ndarray:
    """Sum four-vectors over the particle axis, ignoring masked-out (padded) entries.

    p4: (..., P, 4); mask: (..., P) -> (..., 4)
    """
    if mask is not None:
        p4 = np.where(mask[..., None], p4, 0.0)
    return p4.sum(axis=axis, dtype=np.float64)
