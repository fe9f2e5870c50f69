"""Working points: chosen on validation only, the best Z on validation, inputs checked."""

from __future__ import annotations

import numpy as np
import pytest

from colliderlab.stats.closed_form import asimov_significance
from colliderlab.stats.working_points import choose_working_point, scan_cuts


def _split(seed: int, n: int = 4000):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.5
    score = np.where(y, rng.beta(5, 2, n), rng.beta(2, 5, n))
    return score, y


def test_scan_counts_and_significance_by_hand():
    scores = np.array([0.1, 0.4, 0.4, 0.8, 0.9])
    sig = np.array([False, False, True, True, True])
    t = scan_cuts(scores, sig, n_signal=30.0, n_background=200.0, cuts=[0.4])
    assert t["eff_s"][0] == 1.0 and t["eff_b"][0] == 0.5 and t["n_mc_background"][0] == 1
    assert t["s"][0] == 30.0 and t["b"][0] == 100.0
    assert t["z_asimov"][0] == pytest.approx(asimov_significance(30.0, 100.0))
    assert t["s_over_sqrt_s_plus_b"][0] == pytest.approx(30.0 / np.sqrt(130.0))


def test_working_point_is_chosen_on_validation_only():
    vs, vy = _split(1)
    ts, ty = _split(2)
    wp = choose_working_point(vs, vy, ts, ty, n_signal=50.0, n_background=5000.0)
    # brute force on validation: no other cut with enough background jets does better
    table = scan_cuts(vs, vy, n_signal=50.0, n_background=5000.0)
    ok = table["n_mc_background"] >= 10
    assert wp.validation["z_asimov"] == pytest.approx(table["z_asimov"][ok].max())
    # other test jets: the same cut, other test figures
    ts2, ty2 = _split(3)
    wp2 = choose_working_point(vs, vy, ts2, ty2, n_signal=50.0, n_background=5000.0)
    assert wp2.cut == wp.cut and wp2.validation == wp.validation and wp2.test != wp.test
    assert 0 < wp.test["eff_s"] < 1 and wp.to_dict()["chosen_on"] == "validation"


def test_bad_inputs_are_named():
    s, y = _split(4, 50)
    with pytest.raises(ValueError, match="validation: 1 non-finite scores, first at rows \\[3\\]"):
        bad = s.copy()
        bad[3] = np.nan
        choose_working_point(bad, y, s, y, n_signal=1.0, n_background=1.0)
    with pytest.raises(ValueError, match="test: needs both signal and background"):
        choose_working_point(s, y, s, np.ones(50, bool), n_signal=1.0, n_background=1.0)
    with pytest.raises(ValueError, match="no cut keeps 1000 validation background jets"):
        choose_working_point(s, y, s, y, n_signal=1.0, n_background=1.0, min_mc_background=1000)


@pytest.mark.parametrize("s,b,sigma", [(10.0, 100.0, 10.0), (30.0, 50.0, 5.0), (5.0, 20.0, 8.0)])
def test_significance_with_background_uncertainty_matches_pyhf(s, b, sigma):
    """Cowan's Z_A with sigma_b is the profile-likelihood significance of a Poisson-constrained
    background (pyhf's shapesys): pyhf on the Asimov data agrees."""
    pytest.importorskip("pyhf")
    from colliderlab.stats.closed_form import asimov_significance_uncertain
    from colliderlab.stats.fit import discovery_significance
    from colliderlab.stats.workspace import Template, build_workspace

    spec = build_workspace(Template("signal", [s]), [Template("bkg", [b])])
    spec["channels"][0]["samples"][1]["modifiers"] = [{"name": "mcstat", "type": "shapesys", "data": [sigma]}]
    z = float(asimov_significance_uncertain(s, b, sigma))
    assert z == pytest.approx(discovery_significance(spec), rel=0.01)
    assert z < asimov_significance(s, b)
    assert float(asimov_significance_uncertain(s, b, 0.0)) == pytest.approx(asimov_significance(s, b))


def test_the_mc_statistics_objective_keeps_more_background():
    """Z_A with the background's MC error is maximised at a looser cut than Z_A alone."""
    vs, vy = _split(1)
    ts, ty = _split(2)
    plain = choose_working_point(vs, vy, ts, ty, n_signal=50.0, n_background=5000.0)
    mc = choose_working_point(vs, vy, ts, ty, n_signal=50.0, n_background=5000.0, objective="z_asimov_mc")
    assert mc.cut <= plain.cut and mc.validation["n_mc_background"] >= plain.validation["n_mc_background"]
    with pytest.raises(ValueError, match="valid: z_asimov, z_asimov_mc"):
        choose_working_point(vs, vy, ts, ty, n_signal=50.0, n_background=5000.0, objective="zz")
