"""Temperature scaling of a run (Guo et al., arXiv:1706.04599): fitted on the validation split after
training, stored in ``RUN/calibration.json`` and applied by every later scoring of the run
(:func:`colliderlab.train.runs.load_run`). See :mod:`colliderlab.calibration`."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["calibrate_run", "calibrate_on_file", "ece_summary"]


def _for_ece(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Binary: the signal probability against the label; several classes: top-label (C given)."""
    return (probs[:, 1], labels) if probs.shape[1] == 2 else (probs, labels)


def ece_summary(probs: np.ndarray, labels: np.ndarray, *, n_boot: int = 200, seed: int = 0) -> dict[str, float]:
    """ECE of (N, C) probabilities with its bootstrap standard deviation."""
    from colliderlab.calibration import bootstrap_ece

    b = bootstrap_ece(*_for_ece(np.asarray(probs), np.asarray(labels)), n_boot=n_boot, seed=seed)
    return {"ece": b["ece"], "ece_std": b["std"]}


def calibrate_run(run_dir: str | os.PathLike, val_logits: np.ndarray, val: Any, test_logits: np.ndarray,
                  test_labels: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
    """Fit the temperature on the validation logits (N, C) and labels, write ``calibration.json``;
    returns its content (with the test ECE before and after, bootstrap errors) and the calibrated
    test probabilities (N, C)."""
    from colliderlab.calibration import apply_temperature, fit_temperature, nll, save_calibration

    labels = np.asarray(val.labels)
    t = fit_temperature(val_logits, labels, weights=val.weights)
    before, after = apply_temperature(test_logits, 1.0), apply_temperature(test_logits, t)
    info = {
        "fitted_on": "validation",
        "n_jets": int(len(labels)),
        "val_nll_before": nll(val_logits, labels, 1.0, val.weights),
        "val_nll_after": nll(val_logits, labels, t, val.weights),
        "test_ece_before": ece_summary(before, test_labels),
        "test_ece_after": ece_summary(after, test_labels),
    }
    save_calibration(run_dir, t, **info)
    return {"temperature": t, **info}, after


def calibrate_on_file(run_dir: str | os.PathLike, data: str | os.PathLike, *,
                      plot: str | os.PathLike | None = None) -> dict[str, Any]:
    """Fit a run's temperature on a labelled jet file it was not trained on (e.g. a run trained
    without ``calibration: temperature``, or a new validation sample) and store it in the run
    (replacing an earlier one). Returns the temperature and the file's ECE (bootstrap errors) and
    NLL before and after; ``plot`` writes the reliability diagrams."""
    from colliderlab.calibration import (
        apply_temperature,
        fit_temperature,
        nll,
        reliability,
        save_calibration,
    )
    from colliderlab.train.runs import load_run

    run = load_run(run_dir)
    if run.is_baseline or run.target:
        raise ValueError(f"{run_dir} is not a torch classifier: temperature scaling needs its logits")
    if not run.class_names:
        raise ValueError(f"{run_dir} has no classes")
    run.temperature = 1.0
    probs, labels = run.predict_proba(data)
    if labels is None:
        raise ValueError(f"{data} has no labels: calibration needs labelled jets")
    logits = np.log(np.clip(probs, 1e-300, None))  # log-probabilities are logits up to a per-jet constant
    t = fit_temperature(logits, labels)
    after = apply_temperature(logits, t)
    info = {"fitted_on": str(data), "n_jets": int(len(labels)), "nll_before": nll(logits, labels),
            "nll_after": nll(logits, labels, t), "ece_before": ece_summary(probs, labels),
            "ece_after": ece_summary(after, labels)}
    save_calibration(run_dir, t, **info)
    if plot:
        from colliderlab.plots import plot_reliability

        plot_reliability({"before": reliability(*_for_ece(probs, labels)),
                          f"T = {t:.3g}": reliability(*_for_ece(after, labels))}, plot)
    return {"temperature": t, **info}
