"""Figures of merit of mass decorrelation: background rejection at a fixed signal efficiency and the
inverse Jensen-Shannon divergence between the background mass spectra that pass and fail the cut.

The convention of the decorrelation literature (DisCo, arXiv:2001.05310; adversaries, arXiv:1703.03507;
the review arXiv:2010.09745): the cut is set at eS = 0.5; the background jets that pass and those that
fail are histogrammed in the jet mass with **fixed binning** (:data:`MASS_BINS`: 50-300 GeV in 10 GeV
bins, under- and overflow dropped), both normalised to unit area, and

    JSD(P, Q) = 1/2 KL(P || M) + 1/2 KL(Q || M),   M = (P + Q) / 2,   logarithms in base 2,

so JSD is in [0, 1] and 1/JSD in [1, inf): higher is less sculpted. With finite statistics even a cut
that ignores the jet leaves a JSD > 0: :func:`random_cut_floor` gives the 1/JSD of a random cut at the
same background efficiency, the ceiling a real tagger can be compared with.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from colliderlab.metrics import background_efficiency_at

__all__ = ["MASS_BINS", "decorrelation_metrics", "jsd", "random_cut_floor", "sculpting_curves"]

#: Fixed mass binning of the JSD (GeV): 50-300 in 10 GeV bins.
MASS_BINS = np.linspace(50.0, 300.0, 26)


def jsd(p: Any, q: Any) -> float:
    """Jensen-Shannon divergence (base 2) of two histograms (B,), each normalised here; 0 for
    identical shapes, 1 for disjoint ones."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"histograms must have the same shape (B,), got {p.shape} and {q.shape}")
    if (p < 0).any() or (q < 0).any() or p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("histograms must be non-negative with positive sums")
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return max(0.5 * kl(p) + 0.5 * kl(q), 0.0)


def _inv_jsd(mass_bkg: np.ndarray, passed: np.ndarray, bins: np.ndarray) -> float:
    h_pass = np.histogram(mass_bkg[passed], bins=bins)[0]
    h_fail = np.histogram(mass_bkg[~passed], bins=bins)[0]
    if h_pass.sum() == 0 or h_fail.sum() == 0:
        return float("nan")
    d = jsd(h_pass, h_fail)
    return float("inf") if d == 0 else 1.0 / d


def decorrelation_metrics(scores: Any, labels: Any, mass: Any, *, signal_efficiency: float = 0.5,
                          bins: Any = MASS_BINS) -> dict[str, float]:
    """Rejection 1/eB and 1/JSD of the background mass spectra passing / failing the cut at
    ``signal_efficiency``.

    Shapes: scores, labels (1 = signal), mass (N,). Returns ``cut``, ``eff_b``, ``rejection``,
    ``inv_jsd``, ``n_background`` and the binning used (``bins``).
    """
    s, y, m = np.asarray(scores, np.float64), np.asarray(labels).astype(bool), np.asarray(mass, np.float64)
    if not (s.shape == y.shape == m.shape) or s.ndim != 1:
        raise ValueError(f"scores, labels and mass must all have shape (N,); got {s.shape}, {y.shape}, {m.shape}")
    bad = np.flatnonzero(~np.isfinite(s) | ~np.isfinite(m))
    if len(bad):
        raise ValueError(f"{len(bad)} non-finite scores or masses, first at rows {bad[:5].tolist()}")
    if not y.any() or y.all():
        raise ValueError("decorrelation metrics need both signal and background jets")
    cut = float(np.quantile(s[y], 1.0 - signal_efficiency))
    passed = s[~y] >= cut
    eff_b = float(background_efficiency_at(s, y.astype(int), signal_efficiency))
    bins = np.asarray(bins, np.float64)
    return {"cut": cut, "eff_b": eff_b, "rejection": float("inf") if eff_b <= 0 else 1.0 / eff_b,
            "inv_jsd": _inv_jsd(m[~y], passed, bins), "n_background": int((~y).sum()),
            "bins": bins.tolist()}


def random_cut_floor(mass_bkg: Any, eff_b: float, *, bins: Any = MASS_BINS, repeats: int = 20,
                     seed: int = 0) -> dict[str, float]:
    """1/JSD of cuts that ignore the jet (each background jet passes with probability ``eff_b``):
    the finite-statistics ceiling of 1/JSD at this eB and sample size. Mean and standard deviation
    over ``repeats`` draws."""
    m = np.asarray(mass_bkg, np.float64)
    if not 0 < eff_b < 1:
        raise ValueError(f"eff_b must be in (0, 1), got {eff_b}")
    rng = np.random.default_rng(seed)
    vals = np.array([_inv_jsd(m, rng.random(len(m)) < eff_b, np.asarray(bins, np.float64)) for _ in range(repeats)])
    vals = vals[np.isfinite(vals)]
    return {"inv_jsd_mean": float(vals.mean()), "inv_jsd_std": float(vals.std()), "repeats": int(len(vals))}


def sculpting_curves(mass_bkg: Any, scores_bkg: Any, efficiencies: Any = (1.0, 0.5, 0.1, 0.02), *,
                     bins: Any = MASS_BINS) -> dict[float, np.ndarray]:
    """The background mass spectrum (normalised to unit area in ``bins``) after cuts keeping each
    background efficiency of ``efficiencies``: the mass-sculpting plot's curves.

    Shapes: mass_bkg, scores_bkg (N,) -> {eff_b: (B,)}; an empty selection gives zeros.
    """
    m, s = np.asarray(mass_bkg, np.float64), np.asarray(scores_bkg, np.float64)
    if m.shape != s.shape or m.ndim != 1:
        raise ValueError(f"mass and scores must both have shape (N,), got {m.shape} and {s.shape}")
    out = {}
    for eff in efficiencies:
        if not 0 < eff <= 1:
            raise ValueError(f"background efficiencies must be in (0, 1], got {eff}")
        keep = s >= np.quantile(s, 1.0 - eff) if eff < 1 else np.ones(len(s), bool)
        h = np.histogram(m[keep], bins=np.asarray(bins, np.float64))[0].astype(np.float64)
        out[float(eff)] = h / h.sum() if h.sum() > 0 else h
    return out
