"""Trigger-rate view: the score threshold that keeps a given background rate, and the signal
efficiency there.

A Level-1 trigger sees a bunch crossing every 25 ns (40 MHz) and may pass on only about 100 kHz
(arXiv:1804.06913). Treating each crossing as one background candidate scored by the tagger, a
rate budget R is a background acceptance ``R / 40 MHz`` (0.25% for 100 kHz); the threshold is the
score quantile that passes that fraction of background jets, and the signal efficiency is the
fraction of signal jets above it. The same view for the float model and its fixed-point
emulation shows what the firmware costs at the operating point that matters.

    view = rate_view(scores, is_signal, rate_hz=100e3)      # threshold, signal efficiency, ...
    table = compare_rates({"float": s_float, "ap_fixed<16,6>": s_fixed}, is_signal)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from colliderlab.metrics import efficiency_error, threshold_keeping

__all__ = ["LHC_CROSSING_RATE_HZ", "rate_view", "compare_rates"]

LHC_CROSSING_RATE_HZ = 40.0e6


def rate_view(
    scores: np.ndarray,
    is_signal: np.ndarray,
    rate_hz: float = 100.0e3,
    crossing_rate_hz: float = LHC_CROSSING_RATE_HZ,
) -> dict[str, Any]:
    """Threshold and signal efficiency at a background rate.

    Args:
        scores: (N,) tagger scores (higher = more signal-like).
        is_signal: (N,) bool.
        rate_hz: the background rate the trigger may pass.
    Returns:
        ``threshold``, ``background_acceptance`` (achieved), ``signal_efficiency`` and its binomial
        uncertainty, ``n_background_passing`` (when below 10 the operating point is statistics
        limited: ``reliable`` is False), ``target_acceptance``.
    """
    s = np.asarray(scores, np.float64).reshape(-1)
    y = np.asarray(is_signal, bool).reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f"scores has shape {s.shape} but is_signal has {y.shape}")
    bad = np.flatnonzero(~np.isfinite(s))
    if len(bad):
        raise ValueError(f"{len(bad)} scores are not finite (first: index {bad[0]})")
    if not y.any() or y.all():
        raise ValueError("rate_view needs both signal and background jets")
    if not 0 < rate_hz <= crossing_rate_hz:
        raise ValueError(f"rate_hz must be in (0, {crossing_rate_hz:g}], got {rate_hz:g}")
    target = rate_hz / crossing_rate_hz
    bkg = np.sort(s[~y])[::-1]  # descending
    k = int(np.floor(target * len(bkg)))  # background jets allowed to pass
    # pass ``score > threshold``; the (k+1)-th highest background score is the threshold
    threshold = threshold_keeping(bkg, k)
    n_pass_bkg = int((bkg > threshold).sum())
    eff = float((s[y] > threshold).mean())
    n_sig = int(y.sum())
    return {
        "rate_hz": float(rate_hz),
        "target_acceptance": target,
        "threshold": threshold,
        "background_acceptance": n_pass_bkg / len(bkg),
        "n_background_passing": n_pass_bkg,
        "n_background": int(len(bkg)),
        "signal_efficiency": eff,
        "signal_efficiency_error": efficiency_error(eff, n_sig),
        "reliable": n_pass_bkg >= 10,
    }


def compare_rates(
    scores: Mapping[str, np.ndarray],
    is_signal: np.ndarray,
    rates_hz: Sequence[float] = (100.0e3, 1.0e6),
) -> list[dict[str, Any]]:
    """:func:`rate_view` for several score sets (e.g. float and fixed point) at several rates."""
    rows = []
    for rate in rates_hz:
        for name, s in scores.items():
            rows.append({"scores": name, **rate_view(s, is_signal, rate)})
    return rows
