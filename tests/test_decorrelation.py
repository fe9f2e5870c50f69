"""Distance correlation (the DisCo term, arXiv:2001.05310) and the sculpting figures of merit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from colliderlab import kinematics as kin
from colliderlab.metrics import rejection_at
from colliderlab.nn.disco import distance_correlation
from colliderlab.sculpting import MASS_BINS, decorrelation_metrics, jsd, random_cut_floor


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)


def test_distance_correlation_is_near_zero_for_independent_and_grows_with_dependence():
    rng = np.random.default_rng(0)
    x = rng.normal(size=1000)
    assert distance_correlation(_t(x), _t(rng.normal(size=1000))).item() < 0.01
    assert distance_correlation(_t(x), _t(3 * x + 1)).item() == pytest.approx(1.0, abs=1e-9)
    values = [distance_correlation(_t(x), _t(x + s * rng.normal(size=1000))).item() for s in (4.0, 1.0, 0.25)]
    assert values[0] < values[1] < values[2] < 1.0
    # dependence without correlation: Pearson ~ 0, distance correlation clearly not
    u = rng.uniform(-1, 1, 1000)
    assert abs(np.corrcoef(u, u**2)[0, 1]) < 0.1 and distance_correlation(_t(u), _t(u**2)).item() > 0.1


def test_weights_act_as_repeated_samples_and_gradients_flow():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=50), rng.normal(size=50) + 0.5 * rng.normal(size=50)
    y = y + 0.8 * x
    w = np.ones(50)
    w[:10] = 2.0
    repeated = distance_correlation(_t(np.r_[x, x[:10]]), _t(np.r_[y, y[:10]]))
    assert distance_correlation(_t(x), _t(y), _t(w)).item() == pytest.approx(repeated.item(), rel=1e-9)
    xt = _t(x).requires_grad_(True)
    distance_correlation(xt, _t(y)).backward()
    assert torch.isfinite(xt.grad).all() and xt.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="shape"):
        distance_correlation(_t(x), _t(y[:10]))


def test_jsd():
    h = np.array([1.0, 4.0, 2.0, 0.0])
    assert jsd(h, 3 * h) == pytest.approx(0.0, abs=1e-12)
    assert jsd([1, 0], [0, 1]) == pytest.approx(1.0)
    assert jsd([1, 2, 3], [3, 2, 1]) == pytest.approx(jsd([3, 2, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="same shape"):
        jsd([1, 2], [1, 2, 3])


def test_a_mass_cut_sculpts_and_a_random_score_does_not(toptag_jets):
    b = toptag_jets
    mass, y = kin.mass(b.jet_p4), b.label == 1
    sculpting = decorrelation_metrics(mass, y, mass)
    assert sculpting["bins"] == MASS_BINS.tolist()
    assert sculpting["rejection"] == pytest.approx(rejection_at(mass, y.astype(int), 0.5))
    rng = np.random.default_rng(3)
    blind = decorrelation_metrics(rng.random(len(b)), y, mass)
    floor = random_cut_floor(mass[~y], blind["eff_b"], repeats=10)
    assert sculpting["inv_jsd"] < 3.0 < blind["inv_jsd"]  # a cut on the mass itself sculpts it
    assert floor["inv_jsd_mean"] > 3.0 and floor["repeats"] == 10


def test_ddt_is_fitted_on_background_only_and_flattens_its_tau21(toptag_jets):
    from scipy.stats import spearmanr

    from colliderlab.features.ddt import DDT, rho_prime
    from colliderlab.features.observables import compute_observables

    b = toptag_jets
    tau21 = compute_observables(b, names=("tau21",))["tau21"]
    mass, pt, sig = kin.mass(b.jet_p4), kin.pt(b.jet_p4), b.label == 1
    ddt = DDT.fit(tau21, mass, pt, sig)
    # the signal jets do not enter: scrambling their tau21 changes nothing
    scrambled = tau21.copy()
    scrambled[sig] = np.random.default_rng(0).permutation(tau21[sig])[::-1] * 0.5
    assert DDT.fit(scrambled, mass, pt, sig) == ddt
    # on the background in the fit range, tau21' no longer follows rho'
    r = rho_prime(mass, pt)
    sel = ~sig & (r >= 1.5) & (r < 4.5)
    before = abs(spearmanr(tau21[sel], r[sel]).statistic)
    after = abs(spearmanr(ddt.transform(tau21, mass, pt)[sel], r[sel]).statistic)
    assert before > 0.2 and after < 0.5 * before, (before, after)
    again = DDT.from_dict(ddt.to_dict())
    np.testing.assert_array_equal(again.transform(tau21, mass, pt), ddt.transform(tau21, mass, pt))
    with pytest.raises(ValueError, match="at least two rho' bins"):
        DDT.fit(tau21, mass, pt, sig, fit_range=(9.0, 10.0))


def test_sculpting_curves_show_a_mass_cut_moving_the_background(toptag_jets, tmp_path):
    from colliderlab.plots import plot_mass_sculpting
    from colliderlab.sculpting import sculpting_curves

    b = toptag_jets
    mass = kin.mass(b.jet_p4)[b.label == 0]
    centres = 0.5 * (MASS_BINS[1:] + MASS_BINS[:-1])
    mean = lambda h: float((h * centres).sum())  # noqa: E731
    by_mass = sculpting_curves(mass, mass, (1.0, 0.5, 0.1))
    assert all(h.sum() == pytest.approx(1.0) for h in by_mass.values())
    assert mean(by_mass[1.0]) < mean(by_mass[0.5]) < mean(by_mass[0.1])  # cutting on the mass sculpts it
    blind = sculpting_curves(mass, np.random.default_rng(0).random(len(mass)), (1.0, 0.5))
    assert abs(mean(blind[0.5]) - mean(blind[1.0])) < 0.5 * (mean(by_mass[0.5]) - mean(by_mass[1.0]))
    assert plot_mass_sculpting(by_mass, MASS_BINS, tmp_path / "sculpting.png").stat().st_size > 1000
