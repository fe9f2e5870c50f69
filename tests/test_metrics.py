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


def test_ensemble_keeps_infinite_rejection_in_order_statistics():
    """Two of three trainings left no background at eps_S = 0.3: the median is inf, not the one
    finite value (dropping infinities would bias the ensemble median low)."""
    runs = [{"r": np.inf}, {"r": 500.0}, {"r": np.inf}]
    ens = metrics.ensemble_summary(runs)["r"]
    assert ens["median"] == np.inf and ens["min"] == 500.0 and ens["mean"] == 500.0
    ens = metrics.ensemble_summary([{"r": 100.0}, {"r": 300.0}, {"r": np.inf}])["r"]
    assert ens["median"] == 300.0 and ens["std"] == pytest.approx(np.std([100, 300], ddof=1))


def test_regression_metrics_response_and_resolution():
    rng = np.random.default_rng(4)
    true = rng.uniform(200, 800, 100_000)
    pred = 1.05 * true * (1 + 0.1 * rng.normal(size=true.size))  # 5% high, 10% resolution
    m = metrics.regression_metrics(pred, true)
    assert m["response_median"] == pytest.approx(1.05, abs=0.003)
    assert m["resolution"] == pytest.approx(0.10, abs=0.003)
    assert m["bias"] == pytest.approx(0.05 * true.mean(), rel=0.05)
    binned = metrics.response_in_bins(pred, true, np.linspace(200, 800, 7))
    np.testing.assert_allclose(binned["response"], 1.05, atol=0.01)
    assert metrics.regression_metrics(np.full(10, 3.0), np.arange(10.0))["r2"] < 0.0 + 1e-9
    with pytest.raises(ValueError, match="not finite.*index 2"):
        metrics.regression_metrics(np.array([1.0, 2.0, np.nan]), np.ones(3))


def test_threshold_keeping_and_efficiency_error():
    desc = np.array([5.0, 4.0, 4.0, 1.0])
    assert metrics.threshold_keeping(desc, 1) == 4.0  # keeps 5 only
    assert (desc > metrics.threshold_keeping(desc, 0)).sum() == 0
    assert metrics.threshold_keeping(desc, 4) == 0.0  # keeps all: one below the lowest
    assert metrics.efficiency_error(0.5, 100) == pytest.approx(0.05)
    assert metrics.efficiency_error(0.0, 100) == pytest.approx(0.01)  # floored at 1/n


def test_bootstrap_quantiles_of_infinite_rejections_without_warnings():
    """Quantiles over rejections where some resamples leave no background: +inf where the
    interpolation reaches an infinite value, the sample itself where the quantile falls on one,
    and no NaN or RuntimeWarning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = metrics.ensemble_summary([{"r": np.inf}, {"r": np.inf}, {"r": 3.0}])["r"]
        assert s["median"] == np.inf and s["max"] == np.inf and s["min"] == 3.0
        q = metrics._summarise([{"r": v} for v in (100.0, 300.0, np.inf)], ("median", "q16", "q84"))["r"]
        assert q["median"] == 300.0 and q["q16"] == pytest.approx(164.0) and q["q84"] == np.inf
        assert metrics._summarise([{"r": np.inf}, {"r": np.inf}], ("q16",))["r"]["q16"] == np.inf
