"""The explanation of each family of runs (called by :func:`colliderlab.explain.report.explain_run`).

Each function adds its arrays to ``store`` (written to explain.h5), its figures to ``out`` and its
figures of merit to ``summary``; the signal is the run's last class.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab import kinematics as kin
from colliderlab.explain import figures
from colliderlab.explain.gradients import (
    integrated_gradients,
    particle_occlusion,
    per_particle,
    saliency,
)

__all__ = ["tabular", "images", "particles"]


def _timed(summary: dict[str, Any], stage: str, t0: float) -> None:
    summary["seconds"][stage] = time.perf_counter() - t0


def _completeness(delta: np.ndarray, gain: np.ndarray) -> dict[str, float]:
    """Integrated gradients' completeness: |sum of attributions - gain| relative to |gain|."""
    big = np.abs(gain) > 1e-3
    rel = np.abs(delta[big]) / np.abs(gain[big]) if big.any() else np.zeros(1)
    return {"median_relative_error": float(np.median(rel)), "p90_relative_error": float(np.quantile(rel, 0.9))}


def tabular(run: Any, arrays: dict, labels: np.ndarray, cfg: Any, out: Path, summary: dict, store: dict) -> None:
    """SHAP values of a BDT (tree SHAP, log-odds) or a torch model on observables (expected gradients)."""
    from colliderlab.explain.tabular import deep_shap, ranking, tree_shap

    names = list(run.representation.feature_names())
    x = np.asarray(arrays["x"]).reshape(len(labels), -1)
    t0 = time.perf_counter()
    if run.is_baseline:
        if not hasattr(run.model, "booster"):
            raise NotImplementedError(f"explain: SHAP values of {run.model_name!r} baselines are not available; "
                                      "boosted trees (bdt) and torch models are")
        values, expected = tree_shap(run.model, x)
        summary["shap"] = {"method": "tree SHAP, xgboost pred_contribs (log-odds)", "expected_value": expected,
                           "max_sum_error": float(np.abs(values.sum(1) + expected - _margin(run.model, x)).max())}
    else:
        rng = np.random.default_rng(0)
        background = x[rng.choice(len(x), min(cfg.background, len(x)), replace=False)]
        values, err = deep_shap(run.model, x, background, target=len(run.class_names) - 1)
        summary["shap"] = {"method": "DeepExplainer (log-odds)", "background": len(background),
                           "max_additivity_error": err}
    _timed(summary, "shap", t0)
    summary["shap"]["ranking"] = ranking(values, names)
    store.update(shap_values=values, x=x)
    if cfg.plots:
        figures.shap_plots(values, x, names, out)


def _margin(bdt: Any, x: np.ndarray) -> np.ndarray:
    m = bdt.margin(x)
    return m if m.ndim == 1 else m[:, -1]


def images(run: Any, arrays: dict, labels: np.ndarray, jets: Any, cfg: Any, out: Path, summary: dict,
           store: dict) -> None:
    """Integrated gradients and saliency of an image tagger, averaged per class and jet-pT bin."""
    target = len(run.class_names) - 1
    img = np.asarray(arrays["image"], np.float32)
    t0 = time.perf_counter()
    ig, delta, gain = integrated_gradients(run.model, {"image": img}, target, n_steps=cfg.n_steps)
    sal = saliency(run.model, {"image": img}, target)
    _timed(summary, "attributions", t0)
    summary["integrated_gradients"] = {"n_steps": cfg.n_steps, **_completeness(delta, gain)}
    ig, sal = ig["image"][:, 0], sal["image"][:, 0]  # first channel (B, H, W)
    n_cls = len(run.class_names)
    means = {name: np.stack([a[labels == k].mean(0) if (labels == k).any() else np.zeros(a.shape[1:])
                             for k in range(n_cls)])
             for name, a in (("average image", img[:, 0]), ("integrated gradients", ig), ("saliency", sal))}
    pt = kin.pt(jets.jet_p4)
    edges = np.quantile(pt, np.linspace(0, 1, cfg.pt_bins + 1))
    which = np.clip(np.searchsorted(edges, pt, side="right") - 1, 0, cfg.pt_bins - 1)
    by_pt = np.zeros((n_cls, cfg.pt_bins, *ig.shape[1:]))
    for k in range(n_cls):
        for b in range(cfg.pt_bins):
            sel = (labels == k) & (which == b)
            if sel.any():
                by_pt[k, b] = ig[sel].mean(0)
    store.update(integrated_gradients=ig, saliency=sal, ig_by_class=means["integrated gradients"],
                 saliency_by_class=means["saliency"], average_image=means["average image"],
                 ig_by_class_and_pt=by_pt, pt_bin_edges=edges)
    if cfg.plots:
        extent = getattr(run.representation, "extent", 1.6)
        figures.image_maps(means, run.class_names, out / "image_attributions.png", extent)
        for b in range(cfg.pt_bins):
            figures.image_maps({f"IG, pT {edges[b]:.0f}-{edges[b + 1]:.0f}": by_pt[:, b]}, run.class_names,
                               out / f"image_ig_pt{b}.png", extent)


def particles(run: Any, arrays: dict, labels: np.ndarray, jets: Any, cfg: Any, out: Path, summary: dict,
              store: dict) -> None:
    """Per-particle integrated gradients and occlusion, the three-prong check of each, (Delta R, z)
    maps; ParT attention maps and EFN filters for those models."""
    from colliderlab.explain.particles import DR_BINS, LOG_Z_BINS, dr_z_map, prong_check

    target = len(run.class_names) - 1
    inputs = {k: np.asarray(arrays[k]) for k in run.model.input_names}
    t0 = time.perf_counter()
    ig, delta, gain = integrated_gradients(run.model, inputs, target, n_steps=cfg.n_steps)
    _timed(summary, "integrated_gradients", t0)
    summary["integrated_gradients"] = {"n_steps": cfg.n_steps, "inputs": sorted(ig), **_completeness(delta, gain)}
    mask, p4 = np.asarray(arrays["mask"], bool), np.asarray(arrays["p4"])
    attr = per_particle(ig, mask)  # (B, N) in the representation's particle order
    t0 = time.perf_counter()
    occ = particle_occlusion(run.model, inputs, target)  # (B, N): removing each particle
    _timed(summary, "occlusion", t0)
    store.update(particle_attribution=attr, particle_occlusion=occ, p4=p4, mask=mask)
    signal = labels == target
    if "truth_partons" in jets.fields and (jets.truth_partons[signal, :, 0] > 0).any():
        sel = signal & (jets.truth_partons[:, :, 0] > 0).any(1)
        for key, a in (("prong_check", attr), ("prong_check_occlusion", occ)):
            summary[key] = {"class": run.class_names[target],
                            **prong_check(a[sel], p4[sel], mask[sel], jets.truth_partons[sel], cfg.radius)}
        store["truth_partons"] = jets.truth_partons
    maps = {run.class_names[k]: dr_z_map(attr[labels == k], p4[labels == k], mask[labels == k],
                                         jets.jet_p4[labels == k])["mean"]
            for k in range(len(run.class_names)) if (labels == k).any()}
    store["dr_z_mean"] = np.stack(list(maps.values()))
    if cfg.plots:
        figures.dr_z_maps(maps, DR_BINS, LOG_Z_BINS, out / "particle_dr_z.png")
        show = [i for k in range(len(run.class_names)) for i in np.nonzero(labels == k)[0][:cfg.n_show]]
        figures.particle_jets(attr[show], p4[show], mask[show], jets.jet_p4[show], jets.truth_partons[show],
                              [f"{run.class_names[labels[i]]} jet {i}" for i in show], out / "particle_jets.png",
                              cfg.radius)
    if run.model_name == "part":
        _attention(run, arrays, labels, out, summary, store, cfg.plots)
    if run.model_name == "efn":
        _efn(run, arrays, labels, out, summary, store, cfg.plots)


def _attention(run: Any, arrays: dict, labels: np.ndarray, out: Path, summary: dict, store: dict, plots: bool) -> None:
    from colliderlab.explain.attention import attention_maps

    t0 = time.perf_counter()
    n = min(256, len(labels))
    maps = attention_maps(run.model, arrays["x"][:n], arrays["p4"][:n], arrays["mask"][:n])
    _timed(summary, "attention", t0)
    summary["attention"] = {"jets": n, "interaction_tv": maps["interaction_tv"].tolist(),
                            "interaction_std": maps["interaction_std"].tolist(),
                            "content_std": maps["content_std"].tolist()}
    n_cls = len(run.class_names)
    store.update(attention_first_jets=maps["particle"][:8], class_attention=maps["class"],
                 attention_by_class=np.stack([maps["particle"][labels[:n] == k].mean(0) if (labels[:n] == k).any()
                                              else np.zeros(maps["particle"].shape[1:]) for k in range(n_cls)]))
    if plots:
        figures.attention_figure(maps["particle"][0], int(arrays["mask"][0].sum()), maps["interaction_tv"],
                                 out / "attention_jet0.png")


def _efn(run: Any, arrays: dict, labels: np.ndarray, out: Path, summary: dict, store: dict, plots: bool) -> None:
    from colliderlab.explain.efn import efn_filters, filter_usage

    filters, axis = efn_filters(run.model)
    usage = filter_usage(run.model, arrays["coords"], arrays["p4"], arrays["mask"], labels, len(run.class_names))
    order = np.argsort(-np.abs(usage[-1] - usage[0]))  # the filters that separate the classes most
    summary["efn"] = {"n_filters": int(len(filters)), "most_separating": order[:8].tolist()}
    store.update(efn_filters=filters, efn_grid=axis, efn_usage=usage)
    if plots:
        figures.efn_figure(filters, axis, order, out / "efn_filters.png")
