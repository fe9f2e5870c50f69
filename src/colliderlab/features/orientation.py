"""Rotating and flipping a jet's constituents in the (Delta eta, Delta phi) plane.

The jet-image preprocessing of arXiv:1511.05190 (and 1407.5675): the principal axis of the
constituents' pT-weighted second-moment matrix (its largest eigenvector) is turned onto +y, then
x -> -x and y -> -y are mirrored so that the right (upper) half holds at least as much pT as the
left (lower) one. Used by the jet images and, as an option, by the particle clouds and sequences
(``orient``). All functions are vectorised over a flat list of constituents ``(K,)`` whose jet
index is ``rows``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["per_jet_sum", "orient"]


def per_jet_sum(rows: np.ndarray, values: np.ndarray, n_jets: int) -> np.ndarray:
    """Sum of ``values`` (K,) per jet ``rows`` (K,). (J,)"""
    return np.bincount(rows, weights=values, minlength=n_jets)


def orient(
    rows: np.ndarray, pt: np.ndarray, x: np.ndarray, y: np.ndarray, n_jets: int, *,
    rotate: bool = True, flip: bool = True, second: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate and flip the constituents' ``(x, y)`` (K,) about the origin.

    Args:
        rows: jet index of each constituent (K,); ``pt`` their transverse momenta (K,).
        rotate: turn the principal axis (or ``second``, where nonzero) onto +y.
        flip: mirror so that most pT lies at positive x, and at positive y unless ``second``
            fixed the y direction.
        second: (J, 2) a direction per jet (e.g. the second subjet) to put on +y instead of the
            principal axis; zero rows fall back to the principal axis.
    """
    if rotate:
        cxx = per_jet_sum(rows, pt * x * x, n_jets)
        cyy = per_jet_sum(rows, pt * y * y, n_jets)
        cxy = per_jet_sum(rows, pt * x * y, n_jets)
        angle = 0.5 * np.arctan2(2.0 * cxy, cxx - cyy)  # (J,) direction of the principal axis
        if second is not None:
            use = np.any(second != 0.0, axis=1)
            angle = np.where(use, np.arctan2(second[:, 1], second[:, 0]), angle)
        turn = 0.5 * np.pi - angle  # (J,) rotation putting that direction on +y
        c, s = np.cos(turn)[rows], np.sin(turn)[rows]
        x, y = c * x - s * y, s * x + c * y
    if flip:
        x = x * np.where(per_jet_sum(rows, pt * np.sign(x), n_jets) < 0, -1.0, 1.0)[rows]
        if not (rotate and second is not None):
            y = y * np.where(per_jet_sum(rows, pt * np.sign(y), n_jets) < 0, -1.0, 1.0)[rows]
    return x, y
