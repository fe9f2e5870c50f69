"""Figures of the anomaly searches, in the project's mplhep style (:mod:`colliderlab.plots`):
score distributions per process, p-value distributions, and ROC curves of the unsupervised
scores against a supervised classifier (drawn by :func:`colliderlab.plots.plot_roc`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from colliderlab.plots import _figure, _save, label_axes, plot_roc

__all__ = ["plot_score_distributions", "plot_pvalue_distributions", "plot_anomaly_rocs"]


def plot_score_distributions(
    scores: Mapping[str, np.ndarray],
    out: str | os.PathLike,
    xlabel: str = "anomaly score",
    bins: int = 50,
    log_x: bool | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> Path:
    """Unit-area histograms of one score, one line per process (Standard-Model processes and signals).

    Args:
        scores: process name -> (N_p,) scores.
        log_x: logarithmic bins (default: when every score is positive and they span > 2 decades).
        thresholds: label -> score, drawn as vertical lines (e.g. the SM-acceptance thresholds).
    """
    plt = _figure()
    fig, ax = plt.subplots(figsize=(8, 6))
    allv = np.concatenate([np.asarray(v, float).reshape(-1) for v in scores.values()]) if scores else np.zeros(1)
    allv = allv[np.isfinite(allv)]
    lo, hi = (np.quantile(allv, [0.001, 0.999]) if len(allv) else (0.0, 1.0))
    if log_x is None:
        log_x = bool(len(allv) and allv.min() > 0 and hi / max(lo, 1e-300) > 100)
    if log_x:
        lo = max(lo, allv[allv > 0].min() if (allv > 0).any() else 1e-6)
        edges = np.geomspace(lo, max(hi, lo * 10), bins + 1)
    else:
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    for name, v in scores.items():
        v = np.asarray(v, float).reshape(-1)
        if len(v):
            ax.hist(np.clip(v, edges[0], edges[-1]), bins=edges, histtype="step", density=True, lw=1.8,
                    label=f"{name} ({len(v)})")
    for label, t in (thresholds or {}).items():
        ax.axvline(t, ls="--", lw=1, color="grey")
        ax.text(t, 1.0, f" {label}", rotation=90, va="top", fontsize=9,
                transform=ax.get_xaxis_transform())
    if log_x:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend(fontsize=10)
    return _save(fig, out)


def plot_pvalue_distributions(pvalues: Mapping[str, np.ndarray], out: str | os.PathLike, bins: int = 40,
                              title: str = "") -> Path:
    """Distributions of the one-sided p-values, one line per process, on a log p axis (a
    Standard-Model sample is flat in p, i.e. rises as p on this axis; anomalies pile up at small p)."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(8, 6))
    pmin = min((float(np.min(v)) for v in pvalues.values() if len(v)), default=1e-4)
    edges = np.geomspace(min(pmin, 1e-2), 1.0, bins + 1)
    for name, v in pvalues.items():
        v = np.asarray(v, float).reshape(-1)
        if len(v):
            ax.hist(v, bins=edges, histtype="step", lw=1.8, weights=np.full(len(v), 1.0 / len(v)), label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    label_axes(ax, "p-value (from the Standard-Model score distribution)", "fraction of events", title, 10)
    return _save(fig, out)


def plot_anomaly_rocs(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], out: str | os.PathLike,
                      title: str = "") -> Path:
    """ROC curves (1/eps_B vs eps_S) of unsupervised scores and a supervised classifier for one
    signal; ``curves``: name -> (eff_s, eff_b) from :func:`colliderlab.metrics.roc_curve`."""
    return plot_roc(curves, out, title=title)
