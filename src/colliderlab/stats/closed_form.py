"""Closed forms of a one-bin counting experiment, s signal on b background events, no systematics.

The asymptotic formulae of Cowan, Cranmer, Gross and Vitells (arXiv:1007.1727):

* the Asimov discovery significance Z_A = sqrt(2 ((s + b) ln(1 + s/b) - s)) (their eq. 97);
* the expected CLs upper limit on the signal strength mu: for background-only Asimov data (n = b),
  q_mu,A = 2 (mu s - b ln(1 + mu s / b)), and the limit at N standard deviations of the band solves
  sqrt(q_mu,A) = Phi^-1(1 - alpha Phi(N)) + N (the median, N = 0: sqrt(q_mu,A) = Phi^-1(1 - alpha/2)).

With an uncertainty sigma_b on b (Cowan, "Discovery sensitivity for a counting experiment with
background uncertainty", 2012, from the profile likelihood of arXiv:1007.1727 with b constrained by
an auxiliary measurement), Z_A(s, b, sigma_b) =
sqrt(2 [(s+b) ln((s+b)(b+sigma_b^2) / (b^2 + (s+b) sigma_b^2)) - (b^2/sigma_b^2) ln(1 + sigma_b^2 s / (b (b+sigma_b^2)))]),
which tends to Z_A(s, b) as sigma_b -> 0 (:func:`asimov_significance_uncertain`, vectorised).

pyhf reproduces them (``tests/stats``, ``benchmarks/bench_stats_closed_form.py``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["asimov_significance", "asimov_significance_uncertain", "expected_limit", "expected_limit_band",
           "q_mu_asimov"]


def _check(s: float, b: float) -> None:
    if not (s > 0 and b > 0 and math.isfinite(s) and math.isfinite(b)):
        raise ValueError(f"need finite s > 0 and b > 0, got s={s}, b={b}")


def asimov_significance(s: float, b: float) -> float:
    """Median discovery significance Z_A of s signal events on b background (arXiv:1007.1727 eq. 97)."""
    _check(s, b)
    return math.sqrt(2.0 * ((s + b) * math.log1p(s / b) - s))


def asimov_significance_uncertain(s, b, sigma_b):
    """Z_A of s on b events with an absolute uncertainty sigma_b on b (module docstring); arrays
    broadcast. 0 where s <= 0 or b <= 0; Z_A(s, b) where sigma_b is 0."""
    s, b, sb = (np.asarray(x, np.float64) for x in (s, b, sigma_b))
    s, b, sb = np.broadcast_arrays(s, b, sb)
    ok = (s > 0) & (b > 0)
    s_, b_ = np.where(ok, s, 1.0), np.where(ok, b, 1.0)
    v = np.where(sb > 0, sb**2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        plain = 2.0 * ((s_ + b_) * np.log1p(s_ / b_) - s_)
        vv = np.where(v > 0, v, 1.0)
        term1 = (s_ + b_) * np.log((s_ + b_) * (b_ + vv) / (b_**2 + (s_ + b_) * vv))
        term2 = b_**2 / vv * np.log1p(vv * s_ / (b_ * (b_ + vv)))
        q = np.where(v > 0, 2.0 * (term1 - term2), plain)
    return np.where(ok, np.sqrt(np.maximum(q, 0.0)), 0.0)


def q_mu_asimov(mu: float, s: float, b: float) -> float:
    """q_mu of background-only Asimov data (n = b) for signal strength ``mu``: 2 (mu s - b ln(1 + mu s/b))."""
    _check(s, b)
    return 2.0 * (mu * s - b * math.log1p(mu * s / b))


def expected_limit(s: float, b: float, *, cl: float = 0.95, n_sigma: float = 0.0) -> float:
    """Expected CLs upper limit on mu at confidence ``cl``, at ``n_sigma`` of the band (0: median)."""
    from scipy.optimize import brentq
    from scipy.stats import norm

    _check(s, b)
    alpha = 1.0 - cl
    target = float(norm.isf(alpha * norm.cdf(n_sigma))) + n_sigma
    if target <= 0:
        raise ValueError(f"no limit at n_sigma={n_sigma} for cl={cl}")
    hi = 1.0
    while math.sqrt(q_mu_asimov(hi, s, b)) < target:
        hi *= 2.0
    return float(brentq(lambda m: math.sqrt(q_mu_asimov(m, s, b)) - target, 0.0, hi, xtol=1e-12, rtol=1e-12))


def expected_limit_band(s: float, b: float, *, cl: float = 0.95) -> list[float]:
    """The expected limits at -2, -1, 0, +1, +2 sigma (pyhf's order)."""
    return [expected_limit(s, b, cl=cl, n_sigma=n) for n in (-2.0, -1.0, 0.0, 1.0, 2.0)]
