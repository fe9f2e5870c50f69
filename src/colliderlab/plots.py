"""Figures in the field's style (mplhep): observables per class, ROC curves as 1/eps_B vs eps_S."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["plot_observables", "plot_roc"]

# Axis labels and sensible ranges for common observables (quantiles are used otherwise).
_LABELS = {
    "mass": ("jet mass [GeV]", (0, 300)),
    "pt": ("jet $p_T$ [GeV]", None),
    "eta": ("jet $\\eta$", None),
    "n_constituents": ("constituents", None),
    "tau21": ("$\\tau_{21}$", (0, 1)),
    "tau32": ("$\\tau_{32}$", (0, 1)),
    "mass_sd": ("soft-drop mass [GeV]", (0, 300)),
    "c2_b1": ("$C_2^{(\\beta=1)}$", None),
    "d2_b1": ("$D_2^{(\\beta=1)}$", None),
}


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.ROOT)
    return plt


def _save(fig, out: str | os.PathLike) -> Path:
    """Save atomically (temporary file + rename)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    fig.savefig(tmp, dpi=90, bbox_inches="tight")
    os.replace(tmp, out)
    return out


def plot_observables(
    features: Mapping[str, np.ndarray],
    labels: np.ndarray,
    label_names: Sequence[str],
    out: str | os.PathLike,
    names: Sequence[str] | None = None,
    bins: int = 40,
) -> Path:
    """One normalised histogram panel per observable, one line per class.

    Args:
        features: name -> (N,) values.
        labels: (N,) class index per jet.
        label_names: class names.
        out: PNG path.
        names: observables to show (default: all in ``features``).
    """
    plt = _figure()
    names = list(names or features)
    ncol = min(4, len(names))
    nrow = -(-len(names) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(5 * ncol, 4.2 * nrow), squeeze=False)
    labels = np.asarray(labels)
    for ax, name in zip(axes.flat, names, strict=False):
        x = np.asarray(features[name], dtype=float)
        finite = np.isfinite(x)
        xlabel, rng = _LABELS.get(name, (name, None))
        if rng is None:
            rng = tuple(np.quantile(x[finite], [0.005, 0.995])) if finite.any() else (0, 1)
            if rng[0] == rng[1]:
                rng = (rng[0] - 0.5, rng[1] + 0.5)
        edges = np.linspace(*rng, bins + 1)
        for c, cname in enumerate(label_names):
            sel = finite & (labels == c)
            if sel.any():
                ax.hist(np.clip(x[sel], *rng), bins=edges, histtype="step", density=True, lw=1.8, label=cname)
        ax.set_xlabel(xlabel, fontsize=14)
        ax.set_ylabel("normalised", fontsize=12)
        ax.tick_params(labelsize=10)
        ax.legend(fontsize=10)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    fig.tight_layout()
    path = _save(fig, out)
    plt.close(fig)
    return path


def plot_roc(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]], out: str | os.PathLike, title: str = ""
) -> Path:
    """Background rejection 1/eps_B against signal efficiency eps_S, log scale, one line per tagger.

    Args:
        curves: tagger name -> (eff_s, eff_b) from :func:`colliderlab.metrics.roc_curve`.
    """
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 6))
    for name, (es, eb) in curves.items():
        ok = eb > 0
        ax.plot(es[ok], 1.0 / eb[ok], lw=2, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("signal efficiency $\\epsilon_S$")
    ax.set_ylabel("background rejection $1/\\epsilon_B$")
    ax.set_xlim(0, 1)
    if title:
        ax.set_title(title, fontsize=14)
    ax.legend(fontsize=12)
    path = _save(fig, out)
    plt.close(fig)
    return path
