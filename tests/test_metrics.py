"""ROC, AUC and rejection as taggers are compared."""

from __future__ import annotations

import numpy as np
import pytest

from colliderlab import metrics


def test_perfect_score_roc_is_a_step():
    y = np.r_[np.zeros(100), np.ones(100)]
    s = np.r_[np.linspace(0, 0.4, 100), np.linspace(0.6, 1, 100)]
    es, eb, _ = metrics.roc_curve(s, y)
    assert metrics.auc(s, y) == pytest.approx(1.0)
    # every signal efficiency up to 1 is reached with zero background
    assert np.all(eb[es < 1.0] == 0.0)
    assert metrics.rejection_at(s, y, 0.3) == np.inf


def test_random_score_auc_near_half_and_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 5000)
    s = rng.normal(size=5000) + 0.5 * y
    s = np.round(s, 1)  # ties
    assert metrics.auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    r = rng.random(5000)
    assert abs(metrics.auc(r, y) - 0.5) < 0.03


def test_rejection_at_fixed_efficiency():
    # background uniform on [0, 1], signal uniform on [0.5, 1.5]: at eps_S = 0.3 the cut is 1.2 -> eps_B = 0
    # at eps_S = 0.8 the cut is 0.7 -> eps_B = 0.3
    n = 200_000
    rng = np.random.default_rng(2)
    s = np.r_[rng.random(n), 0.5 + rng.random(n)]
    y = np.r_[np.zeros(n), np.ones(n)]
    assert metrics.background_efficiency_at(s, y, 0.8) == pytest.approx(0.3, abs=0.01)
    assert metrics.rejection_at(s, y, 0.8) == pytest.approx(1 / 0.3, rel=0.03)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="shape"):
        metrics.auc(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="non-finite.*index 1"):
        metrics.auc(np.array([0.1, np.nan, 0.3]), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="both signal"):
        metrics.auc(np.zeros(3), np.ones(3))


def test_sic_respects_minimum_background():
    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(1000), np.ones(1000)]
    s = np.r_[rng.normal(size=1000), rng.normal(2, 1, 1000)]
    es, sic = metrics.sic_curve(s, y, min_background=25)
    es_all, eb_all, _ = metrics.roc_curve(s, y)
    kept = np.isin(es_all, es) & (eb_all * 1000 >= 25)
    np.testing.assert_allclose(sic, es_all[kept] / np.sqrt(eb_all[kept]))
    assert eb_all[kept].min() * 1000 >= 25  # never where fewer than 25 background events pass
    assert sic.max() > 1.0
