"""Working points: the score cut that maximises the expected significance, chosen on the validation
split and reported on the test split (so the figure quoted is not tuned on the jets it is quoted on).

For a cut c on a tagger score, the expected signal and background after the cut are
s(c) = N_s eps_S(c) and b(c) = N_b eps_B(c), with N_s, N_b the expected events before the cut (cross
section x luminosity x preselection) and the efficiencies measured on labelled jets (optionally
weighted). The table gives s/sqrt(b), s/sqrt(s + b) and the Asimov significance Z_A
(:func:`colliderlab.stats.closed_form.asimov_significance`, arXiv:1007.1727), the quantity maximised.
Cuts that keep fewer than ``min_mc_background`` background jets of the sample are not considered:
their eps_B is counting noise. ``z_asimov_mc`` is Z_A with the MC statistical error of b,
sigma_b = N_b sqrt(sum w^2) / sum w over the background jets kept
(:func:`colliderlab.stats.closed_form.asimov_significance_uncertain`): maximising it instead
(``objective="z_asimov_mc"``) keeps the cut away from where the background template is a handful of
jets, which a fit with MC statistical errors would pay for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from colliderlab.stats.closed_form import asimov_significance_uncertain

__all__ = ["WorkingPoint", "choose_working_point", "scan_cuts"]


def _check(scores: Any, is_signal: Any, weights: Any, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(scores, np.float64)
    y = np.asarray(is_signal).astype(bool)
    if s.ndim != 1 or y.shape != s.shape:
        raise ValueError(f"{what}: scores must have shape (N,) and labels the same; got {s.shape} and {y.shape}")
    bad = np.flatnonzero(~np.isfinite(s))
    if len(bad):
        raise ValueError(f"{what}: {len(bad)} non-finite scores, first at rows {bad[:5].tolist()}")
    if not y.any() or y.all():
        raise ValueError(f"{what}: needs both signal and background jets")
    w = np.ones_like(s) if weights is None else np.asarray(weights, np.float64)
    if w.shape != s.shape:
        raise ValueError(f"{what}: weights must have shape {s.shape}, got {w.shape}")
    return s, y, w


def scan_cuts(scores: Any, is_signal: Any, *, n_signal: float, n_background: float, weights: Any = None,
              cuts: Any = None, what: str = "scan") -> dict[str, np.ndarray]:
    """The table of cuts ``score >= cut``: eps_S, eps_B, s, b, s/sqrt(b), s/sqrt(s+b), Z_A, and the
    number of sample background jets kept (``n_mc_background``).

    Shapes: scores, is_signal, weights (N,); cuts (K,) (default: every distinct score) -> (K,) each.
    """
    s_, y, w = _check(scores, is_signal, weights, what)
    cuts = np.unique(s_) if cuts is None else np.sort(np.asarray(cuts, np.float64))
    order = np.argsort(s_)
    ss, ys, ws = s_[order], y[order], w[order]
    # weight kept by score >= cut: suffix sums from the first index with score >= cut
    idx = np.searchsorted(ss, cuts, side="left")
    ws_sig, ws_bkg = np.where(ys, ws, 0.0), np.where(ys, 0.0, ws)
    suf_s = np.concatenate([np.cumsum(ws_sig[::-1])[::-1], [0.0]])
    suf_b = np.concatenate([np.cumsum(ws_bkg[::-1])[::-1], [0.0]])
    suf_nb = np.concatenate([np.cumsum((~ys)[::-1])[::-1], [0]])
    suf_b2 = np.concatenate([np.cumsum((ws_bkg**2)[::-1])[::-1], [0.0]])
    eff_s, eff_b = suf_s[idx] / suf_s[0], suf_b[idx] / suf_b[0]
    sig, bkg = n_signal * eff_s, n_background * eff_b
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where((sig > 0) & (bkg > 0), np.sqrt(2.0 * ((sig + bkg) * np.log1p(sig / np.maximum(bkg, 1e-300)) - sig)), 0.0)
        s_sqrt_b = np.where(bkg > 0, sig / np.sqrt(bkg), np.inf)
        s_sqrt_sb = np.where(sig + bkg > 0, sig / np.sqrt(sig + bkg), 0.0)
    sigma_b = n_background * np.sqrt(suf_b2[idx]) / suf_b[0]
    z_mc = asimov_significance_uncertain(sig, bkg, sigma_b)
    return {"cut": cuts, "eff_s": eff_s, "eff_b": eff_b, "s": sig, "b": bkg, "s_over_sqrt_b": s_sqrt_b,
            "s_over_sqrt_s_plus_b": s_sqrt_sb, "z_asimov": z, "z_asimov_mc": z_mc, "n_mc_background": suf_nb[idx]}


@dataclass
class WorkingPoint:
    """The chosen cut and its figures on the validation and on the test split."""

    cut: float
    validation: dict[str, float]
    test: dict[str, float]
    scan: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)  # validation table, not saved

    def to_dict(self) -> dict[str, Any]:
        return {"cut": self.cut, "chosen_on": "validation", "validation": self.validation, "test": self.test}


def _row(table: dict[str, np.ndarray], i: int) -> dict[str, float]:
    return {k: float(v[i]) for k, v in table.items() if k != "cut"}


def choose_working_point(val_scores: Any, val_is_signal: Any, test_scores: Any, test_is_signal: Any, *,
                         n_signal: float, n_background: float, val_weights: Any = None, test_weights: Any = None,
                         min_mc_background: int = 10, objective: str = "z_asimov") -> WorkingPoint:
    """The cut maximising ``objective`` (``z_asimov``, or ``z_asimov_mc`` with the MC statistical
    error of the background) on the validation split, and the same cut's figures on the test split.

    Raises:
        ValueError: no cut keeps ``min_mc_background`` validation background jets, or bad inputs
            (shapes, non-finite scores, a split without signal or background).
    """
    if objective not in ("z_asimov", "z_asimov_mc"):
        raise ValueError(f"unknown objective {objective!r}; valid: z_asimov, z_asimov_mc")
    val = scan_cuts(val_scores, val_is_signal, n_signal=n_signal, n_background=n_background,
                    weights=val_weights, what="validation")
    ok = np.flatnonzero(val["n_mc_background"] >= min_mc_background)
    if not len(ok):
        raise ValueError(f"no cut keeps {min_mc_background} validation background jets; lower "
                         "min_mc_background or use more validation jets")
    best = int(ok[np.argmax(val[objective][ok])])
    cut = float(val["cut"][best])
    test = scan_cuts(test_scores, test_is_signal, n_signal=n_signal, n_background=n_background,
                     weights=test_weights, cuts=[cut], what="test")
    return WorkingPoint(cut=cut, validation=_row(val, best), test=_row(test, 0), scan=val)
