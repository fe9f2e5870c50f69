"""The trigger-rate view: thresholds at a fixed background rate."""

from __future__ import annotations

import numpy as np
import pytest

from colliderlab.export.trigger import compare_rates, rate_view


def test_threshold_keeps_the_rate_and_gives_the_signal_efficiency():
    rng = np.random.default_rng(0)
    n = 400_000
    s = np.r_[rng.random(n), 0.5 + rng.random(n)]  # background U[0,1], signal U[0.5,1.5]
    y = np.r_[np.zeros(n, bool), np.ones(n, bool)]
    v = rate_view(s, y, rate_hz=100e3)  # 100 kHz of 40 MHz: 0.25% of the background
    assert v["target_acceptance"] == pytest.approx(0.0025)
    assert v["background_acceptance"] == pytest.approx(0.0025, rel=1e-3)
    assert v["threshold"] == pytest.approx(0.9975, abs=3e-4)
    assert v["signal_efficiency"] == pytest.approx(0.5025, abs=3e-3) and v["reliable"]
    # a looser budget never lowers the efficiency
    rows = compare_rates({"a": s, "b": np.round(s, 1)}, y, rates_hz=(10e3, 100e3, 1e6))
    eff_a = [r["signal_efficiency"] for r in rows if r["scores"] == "a"]
    assert eff_a == sorted(eff_a)
    # coarse (rounded) scores tie at the threshold: the rate is kept, never exceeded
    coarse = [r for r in rows if r["scores"] == "b"]
    assert all(r["background_acceptance"] <= r["target_acceptance"] for r in coarse)


def test_too_few_background_jets_is_flagged_and_bad_input_named():
    y = np.r_[np.zeros(300, bool), np.ones(300, bool)]
    s = np.r_[np.linspace(0, 1, 300), np.linspace(0.5, 1.5, 300)]
    assert not rate_view(s, y, 100e3)["reliable"]  # 0.25% of 300 is under one jet
    with pytest.raises(ValueError, match="not finite.*index 2"):
        rate_view(np.array([0.1, 0.2, np.nan, 0.3]), np.array([0, 1, 0, 1], bool))
    with pytest.raises(ValueError, match="both signal and background"):
        rate_view(np.ones(3), np.ones(3, bool))
