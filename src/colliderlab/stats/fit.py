"""Fits of a HistFactory workspace with pyhf: expected (Asimov) discovery significance, CLs upper
limits on the signal strength with the +-1/2 sigma band, and seeded pseudo-data.

Asymptotic formulae throughout (arXiv:1007.1727), the ``q0`` test statistic for discovery and
``qtilde`` for limits, as pyhf implements them (arXiv:2109.04981)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["discovery_significance", "pseudo_data", "upper_limits"]


def _model(spec: Mapping[str, Any]) -> tuple[Any, Any]:
    import pyhf

    pyhf.set_backend("numpy")
    ws = pyhf.Workspace(dict(spec))
    return ws, ws.model()


def discovery_significance(spec: Mapping[str, Any], *, mu: float = 1.0, observed: bool = False) -> float:
    """Discovery significance Z = Phi^-1(1 - p0): expected on the Asimov data of signal strength
    ``mu`` (default), or observed on the workspace's observations (``observed=True``)."""
    import pyhf
    from scipy.stats import norm

    ws, model = _model(spec)
    if observed:
        data = ws.data(model)
    else:
        pars = model.config.suggested_init()
        pars[model.config.poi_index] = mu
        data = model.expected_data(pars)
    p0 = pyhf.infer.hypotest(0.0, data, model, test_stat="q0")
    return float(norm.isf(float(p0)))


def upper_limits(spec: Mapping[str, Any], *, cl: float = 0.95, data: Sequence[float] | None = None) -> dict[str, Any]:
    """CLs upper limits on mu: ``observed`` on ``data`` (main measurement + auxiliary data; default
    the workspace's observations) and ``expected``, the band at -2, -1, 0, +1, +2 sigma."""
    import pyhf

    ws, model = _model(spec)
    d = ws.data(model) if data is None else np.asarray(data, float)
    obs, exp = pyhf.infer.intervals.upper_limits.upper_limit(d, model, scan=None, level=1.0 - cl, rtol=1e-6)
    return {"cl": cl, "observed": float(obs), "expected": [float(e) for e in exp]}


def pseudo_data(spec: Mapping[str, Any], *, mu: float, seed: int) -> np.ndarray:
    """A Poisson draw of the main measurement at signal strength ``mu`` (nuisances at their nominal
    values) with the nominal auxiliary data appended: the "observed" data of a pseudo-experiment."""
    _, model = _model(spec)
    pars = model.config.suggested_init()
    pars[model.config.poi_index] = mu
    expected = model.expected_actualdata(pars)
    n = np.random.default_rng(seed).poisson(expected).astype(float)
    return np.concatenate([n, np.asarray(model.config.auxdata, float)])
