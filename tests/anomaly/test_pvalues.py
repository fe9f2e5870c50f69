"""One-sided p-values from a Standard-Model score distribution, thresholds at a Standard-Model
acceptance (never below 10 / N), signal efficiencies (arXiv:1811.10276).

The physics check uses real Pythia jets with the jet mass as the score: QCD jets held out from a
(five times larger) QCD reference get uniform p-values (Kolmogorov-Smirnov), top jets, whose
mass peaks near 173 GeV, do not.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from colliderlab.anomaly.pvalues import (
    min_acceptance,
    pvalues,
    reachable_acceptances,
    signal_efficiencies,
    threshold_at_acceptance,
)


def test_pvalues_count_reference_scores_at_or_above():
    ref = np.array([1.0, 2.0, 2.0, 3.0, 5.0])  # N = 5
    p = pvalues(ref, np.array([0.0, 1.0, 2.0, 2.5, 5.0, 9.0]))
    # k = #{ref >= s}: 5, 5, 4, 2, 1, 0 -> (k + 1) / 6
    np.testing.assert_allclose(p, np.array([6, 6, 5, 3, 2, 1]) / 6.0)
    assert pvalues(ref[::-1], np.array([2.0]))[0] == pytest.approx(5 / 6)  # order of the reference is irrelevant
    assert pvalues(ref, np.zeros((0,))).shape == (0,)
    with pytest.raises(ValueError, match="non-finite"):
        pvalues(ref, np.array([np.nan]))
    with pytest.raises(ValueError, match="at least one reference"):
        pvalues(np.zeros(0), np.ones(3))


def test_pvalues_are_super_uniform_by_construction():
    """For scores exchangeable with the reference, P(p <= alpha) <= alpha (here: close to it)."""
    rng = np.random.default_rng(1)
    ref, held = rng.exponential(size=5000), rng.exponential(size=5000)
    p = pvalues(ref, held)
    for alpha in (0.01, 0.05, 0.2, 0.5):
        assert abs((p <= alpha).mean() - alpha) < 3 * np.sqrt(alpha / 5000) + 2e-4, alpha
    assert p.min() >= 1 / 5001 and p.max() <= 1.0


def test_threshold_at_acceptance_and_the_10_over_n_floor():
    rng = np.random.default_rng(2)
    ref = rng.normal(size=2000)
    for acc in (0.5, 0.1, 0.005):
        t = threshold_at_acceptance(ref, acc)
        assert (ref > t).sum() == int(np.floor(acc * 2000))  # distinct scores: exactly floor(a N) pass
    assert threshold_at_acceptance(ref, 10 / 2000) == np.sort(ref)[-11]  # exactly 10/N is allowed
    with pytest.raises(ValueError, match=r"needs at least 10/N = 0\.005 with N = 2000"):
        threshold_at_acceptance(ref, 1e-3)
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        threshold_at_acceptance(ref, 0.0)
    assert min_acceptance(2000) == 0.005 and min_acceptance(5) == float("inf")
    assert reachable_acceptances(2000, (1e-2, 1e-3, 5e-3)) == ((1e-2, 5e-3), (1e-3,))
    # a selection at acceptance a keeps the events with p-value <= (floor(a N) + 1) / (N + 1) ... and
    # no others: the threshold and the p-values agree
    t = threshold_at_acceptance(ref, 0.05)
    probe = rng.normal(size=500)
    k = int(np.floor(0.05 * 2000))
    np.testing.assert_array_equal(probe > t, pvalues(ref, probe) <= k / 2001)


def test_signal_efficiencies_table():
    rng = np.random.default_rng(3)
    sm = rng.normal(size=10_000)
    rows = signal_efficiencies(sm, {"far": rng.normal(4.0, 1.0, 2000), "same": rng.normal(size=2000)},
                               (1e-2, 1e-3))
    assert [(r["signal"], r["acceptance"]) for r in rows] == [("far", 1e-2), ("far", 1e-3), ("same", 1e-2),
                                                              ("same", 1e-3)]
    by = {(r["signal"], r["acceptance"]): r for r in rows}
    assert by["far", 1e-3]["signal_efficiency"] > 0.3 > by["same", 1e-2]["signal_efficiency"]
    assert abs(by["same", 1e-2]["signal_efficiency"] - 0.01) < 0.008  # the SM's own acceptance
    for r in rows:
        assert r["sm_acceptance"] <= r["acceptance"] and r["n_sm_passing"] >= 10
        assert 0 < r["signal_efficiency_error"] < 0.05
    with pytest.raises(ValueError, match="needs at least 10/N"):
        signal_efficiencies(sm, {"far": np.ones(5)}, (1e-4,))


def test_jet_mass_pvalues_uniform_for_qcd_not_for_top(qcd_jets_600, toptag_observables):
    """Real Pythia jets, score = jet mass: p-values of 100 QCD jets against a reference of 500
    others are uniform; those of top jets are not."""
    reference, held_out = qcd_jets_600[:500, 0], qcd_jets_600[500:, 0]  # column 0: the jet mass
    x, y = toptag_observables
    top = x[y == 1, 0]
    p_qcd, p_top = pvalues(reference, held_out), pvalues(reference, top)
    ks_qcd, ks_top = stats.kstest(p_qcd, "uniform"), stats.kstest(p_top, "uniform")
    assert ks_qcd.pvalue > 0.01, ks_qcd
    assert ks_top.pvalue < 1e-6, ks_top  # the same test can fail: top jets are anomalous in mass
    assert np.median(p_top) < 0.2 < np.median(p_qcd)
