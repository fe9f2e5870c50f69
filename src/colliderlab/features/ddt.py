"""The designed decorrelated tau21, DDT (Dolen, Harris, Marzani, Rappoccio and Tran, arXiv:1603.00027).

The background's tau21 grows linearly with the scaling variable rho' = ln(m^2 / (pT mu)), mu = 1 GeV,
where the jet mass is well above the non-perturbative region. DDT fits that line on **background jets
only**, in a rho' range, to the profile (mean tau21 per rho' bin, weighted by the jets per bin), and
subtracts it:

    tau21' = tau21 - M (rho' - rho'_0),

with M the fitted slope and rho'_0 the lower edge of the fit range (the offset does not change which jets a
cut keeps; it keeps tau21' near tau21). A cut on tau21' then keeps roughly the same fraction of the
background at every mass: the classical baseline of mass decorrelation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["DDT", "rho_prime"]


def rho_prime(mass: Any, pt: Any, mu: float = 1.0) -> np.ndarray:
    """rho' = ln(m^2 / (pT mu)) (N,) from the jet mass and pT in GeV; -inf for massless jets."""
    m, p = np.asarray(mass, np.float64), np.asarray(pt, np.float64)
    with np.errstate(divide="ignore"):
        return np.log(m**2 / (p * mu))


@dataclass
class DDT:
    """A fitted DDT transformation (saved with a run as JSON: :meth:`to_dict`).

    Attributes:
        slope: M, the fitted d<tau21>/d rho' of the background.
        intercept: <tau21> of the background at rho'_0 (the fit's value there).
        fit_range: (rho'_0, rho'_1) of the fit.
        mu: the scale in rho' (GeV).
        bins: rho' bins of the profile.
    """

    slope: float
    intercept: float
    fit_range: tuple[float, float]
    mu: float = 1.0
    bins: int = 10

    @classmethod
    def fit(cls, tau21: Any, mass: Any, pt: Any, is_signal: Any, *, fit_range: tuple[float, float] = (1.5, 4.5),
            bins: int = 10, mu: float = 1.0) -> DDT:
        """Fit the slope on the background jets (``is_signal`` False) whose rho' is in ``fit_range``.

        Raises:
            ValueError: shapes differ, or fewer than two profile bins hold background jets.
        """
        t, y = np.asarray(tau21, np.float64), np.asarray(is_signal).astype(bool)
        r = rho_prime(mass, pt, mu)
        if not (t.shape == y.shape == r.shape) or t.ndim != 1:
            raise ValueError(f"tau21, mass, pt and is_signal must all have shape (N,); got {t.shape}, {r.shape}, "
                             f"{y.shape}")
        lo, hi = (float(v) for v in fit_range)
        edges = np.linspace(lo, hi, bins + 1)
        bkg = ~y & np.isfinite(r) & np.isfinite(t) & (r >= lo) & (r < hi)
        idx = np.digitize(r[bkg], edges) - 1
        n = np.bincount(idx, minlength=bins)[:bins]
        sums = np.bincount(idx, weights=t[bkg], minlength=bins)[:bins]
        ok = n > 0
        if ok.sum() < 2:
            raise ValueError(f"DDT needs background jets in at least two rho' bins of {fit_range}; found {int(ok.sum())}")
        centres = 0.5 * (edges[1:] + edges[:-1])
        slope, icpt = np.polyfit(centres[ok] - lo, sums[ok] / n[ok], 1, w=np.sqrt(n[ok]))
        return cls(float(slope), float(icpt), (lo, hi), mu, bins)

    def transform(self, tau21: Any, mass: Any, pt: Any) -> np.ndarray:
        """tau21' (N,) = tau21 - M (rho' - rho'_0)."""
        r = rho_prime(mass, pt, self.mu)
        return np.asarray(tau21, np.float64) - self.slope * (r - self.fit_range[0])

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fit_range": list(self.fit_range)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DDT:
        return cls(float(d["slope"]), float(d["intercept"]), tuple(d["fit_range"]), float(d.get("mu", 1.0)),
                   int(d.get("bins", 10)))
