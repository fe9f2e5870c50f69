"""Temperature scaling of a run (Guo et al., arXiv:1706.04599): fitted on the validation split after
training, stored in ``RUN/calibration.json`` and applied by every later scoring of the run
(:func:`colliderlab.train.runs.load_run`). See :mod:`colliderlab.calibration`."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["calibrate_run", "ece_summary"]


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
