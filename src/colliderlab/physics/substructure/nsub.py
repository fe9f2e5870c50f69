"""N-subjettiness with one-pass exclusive-kT axes, vectorised over jets (helper for :mod:`.observables`).

``tau_N = sum_i pt_i min_k Delta R_ik^beta / sum_i pt_i R0^beta`` (normalised measure,
arXiv:1011.2268, 1108.2701). The axes follow fastjet-contrib's ``OnePass_KT_Axes`` with the
``NormalizedMeasure``: start from the exclusive-kT jets, then repeat the light-like axis update
(each particle goes to its nearest axis; the axis moves to the ``pt_i / (eps^2 + Delta R^2)^(1 - beta/2)``
weighted mean rapidity and azimuth of its particles, eps = 1e-4) until the axes move by less than
1e-4 on average, at most 1000 times. Jets with ``N`` or fewer constituents have ``tau_N = 0``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["one_pass_axes", "tau_from_axes"]

_TWO_PI = 2.0 * np.pi
ACCURACY = 1e-4
MAX_ATTEMPTS = 1000
# Rapidity given to unused axis slots: never the nearest axis of any particle.
_FAR = 1e9


def _dist2(ax_rap: np.ndarray, ax_phi: np.ndarray, rap: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Squared rapidity-azimuth distance from N axes to n particles. (A, N), (A, n) -> (A, N, n)"""
    dphi = np.abs(ax_phi[:, :, None] - phi[:, None, :])  # (A, N, n)
    np.minimum(dphi, _TWO_PI - dphi, out=dphi)
    dy = ax_rap[:, :, None] - rap[:, None, :]  # (A, N, n)
    dy *= dy
    dphi *= dphi
    dy += dphi
    return dy


def one_pass_axes(
    pt: np.ndarray,
    rap: np.ndarray,
    phi: np.ndarray,
    seed_rap: np.ndarray,
    seed_phi: np.ndarray,
    n_axes: np.ndarray,
    beta: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Refine seed axes by contrib's one-pass minimisation (``DefaultMeasure::get_one_pass_axes``).

    Each row is one problem (a jet and its number of axes), so tau_1..tau_4 of many jets run in a
    single loop; every row stops iterating on its own, as contrib's loop would for it alone.

    Args:
        pt, rap, phi: (A, n) constituents, phi in [0, 2 pi); padding must have pt = 0.
        seed_rap, seed_phi: (A, N) seed axes (exclusive-kT jets), phi in [0, 2 pi); slots beyond
            ``n_axes`` are ignored.
        n_axes: (A,) number of axes of each row (1..N), in non-decreasing order.
        beta: angular exponent of the measure.

    Returns:
        rap, phi: (A, N) refined axes, phi in [0, 2 pi); unused slots hold a far-away rapidity.
    """
    n_rows, n_max = seed_rap.shape
    if np.any(np.diff(n_axes) < 0):
        raise ValueError("one_pass_axes needs rows sorted by their number of axes")
    used = np.arange(n_max)[None, :] < n_axes[:, None]  # (A, N)
    ax_rap = np.where(used, seed_rap, _FAR)  # (A, N)
    ax_phi = np.where(used, seed_phi, 0.0)  # (A, N)
    # Working set: rows still iterating, plus converged ones until the next squeeze.
    rows = np.arange(n_rows)
    running = np.ones(n_rows, bool)
    w_pt, w_rap, w_phi, w_n = pt, rap, phi, n_axes
    for _ in range(MAX_ATTEMPTS):
        if not running.any():
            break
        if running.sum() < 0.7 * rows.size:
            keep = np.flatnonzero(running)
            rows, running = rows[keep], running[keep]
            w_pt, w_rap, w_phi, w_n = w_pt[keep], w_rap[keep], w_phi[keep], w_n[keep]
        old_rap, old_phi = ax_rap[rows], ax_phi[rows]  # (W, N)
        dmin2, k = _nearest_axis(old_rap, old_phi, w_rap, w_phi, w_n)  # (W, n) each
        if beta == 1:
            wgt = w_pt / np.sqrt(ACCURACY**2 + dmin2)  # (W, n)
        elif beta == 2:
            wgt = w_pt
        else:
            wgt = w_pt * (ACCURACY**2 + dmin2) ** (0.5 * beta - 1.0)
        wsum, rsum, psum = _weighted_sums(wgt, w_rap, w_phi, old_phi, k)  # (W, N) each
        update = (wsum > 0) & running[:, None]  # an axis with no particle keeps its place
        safe = np.where(update, wsum, 1.0)
        new_rap = np.where(update, rsum / safe, old_rap)  # (W, N)
        new_phi = np.where(update, np.fmod(psum / safe + _TWO_PI, _TWO_PI), old_phi)  # (W, N)
        dphi_ax = np.abs(old_phi - new_phi)
        np.minimum(dphi_ax, _TWO_PI - dphi_ax, out=dphi_ax)
        moved = (
            np.sqrt((old_rap - new_rap) ** 2 + dphi_ax**2).sum(axis=1) / w_n
        )  # (W,) mean over real axes
        ax_rap[rows], ax_phi[rows] = new_rap, new_phi
        running &= moved > ACCURACY
    return ax_rap, ax_phi


def _nearest_axis(
    old_rap: np.ndarray, old_phi: np.ndarray, w_rap: np.ndarray, w_phi: np.ndarray, w_n: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest axis of every particle (the first one on ties), one axis at a time: the squared
    distance ``dmin2`` (W, n) and the axis index ``k`` (W, n); rows sorted by ``w_n``."""
    n_w, n_max = old_rap.shape
    dmin2 = _dist2(old_rap[:, :1], old_phi[:, :1], w_rap, w_phi)[:, 0]  # (W, n)
    k = np.zeros(dmin2.shape, np.int64)  # (W, n)
    for axis in range(1, n_max):
        s = int(np.searchsorted(w_n, axis + 1))  # rows with more than `axis` axes
        if s == n_w:
            break
        d2 = _dist2(
            old_rap[s:, axis : axis + 1], old_phi[s:, axis : axis + 1], w_rap[s:], w_phi[s:]
        )[:, 0]
        closer = d2 < dmin2[s:]  # (W - s, n)
        np.copyto(dmin2[s:], d2, where=closer)
        np.copyto(k[s:], axis, where=closer)
    return dmin2, k


def _weighted_sums(
    wgt: np.ndarray, w_rap: np.ndarray, w_phi: np.ndarray, old_phi: np.ndarray, k: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (row, axis): the sums of the weights ``wgt`` (W, n) of the particles nearest to it,
    of weight x rapidity and of weight x azimuth (taken on the same side of 2 pi as the axis)."""
    n_w, n_max = old_phi.shape
    label = (np.arange(n_w) * n_max)[:, None] + k  # (W, n) flat (row, axis)
    # Azimuth of each particle taken on the same side of 2 pi as its axis.
    dphi = w_phi - old_phi.ravel()[label]  # (W, n)
    phi_near = w_phi - _TWO_PI * (dphi > np.pi) + _TWO_PI * (dphi < -np.pi)  # (W, n)
    flat, size = label.ravel(), n_w * n_max
    wsum = np.bincount(flat, weights=wgt.ravel(), minlength=size).reshape(n_w, n_max)  # (W, N)
    rsum = np.bincount(flat, weights=(wgt * w_rap).ravel(), minlength=size).reshape(
        n_w, n_max
    )  # (W, N)
    psum = np.bincount(flat, weights=(wgt * phi_near).ravel(), minlength=size).reshape(
        n_w, n_max
    )  # (W, N)
    return wsum, rsum, psum


def tau_from_axes(
    pt: np.ndarray,
    rap: np.ndarray,
    phi: np.ndarray,
    ax_rap: np.ndarray,
    ax_phi: np.ndarray,
    beta: float,
    r0: float,
) -> np.ndarray:
    """Normalised N-subjettiness for given axes. (A, n) x3, (A, N) x2 -> (A,)"""
    d2 = _dist2(ax_rap, ax_phi, rap, phi).min(axis=1)  # (A, n)
    dist = np.sqrt(d2) if beta == 1 else d2 if beta == 2 else d2 ** (0.5 * beta)
    num = (pt * dist).sum(axis=1)  # (A,)
    den = pt.sum(axis=1) * r0**beta  # (A,)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)
