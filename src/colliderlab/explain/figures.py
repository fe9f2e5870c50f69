"""Figures of :mod:`colliderlab.explain`: SHAP plots, attribution maps, attention maps, EFN filters."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from colliderlab import kinematics as kin
from colliderlab.plots import _figure, _save

__all__ = ["shap_plots", "image_maps", "particle_jets", "dr_z_maps", "attention_figure", "efn_figure"]


def shap_plots(values: np.ndarray, x: np.ndarray, names: Sequence[str], out_dir: Path, n_dependence: int = 3) -> list[Path]:
    """shap's summary (beeswarm) plot and dependence plots of the ``n_dependence`` top observables."""
    import shap

    plt = _figure()
    shap.summary_plot(values, x, feature_names=list(names), show=False)
    paths = [_save(plt.gcf(), out_dir / "shap_summary.png")]
    for i in np.argsort(-np.abs(values).mean(0))[:n_dependence]:
        shap.dependence_plot(int(i), values, x, feature_names=list(names), show=False, interaction_index=None)
        paths.append(_save(plt.gcf(), out_dir / f"shap_dependence_{names[i]}.png"))
    return paths


def image_maps(maps: Mapping[str, np.ndarray], class_names: Sequence[str], out: str | os.PathLike,
               extent: float = 1.6) -> Path:
    """Rows: classes; columns: the per-class means in ``maps`` (each (C, H, W)), e.g. the average
    image, integrated gradients and saliency."""
    plt = _figure()
    n_rows, n_cols = len(class_names), len(maps)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 3.8 * n_rows), squeeze=False)
    for j, (title, m) in enumerate(maps.items()):
        for i, name in enumerate(class_names):
            ax = axes[i, j]
            v = m[i]
            lim = np.abs(v).max() or 1.0
            signed = v.min() < 0
            im = ax.imshow(v.T, origin="lower", extent=(-extent, extent, -extent, extent),
                           cmap="RdBu_r" if signed else "viridis", vmin=-lim if signed else 0, vmax=lim)
            ax.set_title(f"{name}: {title}", fontsize=11)
            ax.tick_params(labelsize=8)
            fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(fig, out)


def particle_jets(attribution: np.ndarray, p4: np.ndarray, mask: np.ndarray, jet_p4: np.ndarray,
                  partons: np.ndarray, titles: Sequence[str], out: str | os.PathLike, radius: float = 0.2) -> Path:
    """Single jets in the (Delta y, Delta phi) plane: marker area ~ pT, colour = attribution; the
    truth decay partons as crosses with their ``radius`` cones."""
    plt = _figure()
    n = len(titles)
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 4.2), squeeze=False)
    y0, phi0 = kin.rapidity(jet_p4), kin.phi(jet_p4)
    for j, ax in enumerate(axes[0]):
        m = mask[j]
        q = p4[j][m].astype(np.float64)
        dy, dphi = kin.rapidity(q) - y0[j], kin.wrap_phi(kin.phi(q) - phi0[j])
        a = attribution[j][m]
        lim = np.abs(a).max() or 1.0
        sc = ax.scatter(dy, dphi, s=400 * kin.pt(q) / kin.pt(q).max(), c=a, cmap="RdBu_r", vmin=-lim, vmax=lim,
                        edgecolors="k", linewidths=0.3)
        for par in partons[j][partons[j][:, 0] > 0]:
            py, pphi = kin.rapidity(par) - y0[j], kin.wrap_phi(kin.phi(par) - phi0[j])
            ax.plot(py, pphi, "kx", ms=10, mew=2)
            ax.add_patch(plt.Circle((py, pphi), radius, fill=False, ls="--", color="k"))
        ax.set_xlim(-0.8, 0.8)
        ax.set_ylim(-0.8, 0.8)
        ax.set_aspect("equal")
        ax.set_title(titles[j], fontsize=11)
        ax.set_xlabel(r"$\Delta y$", fontsize=12)
        ax.set_ylabel(r"$\Delta\phi$", fontsize=12)
        fig.colorbar(sc, ax=ax, fraction=0.046)
    return _save(fig, out)


def dr_z_maps(maps: Mapping[str, np.ndarray], dr_bins: np.ndarray, logz_bins: np.ndarray,
              out: str | os.PathLike) -> Path:
    """Mean |attribution| per particle in (Delta R, log10 z) bins, one panel per class."""
    plt = _figure()
    fig, axes = plt.subplots(1, len(maps), figsize=(4.8 * len(maps), 4.2), squeeze=False)
    for ax, (name, m) in zip(axes[0], maps.items(), strict=True):
        im = ax.pcolormesh(dr_bins, logz_bins, m.T, cmap="viridis")
        ax.set_title(name, fontsize=12)
        ax.set_xlabel(r"$\Delta R$ to the jet axis", fontsize=12)
        ax.set_ylabel(r"$\log_{10} z$", fontsize=12)
        fig.colorbar(im, ax=ax, fraction=0.046, label="mean |attribution|")
    return _save(fig, out)


def attention_figure(particle: np.ndarray, n_real: int, tv: np.ndarray, out: str | os.PathLike) -> Path:
    """One jet's attention maps, rows = layers, columns = heads (the real particles, pT order),
    titled with each head's interaction contribution (total-variation distance)."""
    plt = _figure()
    n_layers, n_heads = particle.shape[:2]
    fig, axes = plt.subplots(n_layers, n_heads, figsize=(3 * n_heads, 3 * n_layers), squeeze=False)
    for i in range(n_layers):
        for h in range(n_heads):
            ax = axes[i, h]
            ax.imshow(particle[i, h, :n_real, :n_real], cmap="magma", vmin=0)
            ax.set_title(f"layer {i} head {h}\nU: TV {tv[i, h]:.2f}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    return _save(fig, out)


def efn_figure(filters: np.ndarray, axis: np.ndarray, order: np.ndarray, out: str | os.PathLike,
               n_show: int = 8) -> Path:
    """The ``n_show`` first filters of ``order`` over the (Delta eta, Delta phi) plane."""
    plt = _figure()
    k = min(n_show, len(order))
    fig, axes = plt.subplots(1, k, figsize=(3 * k, 3.2), squeeze=False)
    e = (axis[0], axis[-1], axis[0], axis[-1])
    for ax, idx in zip(axes[0], order[:k], strict=False):
        ax.imshow(filters[idx].T, origin="lower", extent=e, cmap="viridis")
        ax.set_title(f"filter {idx}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    return _save(fig, out)
