"""Reliability, ECE with bootstrap errors, and temperature scaling (arXiv:1706.04599)."""

from __future__ import annotations

import numpy as np
import pytest

from colliderlab.calibration import (
    apply_temperature,
    bootstrap_ece,
    expected_calibration_error,
    fit_temperature,
    load_calibration,
    nll,
    reliability,
    save_calibration,
)


def test_ece_is_zero_for_perfectly_calibrated_constructed_scores():
    # every bin's predicted probability equals its observed frequency exactly
    probs, labels = [], []
    for p in np.arange(0.05, 1.0, 0.1):  # one value per bin of 10
        n_pos = int(round(p * 200))
        probs += [p] * 200
        labels += [1] * n_pos + [0] * (200 - n_pos)
    probs, labels = np.array(probs), np.array(labels)
    assert expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(0.0, abs=1e-12)
    # a score that is always 0.9 on a 50/50 sample is off by 0.4
    assert expected_calibration_error(np.full(100, 0.9), np.arange(100) % 2) == pytest.approx(0.4)
    # top-label form: (N, C) probabilities, confidence vs accuracy
    two = np.stack([1 - probs, probs], 1)
    rel = reliability(two, labels, n_bins=10)
    assert rel.counts.sum() == len(labels) and np.nanmax(rel.predicted) <= 1


def test_sampled_labels_are_calibrated_within_the_bootstrap_error():
    rng = np.random.default_rng(1)
    p = rng.random(20000)
    y = (rng.random(20000) < p).astype(int)
    b = bootstrap_ece(p, y, n_boot=50)
    assert b["ece"] < 0.02 and 0 < b["std"] < 0.01
    skewed = bootstrap_ece(p**2, y, n_boot=50)  # overconfident towards background
    assert skewed["ece"] > b["ece"] + 5 * skewed["std"]


def test_temperature_scaling_recovers_the_temperature_and_keeps_the_ranking(tmp_path):
    rng = np.random.default_rng(2)
    true_logits = rng.normal(0, 2, (30000, 2))
    y = np.array([rng.random() < q for q in apply_temperature(true_logits, 1.0)[:, 1]], dtype=int)
    over = 3.0 * true_logits  # an overconfident network: logits three times too large
    t = fit_temperature(over, y)
    assert t == pytest.approx(3.0, rel=0.05)
    assert nll(over, y, t) < nll(over, y, 1.0)
    cal = apply_temperature(over, t)
    assert expected_calibration_error(cal[:, 1], y) < 0.01 < expected_calibration_error(apply_temperature(over, 1)[:, 1], y)
    assert (np.argsort(cal[:, 1]) == np.argsort(apply_temperature(over, 1.0)[:, 1])).all()
    save_calibration(tmp_path, t, fitted_on="validation")
    assert load_calibration(tmp_path) == pytest.approx(t) and load_calibration(tmp_path / "none") is None
    with pytest.raises(ValueError, match="positive and finite"):
        save_calibration(tmp_path, -1.0)


def test_bad_inputs_are_located():
    with pytest.raises(ValueError, match="not finite at 1 jet.*index 2"):
        expected_calibration_error(np.array([0.1, 0.2, np.nan]), np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="must be 0 or 1"):
        expected_calibration_error(np.array([0.1, 0.2]), np.array([0, 2]))
    with pytest.raises(ValueError, match="logits are not finite.*index 1"):
        fit_temperature(np.array([[0.0, 1.0], [np.inf, 0.0]]), np.array([0, 1]))
