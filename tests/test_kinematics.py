"""Invariants of the array kinematics."""

from __future__ import annotations

import numpy as np

from colliderlab import kinematics as kin


def _random_p4(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    return kin.from_ptetaphim(rng.uniform(1, 500, n), rng.uniform(-4, 4, n), rng.uniform(-np.pi, np.pi, n), rng.uniform(0, 50, n))


def test_delta_phi_in_range():
    a = np.linspace(-20, 20, 10001)
    d = kin.delta_phi(a, -a)
    assert d.min() >= -np.pi and d.max() < np.pi
    np.testing.assert_allclose(np.cos(d), np.cos(2 * a), atol=1e-9)


def test_mass_invariant_under_boosts_and_rapidity_shifts():
    p = _random_p4()
    for beta in (-0.9, 0.3, 0.99):
        q = kin.boost_z(p, beta)
        # E^2 - p^2 cancels: allow float64 rounding relative to the boosted energy
        np.testing.assert_allclose(kin.mass(q), kin.mass(p), rtol=1e-6, atol=1e-4)
        dy = kin.rapidity(q) - kin.rapidity(p)
        np.testing.assert_allclose(dy, -np.arctanh(beta), atol=1e-6)  # rapidity differences are boost invariant


def test_round_trips_and_massless_rapidity_equals_eta():
    rng = np.random.default_rng(1)
    pt, y, phi = rng.uniform(1, 100, 100), rng.uniform(-3, 3, 100), rng.uniform(-np.pi, np.pi, 100)
    p = kin.from_ptyphim(pt, y, phi, 0.0)
    np.testing.assert_allclose(kin.pt(p), pt)
    np.testing.assert_allclose(kin.rapidity(p), y, atol=1e-9)
    np.testing.assert_allclose(kin.eta(p), y, atol=1e-9)
    np.testing.assert_allclose(kin.phi(p), phi, atol=1e-12)


def test_sum_p4_ignores_padding():
    p = _random_p4(12).reshape(3, 4, 4)
    mask = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1]], bool)
    s = kin.sum_p4(p, mask)
    np.testing.assert_allclose(s[1], p[1, 0])
    np.testing.assert_allclose(s[0], p[0, 0] + p[0, 1])
