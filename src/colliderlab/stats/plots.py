"""Figures of a statistical analysis: the CLs scan with its expected band, the significance against
the score cut, and the stacked templates with the pseudo-data."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.plots import _figure, _save

__all__ = ["plot_cls_scan", "plot_significance_scan", "plot_templates", "write_plots"]


def plot_cls_scan(scan: Mapping[str, Any], out: str | os.PathLike, *, cl: float = 0.95) -> Path:
    """CLs against mu: observed, expected median and the +-1/2 sigma band; the limit is where a
    curve crosses 1 - cl (dashed)."""
    plt = _figure()
    mu = np.asarray(scan["mu"])
    exp = np.asarray(scan["expected"])  # (K, 5): -2, -1, 0, +1, +2 sigma
    fig, ax = plt.subplots(figsize=(8, 6))
    ax.fill_between(mu, exp[:, 0], exp[:, 4], color="#f5e663", label=r"expected $\pm 2\sigma$")
    ax.fill_between(mu, exp[:, 1], exp[:, 3], color="#5cb85c", label=r"expected $\pm 1\sigma$")
    ax.plot(mu, exp[:, 2], "k--", label="expected")
    ax.plot(mu, scan["observed"], "k-", marker="o", ms=3, label="observed (pseudo-data)")
    ax.axhline(1.0 - cl, color="r", ls=":", label=f"{1 - cl:.2f}")
    ax.set_xlabel(r"signal strength $\mu$")
    ax.set_ylabel(r"CL$_s$")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=12)
    return _save(fig, out)


def plot_significance_scan(scan: Mapping[str, Any], cut: float, out: str | os.PathLike) -> Path:
    """Z_A, s/sqrt(b) and s/sqrt(s+b) against the score cut (validation split), the chosen cut marked."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(8, 6))
    c = np.asarray(scan["cut"])
    ok = np.asarray(scan["n_mc_background"]) >= 1
    for key, label in (("z_asimov", "$Z_A$"), ("z_asimov_mc", r"$Z_A$ with MC stat. of $b$"),
                       ("s_over_sqrt_b", "s/√b"), ("s_over_sqrt_s_plus_b", "s/√(s+b)")):
        ax.plot(c[ok], np.asarray(scan[key])[ok], label=label)
    ax.axvline(cut, color="k", ls="--", label=f"chosen cut {cut:.3g}")
    ax.set_xlabel("score cut (validation)")
    ax.set_ylabel("significance")
    ax.legend(fontsize=12)
    return _save(fig, out)


def plot_templates(result: Mapping[str, Any], out: str | os.PathLike, xlabel: str = "discriminant") -> Path:
    """Stacked background templates, the signal on top and the pseudo-data after the cut."""
    plt = _figure()
    edges = np.asarray(result["edges"])
    samples = result["workspace"]["channels"][0]["samples"]
    fig, ax = plt.subplots(figsize=(8, 6))
    bottom = np.zeros(len(edges) - 1)
    for s in samples[1:] + samples[:1]:  # backgrounds first, signal on top
        counts = np.asarray(s["data"])
        ax.stairs(bottom + counts, edges, baseline=bottom, fill=True, alpha=0.6, label=s["name"])
        bottom = bottom + counts
    data = np.asarray(result["fit"]["pseudo_data"])
    centres = 0.5 * (edges[1:] + edges[:-1])
    ax.errorbar(centres, data, yerr=np.sqrt(data), fmt="ko", ms=4,
                label=f"pseudo-data ($\\mu$ = {result['config']['inject_mu']:g})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"events / {result['config']['lumi_fb']:g} fb$^{{-1}}$")
    ax.legend(fontsize=12)
    return _save(fig, out)


def write_plots(result: Mapping[str, Any], out_dir: str | os.PathLike, *, xlabel: str = "discriminant") -> list[Path]:
    """The three figures of :func:`colliderlab.stats.analysis.analyse`'s result into ``out_dir``;
    the CLs scan runs pyhf over 0 .. 2x the +2 sigma expected limit."""
    from colliderlab.stats.fit import cls_scan, pseudo_data

    out_dir = Path(out_dir)
    spec = result["workspace"]
    hi = 2.0 * max(result["fit"]["limit_expected"][-1], result["fit"]["limit_observed"])
    cfg = result["config"]
    data = pseudo_data(spec, mu=cfg["inject_mu"], seed=cfg["seed"])
    scan = cls_scan(spec, np.linspace(0.0, hi, 25)[1:], data=data)
    return [
        plot_cls_scan(scan, out_dir / "cls_scan.png", cl=cfg["cl"]),
        plot_significance_scan(result["scan"], result["working_point"]["cut"], out_dir / "significance_vs_cut.png"),
        plot_templates(result, out_dir / "templates.png", xlabel),
    ]
