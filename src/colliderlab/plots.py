"""Figures in the field's style (mplhep): observables per class, ROC curves as 1/eps_B vs eps_S."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import replacing

__all__ = ["plot_observables", "plot_roc", "plot_scores", "plot_training", "plot_images", "plot_regression",
           "plot_response_vs_true", "plot_shower_observables", "plot_average_showers", "plot_sic_curves",
           "plot_sic_sweep", "plot_mass_sculpting", "label_axes"]

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
    """Save atomically (temporary file + rename) and close the figure. Returns the path."""
    import matplotlib.pyplot as plt

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(out, keep_suffix=True) as tmp:  # matplotlib picks the format from the suffix
        fig.savefig(tmp, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out


def _efficiency_axes(ax, ylabel: str, title: str) -> None:
    """Signal efficiency in [0, 1] on x, ``ylabel`` on y, an optional title and the legend."""
    ax.set_xlabel("signal efficiency $\\epsilon_S$")
    ax.set_ylabel(ylabel)
    ax.set_xlim(0, 1)
    if title:
        ax.set_title(title, fontsize=14)
    ax.legend(fontsize=12)


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
    return _save(fig, out)


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
    _efficiency_axes(ax, "background rejection $1/\\epsilon_B$", title)
    return _save(fig, out)


def plot_scores(
    probs: np.ndarray, labels: np.ndarray, class_names: Sequence[str], out: str | os.PathLike, bins: int = 40
) -> Path:
    """Distribution of the signal-class probability (binary) or of each class's probability
    (multi-class, one panel per class), one histogram per true class, unit area."""
    plt = _figure()
    n_panels = 1 if probs.shape[1] == 2 else probs.shape[1]
    fig, axes = plt.subplots(1, n_panels, figsize=(7 * n_panels, 6), squeeze=False)
    edges = np.linspace(0, 1, bins + 1)
    for p, ax in enumerate(axes[0]):
        col = 1 if n_panels == 1 else p
        for k, name in enumerate(class_names):
            sel = labels == k
            if sel.any():
                ax.hist(probs[sel, col], bins=edges, histtype="step", lw=2, density=True, label=name)
        ax.set_xlabel(f"P({class_names[col]})")
        ax.set_ylabel("density")
        ax.set_yscale("log")
        ax.legend(fontsize=12)
    return _save(fig, out)


def plot_training(history: Sequence[Mapping[str, float]], out: str | os.PathLike) -> Path:
    """Training and validation loss per epoch, and validation AUC/accuracy (or MAE) when recorded."""
    plt = _figure()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 5.5))
    ep = [r["epoch"] for r in history]
    for key in ("train_loss", "val_loss"):
        if all(key in r for r in history):
            a1.plot(ep, [r[key] for r in history], marker="o", label=key)
    a1.set_xlabel("epoch")
    a1.set_ylabel("loss")
    a1.legend(fontsize=12)
    for key in ("val_auc", "val_accuracy", "val_mae"):
        if history and all(key in r for r in history):
            a2.plot(ep, [r[key] for r in history], marker="o", label=key)
    a2.set_xlabel("epoch")
    if a2.lines:
        a2.legend(fontsize=12)
    return _save(fig, out)


def plot_images(
    images: np.ndarray, labels: np.ndarray, class_names: Sequence[str], out: str | os.PathLike,
    extent: float = 1.6,
) -> Path:
    """Average jet image per class (first channel), log colour scale. images: (N, C, H, W)."""
    from matplotlib.colors import LogNorm

    plt = _figure()
    present = [k for k in range(len(class_names)) if (labels == k).any()]
    fig, axes = plt.subplots(1, len(present), figsize=(6 * len(present), 5.5), squeeze=False)
    half = extent / 2
    for ax, k in zip(axes[0], present, strict=True):
        mean = images[labels == k, 0].mean(axis=0)
        floor = mean[mean > 0].min() if (mean > 0).any() else 1e-6
        im = ax.imshow(np.maximum(mean, floor), origin="lower", extent=(-half, half, -half, half),
                       norm=LogNorm(), cmap="viridis")
        ax.set_title(f"{class_names[k]} (mean of {(labels == k).sum()})", fontsize=14)
        ax.set_xlabel("$\\Delta\\eta$ (rotated)")
        ax.set_ylabel("$\\Delta\\phi$ (rotated)")
        fig.colorbar(im, ax=ax)
    return _save(fig, out)


def plot_regression(pred: np.ndarray, true: np.ndarray, out: str | os.PathLike, name: str = "target",
                    bins: int = 12) -> Path:
    """Predicted vs true (2D histogram) and the median response with its resolution band in bins
    of the true value. pred, true: (N,)."""
    from colliderlab.metrics import response_in_bins

    plt = _figure()
    pred = np.asarray(pred).reshape(-1)
    true = np.asarray(true).reshape(-1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 5.5))
    lo, hi = np.quantile(np.concatenate([pred, true]), [0.005, 0.995])
    a1.hist2d(true, pred, bins=50, range=((lo, hi), (lo, hi)), cmap="viridis", cmin=1)
    a1.plot([lo, hi], [lo, hi], "w--", lw=1)
    a1.set_xlabel(f"true {name}")
    a1.set_ylabel(f"predicted {name}")
    r = response_in_bins(pred, true, np.linspace(lo, hi, bins + 1))
    a2.errorbar(r["centres"], r["response"], yerr=r["resolution"] * r["response"], marker="o", ls="none")
    a2.axhline(1.0, color="k", ls=":")
    a2.set_xlabel(f"true {name}")
    a2.set_ylabel("median response (band: resolution)")
    return _save(fig, out)


def plot_response_vs_true(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], edges: np.ndarray,
                          out: str | os.PathLike, *, name: str = "E", unit: str = "GeV",
                          reference: tuple[np.ndarray, np.ndarray, str] | None = None) -> Path:
    """Bias (median response pred/true - 1) and relative resolution (half the 16-84% interval of the
    response over its median) in bins of the true value, one line per method, log x axis.

    Args:
        curves: method -> (pred (N,), true (N,)).
        edges: (B + 1,) bin edges of the true value; points at the geometric bin centres.
        reference: (x, y, label) drawn on the resolution panel, e.g. a sampling term a/sqrt(E).
    """
    from colliderlab.metrics import response_in_bins

    plt = _figure()
    edges = np.asarray(edges, np.float64)
    centres = np.sqrt(edges[1:] * edges[:-1])
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 10), sharex=True, gridspec_kw={"height_ratios": (1, 1.4)})
    for label, (pred, true) in curves.items():
        r = response_in_bins(pred, true, edges)
        a1.plot(centres, r["response"] - 1.0, marker="o", label=label)
        a2.plot(centres, r["resolution"], marker="o", label=label)
    if reference is not None:
        x, y, ref_label = reference
        a2.plot(x, y, "k--", lw=1.5, label=ref_label)
    a1.axhline(0.0, color="k", ls=":")
    ratio = f"{name}$_{{pred}}$/{name}$_{{true}}$"
    a1.set_ylabel(f"bias: median {ratio} - 1", fontsize=18)
    a2.set_yscale("log")
    a2.set_ylabel(f"resolution of {ratio}", fontsize=18)
    a2.set_xscale("log")
    a2.set_xlabel(f"true {name} [{unit}]")
    a2.legend(fontsize=11, loc="lower left")
    return _save(fig, out)


def plot_shower_observables(reference, generated, out: str | os.PathLike, max_panels: int = 24) -> Path:
    """Generated vs simulated histograms of every shower observable (CaloShowers inputs)."""
    from colliderlab.features.showers import layout_of, shower_observables
    from colliderlab.metrics import separation_power

    layout = layout_of(reference.geometry)
    obs_r = shower_observables(reference.showers, reference.incident_energy, layout)
    obs_g = shower_observables(generated.showers, generated.incident_energy, layout)
    keys = sorted(obs_r)[:max_panels]
    plt = _figure()
    ncol = 6
    nrow = -(-len(keys) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.6 * nrow), squeeze=False)
    for ax, k in zip(axes.flat, keys, strict=False):
        lo, hi = np.quantile(obs_r[k], [0.005, 0.995])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, 41)
        ax.hist(np.clip(obs_r[k], lo, hi), edges, histtype="stepfilled", alpha=0.35, density=True, label="simulated")
        ax.hist(np.clip(obs_g[k], lo, hi), edges, histtype="step", lw=2, density=True, label="generated")
        ax.set_title(f"{k}  (sep. {separation_power(obs_r[k], obs_g[k]):.3f})", fontsize=10)
        ax.tick_params(labelsize=8)
    for ax in axes.flat[len(keys):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=9)
    return _save(fig, out)


def plot_average_showers(reference, generated, out: str | os.PathLike) -> Path:
    """Average shower per layer, simulated (top row) and generated (bottom row), log colour."""
    from matplotlib.colors import LogNorm

    plt = _figure()
    n = reference.n_layers
    fig, axes = plt.subplots(2, n, figsize=(5 * n, 8), squeeze=False)
    for row, (label, showers) in enumerate((("simulated", reference), ("generated", generated))):
        for k in range(n):
            img = showers.layer(k).mean(axis=0)
            ref_img = reference.layer(k).mean(axis=0)
            floor = ref_img[ref_img > 0].min() if (ref_img > 0).any() else 1e-6
            im = axes[row, k].imshow(np.maximum(img, floor), norm=LogNorm(vmin=floor, vmax=max(ref_img.max(), floor * 10)),
                                     aspect="auto", origin="lower", cmap="viridis", interpolation="nearest")
            axes[row, k].set_title(f"{label}, layer {k}", fontsize=12)
            fig.colorbar(im, ax=axes[row, k])
    return _save(fig, out)


def plot_sic_curves(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], out: str | os.PathLike,
                    title: str = "") -> Path:
    """Significance improvement eps_S / sqrt(eps_B) against eps_S, one line per method.

    Args:
        curves: method -> (eff_s, sic) from :func:`colliderlab.metrics.sic_curve`.
    """
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 6))
    for name, (es, sic) in curves.items():
        ax.plot(es, sic, lw=2, label=name)
    ax.axhline(1.0, color="grey", ls=":", lw=1)
    _efficiency_axes(ax, "SIC  ε_S / √ε_B", title)
    return _save(fig, out)


def plot_sic_sweep(x: np.ndarray, medians: Mapping[str, np.ndarray], out: str | os.PathLike,
                   spreads: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
                   xlabel: str = "S/B in the signal region") -> Path:
    """Peak SIC (median over runs, optional band) against the amount of injected signal."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 6))
    for name, med in medians.items():
        (line,) = ax.plot(x, med, "o-", lw=2, label=name)
        if spreads and name in spreads:
            lo, hi = spreads[name]
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2)
    ax.axhline(1.0, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("peak SIC")
    ax.legend(fontsize=12)
    return _save(fig, out)


def plot_mass_sculpting(curves: Mapping[float, np.ndarray], bins: np.ndarray, out: str | os.PathLike,
                        title: str = "") -> Path:
    """Normalised background mass spectra after cuts at several background efficiencies
    (:func:`colliderlab.sculpting.sculpting_curves`): a decorrelated tagger keeps their shape."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 6))
    for eff, h in sorted(curves.items(), reverse=True):
        ax.stairs(h, bins, lw=2, label="no cut" if eff >= 1 else f"ε_B = {eff:g}")
    label_axes(ax, "jet mass [GeV]", "fraction of background jets", title)
    return _save(fig, out)


def plot_reliability(diagrams: Mapping[str, Any], out: str | os.PathLike, title: str = "") -> Path:
    """Reliability diagrams (:class:`colliderlab.calibration.Reliability`): observed frequency against
    the mean predicted probability per bin, the diagonal for perfect calibration, ECE in the legend;
    below, the jets per bin."""
    plt = _figure()
    fig, (ax, axn) = plt.subplots(2, 1, figsize=(7, 7.5), sharex=True, gridspec_kw={"height_ratios": (3, 1)})
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="perfect calibration")
    for name, rel in diagrams.items():
        ok = rel.counts > 0
        line = ax.plot(rel.predicted[ok], rel.observed[ok], "o-", label=f"{name} (ECE {rel.ece:.3f})")[0]
        axn.stairs(rel.counts, rel.edges, color=line.get_color())
    axn.set_yscale("log")
    axn.set_ylabel("jets")
    label_axes(ax, "", "observed frequency", title)
    axn.set_xlabel("predicted probability")
    return _save(fig, out)


def label_axes(ax, xlabel: str, ylabel: str, title: str = "", legend_size: int = 12) -> None:
    """Axis labels, an optional title and the legend, in the house sizes."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=14)
    ax.legend(fontsize=legend_size)
