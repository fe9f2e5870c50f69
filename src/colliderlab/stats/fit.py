"""Fits of a HistFactory workspace with pyhf: expected (Asimov) discovery significance, CLs upper
limits on the signal strength with the +-1/2 sigma band, and seeded pseudo-data.

Asymptotic formulae throughout (arXiv:1007.1727), the ``q0`` test statistic for discovery and
``qtilde`` for limits, as pyhf implements them (arXiv:2109.04981)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["cls_scan", "discovery_significance", "pseudo_data", "upper_limits"]


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


def upper_limits(spec: Mapping[str, Any], *, cl: float = 0.95, data: Sequence[float] | None = None,
                 rtol: float = 1e-3) -> dict[str, Any]:
    """CLs upper limits on mu: ``observed`` on ``data`` (main measurement + auxiliary data; default
    the workspace's observations) and ``expected``, the band at -2, -1, 0, +1, +2 sigma; each found
    to a relative tolerance ``rtol``."""
    import pyhf

    for _ in range(4):  # pyhf's bracket search doubles mu past its bounds when the limit is above them
        ws, model = _model(spec)
        d = ws.data(model) if data is None else np.asarray(data, float)
        guess = _limit_guess(spec, cl)
        try:  # the bracket starts at the closed-form guess: pyhf's default (the bounds of mu) can sit so
            # far out that CLs is 0/0 there when the signal is large
            obs, exp = pyhf.infer.intervals.upper_limits.toms748_scan(d, model, guess / 4.0, guess, level=1.0 - cl,
                                                                      rtol=rtol)
        except ValueError as e:
            if "is NaN" in str(e):
                raise ValueError(f"CLs is undefined (0/0) while searching for the limit ({e}); this happens when "
                                 "the nuisance parameters can absorb any signal, typically MC statistical errors "
                                 "of tens of percent per bin: use fewer bins or more simulated jets") from None
            if "outside of its bounds" not in str(e):
                raise
            spec = _with_poi_bound(spec, 10.0 * _poi_upper(spec))
            continue
        return {"cl": cl, "observed": float(obs), "expected": [float(e) for e in exp]}
    raise ValueError("the upper limit on mu lies beyond 1000 times the workspace's bound on mu")


def _limit_guess(spec: Mapping[str, Any], cl: float) -> float:
    """The closed-form expected limit of the channels' summed signal and background (one bin)."""
    from colliderlab.stats.closed_form import expected_limit

    samples = [x for ch in spec["channels"] for x in ch["samples"]]
    poi = spec["measurements"][0]["config"]["poi"]
    is_sig = [any(m["name"] == poi for m in x["modifiers"]) for x in samples]
    s = sum(sum(x["data"]) for x, sig in zip(samples, is_sig, strict=True) if sig)
    b = sum(sum(x["data"]) for x, sig in zip(samples, is_sig, strict=True) if not sig)
    return max(expected_limit(s, max(b, 1e-9), cl=cl), 1e-9)


def _poi_upper(spec: Mapping[str, Any]) -> float:
    m = spec["measurements"][0]["config"]
    return next(p["bounds"][0][1] for p in m["parameters"] if p["name"] == m["poi"])


def _with_poi_bound(spec: Mapping[str, Any], at_least: float) -> dict[str, Any]:
    """``spec`` whose parameter of interest reaches at least ``at_least``."""
    out = json.loads(json.dumps(spec))
    for m in out["measurements"]:
        for p in m["config"]["parameters"]:
            if p["name"] == m["config"]["poi"] and "bounds" in p and p["bounds"][0][1] < at_least:
                p["bounds"] = [[p["bounds"][0][0], at_least]]
    return out

def pseudo_data(spec: Mapping[str, Any], *, mu: float, seed: int) -> np.ndarray:
    """A Poisson draw of the main measurement at signal strength ``mu`` (nuisances at their nominal
    values) with the nominal auxiliary data appended: the "observed" data of a pseudo-experiment."""
    _, model = _model(spec)
    pars = model.config.suggested_init()
    pars[model.config.poi_index] = mu
    expected = model.expected_actualdata(pars)
    n = np.random.default_rng(seed).poisson(expected).astype(float)
    return np.concatenate([n, np.asarray(model.config.auxdata, float)])


def cls_scan(spec: Mapping[str, Any], mus: Sequence[float], *, data: Sequence[float] | None = None) -> dict[str, Any]:
    """CLs at each signal strength of ``mus`` (K,): ``observed`` (K,) on ``data`` (default the
    workspace's observations) and ``expected`` (K, 5), the -2..+2 sigma band (the "Brazil" plot)."""
    import pyhf

    spec = _with_poi_bound(spec, 1.5 * max(float(m) for m in mus))
    ws, model = _model(spec)
    d = ws.data(model) if data is None else np.asarray(data, float)
    obs, exp = [], []
    for mu in mus:
        o, e = pyhf.infer.hypotest(float(mu), d, model, test_stat="qtilde", return_expected_set=True)
        obs.append(float(o))
        exp.append([float(x) for x in e])
    return {"mu": [float(m) for m in mus], "observed": obs, "expected": exp}
