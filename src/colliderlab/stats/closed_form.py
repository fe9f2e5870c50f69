"""Closed forms of a one-bin counting experiment, s signal on b background events, no systematics.

The asymptotic formulae of Cowan, Cranmer, Gross and Vitells (arXiv:1007.1727):

* the Asimov discovery significance Z_A = sqrt(2 ((s + b) ln(1 + s/b) - s)) (their eq. 97);
* the expected CLs upper limit on the signal strength mu: for background-only Asimov data (n = b),
  q_mu,A = 2 (mu s - b ln(1 + mu s / b)), and the limit at N standard deviations of the band solves
  sqrt(q_mu,A) = Phi^-1(1 - alpha Phi(N)) + N (the median, N = 0: sqrt(q_mu,A) = Phi^-1(1 - alpha/2)).

pyhf reproduces them (``tests/stats``, ``benchmarks/bench_stats_closed_form.py``).
"""

from __future__ import annotations

import math

__all__ = ["asimov_significance", "expected_limit", "expected_limit_band", "q_mu_asimov"]


def _check(s: float, b: float) -> None:
    if not (s > 0 and b > 0 and math.isfinite(s) and math.isfinite(b)):
        raise ValueError(f"need finite s > 0 and b > 0, got s={s}, b={b}")


def asimov_significance(s: float, b: float) -> float:
    """Median discovery significance Z_A of s signal events on b background (arXiv:1007.1727 eq. 97)."""
    _check(s, b)
    return math.sqrt(2.0 * ((s + b) * math.log1p(s / b) - s))


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
