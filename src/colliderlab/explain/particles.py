"""Per-particle attributions against the jet's physics: the three-prong check and (Delta R, z) maps.

The physics check of a top tagger: if the network looks at the three-prong substructure and not
only at where the pT is, the share of its (absolute) attribution carried by particles within
Delta R < ``radius`` of the three truth decay quarks (b, q, q'; :attr:`JetBatch.truth_partons`,
schema 3) exceeds the share of the jet's pT carried by the same particles. Angles are
(rapidity, phi), as everywhere in colliderlab.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from colliderlab import kinematics as kin

__all__ = ["prong_shares", "prong_check", "dr_z_map", "DR_BINS", "LOG_Z_BINS"]

DR_BINS = np.linspace(0.0, 0.8, 9)
"""Delta R to the jet axis (8 bins up to R = 0.8)."""
LOG_Z_BINS = np.linspace(-4.0, 0.0, 9)
"""log10 of z = pT_i / pT_jet (8 bins)."""


def prong_shares(attribution: np.ndarray, p4: np.ndarray, mask: np.ndarray, partons: np.ndarray,
                 radius: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per jet: the share of |attribution| and of pT within ``radius`` of any valid decay parton.

    Args:
        attribution: (B, N) per-particle attributions; p4: (B, N, 4) raw (E, px, py, pz);
        mask: (B, N) bool; partons: (B, Q, 4) truth decay partons (zero rows: none).
    Returns:
        attribution share (B,), pT share (B,), and ``usable`` (B,) bool: jets with partons and a
        non-zero attribution.
    """
    y, phi = kin.rapidity(p4.astype(np.float64)), kin.phi(p4.astype(np.float64))  # (B, N)
    has = partons[..., 0] > 0  # (B, Q)
    dr = kin.delta_r(y[:, :, None], phi[:, :, None], kin.rapidity(partons)[:, None], kin.phi(partons)[:, None])
    inside = ((dr < radius) & has[:, None, :]).any(-1) & mask  # (B, N)
    a = np.where(mask, np.abs(attribution), 0.0)
    pt = np.where(mask, kin.pt(p4.astype(np.float64)), 0.0)
    a_tot, pt_tot = a.sum(1), pt.sum(1)
    usable = has.any(1) & (a_tot > 0) & (pt_tot > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(usable, (a * inside).sum(1) / a_tot, np.nan),
                np.where(usable, (pt * inside).sum(1) / pt_tot, np.nan), usable)


def prong_check(attribution: np.ndarray, p4: np.ndarray, mask: np.ndarray, partons: np.ndarray,
                radius: float = 0.2, n_boot: int = 200, seed: int = 0) -> dict[str, Any]:
    """The physics check over the jets with partons: mean shares, their difference with a bootstrap
    error, the fraction of jets where attribution is more concentrated than pT, and ``passed``
    (the mean difference above twice its error)."""
    a, p, ok = prong_shares(attribution, p4, mask, partons, radius)
    a, p = a[ok], p[ok]
    if not len(a):
        raise ValueError("no jet with truth decay partons (truth_partons, schema 3): generate the sample "
                         "with this version (colliderlab generate --preset toptag)")
    diff = a - p
    rng = np.random.default_rng(seed)
    boots = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(n_boot)]
    err = float(np.std(boots))
    return {"radius": radius, "n_jets": int(len(a)), "attribution_share": float(a.mean()),
            "pt_share": float(p.mean()), "difference": float(diff.mean()), "difference_error": err,
            "fraction_of_jets_above": float((diff > 0).mean()), "passed": bool(diff.mean() > 2 * err)}


def dr_z_map(attribution: np.ndarray, p4: np.ndarray, mask: np.ndarray, jet_p4: np.ndarray) -> dict[str, np.ndarray]:
    """Mean |attribution| per particle in bins of (Delta R to the jet axis, log10 z) and the
    particle counts there: ``mean`` (8, 8), ``count`` (8, 8) (bins :data:`DR_BINS` x :data:`LOG_Z_BINS`)."""
    p4 = p4.astype(np.float64)
    dr = kin.delta_r(kin.rapidity(p4), kin.phi(p4), kin.rapidity(jet_p4)[:, None], kin.phi(jet_p4)[:, None])
    with np.errstate(divide="ignore"):
        logz = np.log10(np.maximum(kin.pt(p4), 1e-12) / kin.pt(jet_p4)[:, None])
    a = np.abs(attribution)
    bins = (DR_BINS, LOG_Z_BINS)
    s, _, _ = np.histogram2d(dr[mask], logz[mask], bins=bins, weights=a[mask])
    c, _, _ = np.histogram2d(dr[mask], logz[mask], bins=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"mean": np.where(c > 0, s / c, 0.0), "count": c}
