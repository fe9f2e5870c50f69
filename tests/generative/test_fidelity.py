"""The fidelity metrics' arithmetic: observables on hand-built showers, W1, separation power, FPD, KPD.

(The physics checks, two independent simulated samples against each other and a distorted one,
live with the shower simulator's tests.)
"""

from __future__ import annotations

import numpy as np
import pytest

from colliderlab.generative.fidelity import (
    MIN_ENERGY,
    CaloLayout,
    LayerLayout,
    compare_observables,
    fpd,
    kpd,
    separation_power,
    shower_observables,
    wasserstein1,
    zero_suppress,
)

LAYOUT = CaloLayout((
    LayerLayout("l0", (2, 3), rows=(-5.0, 5.0), cols=(-10.0, 0.0, 10.0), z=10.0),
    LayerLayout("l1", (1, 2), rows=(0.0,), cols=(-20.0, 20.0), z=40.0),
), name="toy")


def test_observables_of_hand_built_showers():
    s = np.zeros((3, 8))
    s[0, 5] = 2.0  # layer 0, row 1 (y = 5), column 2 (x = 10)
    s[0, 6] = 2.0  # layer 1, x = -20
    s[1, [0, 2]] = 1.0  # layer 0, row 0: x = -10 and +10
    out = shower_observables(s, np.array([8.0, 4.0, 1.0]), LAYOUT)
    assert out["e_l0"].tolist() == [2.0, 2.0, 0.0] and out["e_l1"].tolist() == [2.0, 0.0, 0.0]
    assert out["cx_l0"][0] == 10.0 and out["cy_l0"][0] == 5.0 and out["wx_l0"][0] == 0.0
    assert out["cx_l0"][1] == 0.0 and out["wx_l0"][1] == pytest.approx(10.0) and out["cy_l0"][1] == -5.0
    assert out["e_ratio"].tolist() == [0.5, 0.5, 0.0]
    assert out["depth_centroid"][0] == pytest.approx(25.0) and out["depth_width"][0] == pytest.approx(15.0)
    assert out["sparsity_l0"].tolist() == pytest.approx([1 / 6, 2 / 6, 0.0])
    assert all(np.isfinite(v).all() for v in out.values())  # the empty shower gives zeros, not NaN
    with pytest.raises(ValueError, match=r"shape \(N, 8\)"):
        shower_observables(np.zeros((3, 7)), np.ones(3), LAYOUT)
    s[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"non-finite.*\(2, 3\)"):
        shower_observables(s, np.ones(3), LAYOUT)


def test_distances_vanish_for_identical_samples_and_grow_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.gamma(3.0, 2.0, 20000)
    assert wasserstein1(a, a) == 0.0 and separation_power(a, a) == 0.0
    assert wasserstein1(a, a + 1.0) == pytest.approx(1.0)
    assert separation_power(a, a + 100.0) > 0.99  # disjoint (the 0.1% tail shares the end bin)
    b = rng.gamma(3.0, 2.0, 20000)
    assert separation_power(a, b) < 0.002 < separation_power(a, 1.1 * b)
    rows = compare_observables({"e": a, "f": a}, {"e": b})
    assert set(rows) == {"e"} and rows["e"]["w1"] < 0.2


def test_fpd_and_kpd_are_near_zero_for_the_same_distribution():
    rng = np.random.default_rng(1)
    cov = np.array([[1.0, 0.6, 0.0], [0.6, 1.0, 0.3], [0.0, 0.3, 1.0]])
    x = rng.multivariate_normal(np.zeros(3), cov, 30000)
    y = rng.multivariate_normal(np.zeros(3), cov, 30000)
    z = rng.multivariate_normal([0.3, 0.0, 0.0], cov, 30000)
    same, _ = fpd(x, y, min_samples=3000, max_samples=20000)
    shifted, _ = fpd(x, z, min_samples=3000, max_samples=20000)
    assert abs(same) < 0.03 and shifted == pytest.approx(0.09, rel=0.3)  # (0.3 / std)^2
    k_same, spread = kpd(x, y, num_batches=5, batch_size=2000)
    k_shift, _ = kpd(x, z, num_batches=5, batch_size=2000)
    assert abs(k_same) < 2 * spread + 1e-3 and k_shift > 10 * abs(k_same) and k_shift > 0.1


def test_zero_suppression_removes_dust_before_the_sparsity_is_counted():
    """Cells at or below the readout threshold are not hits: sub-threshold dust (1e-12 GeV) added
    to a shower changes its raw sparsity but not the zero-suppressed one, and energy above the
    threshold is untouched."""
    rng = np.random.default_rng(0)
    clean = np.where(rng.random((50, 8)) < 0.4, rng.uniform(0.01, 1.0, (50, 8)), 0.0)
    dusty = clean + np.where(clean == 0, 1e-12, 0.0)
    e = np.full(50, 10.0)
    raw = shower_observables(dusty, e, LAYOUT)["sparsity_l0"]
    assert (raw > shower_observables(clean, e, LAYOUT)["sparsity_l0"]).all()
    sup = shower_observables(zero_suppress(dusty), e, LAYOUT)
    np.testing.assert_array_equal(sup["sparsity_l0"], shower_observables(clean, e, LAYOUT)["sparsity_l0"])
    np.testing.assert_array_equal(zero_suppress(dusty), clean)
    assert zero_suppress(np.array([[MIN_ENERGY, 2 * MIN_ENERGY]])).tolist() == [[0.0, 2 * MIN_ENERGY]]
