"""One-sided p-values of anomaly scores against a Standard-Model reference, and selections at a
Standard-Model acceptance (arXiv:1811.10276, section 5: "a one-sided threshold test").

An anomaly score is larger for more anomalous events. Given the scores of N Standard-Model
events that played no part in training (the reference), the p-value of an event with score s is

    p(s) = (k(s) + 1) / (N + 1),    k(s) = #{reference scores >= s},

the permutation p-value: for an event drawn from the same distribution as the reference it is
(super-)uniform, P(p <= alpha) <= alpha, with no assumption on the score's shape, and it is never
zero. (A Kolmogorov-Smirnov check of held-out p-values against the uniform distribution is
valid when the reference is much larger than the held-out sample: every p-value shares the
reference's fluctuations, which a one-sample test does not allow for.) A selection at
Standard-Model acceptance ``a`` keeps events with ``score > threshold``,
where the threshold passes at most ``floor(a N)`` reference events. Acceptances below ``10 / N``
are refused: fewer than ten reference events above the threshold make its acceptance (and every
signal efficiency quoted there) a statistical accident.

    p = pvalues(sm_test_scores, signal_scores)                 # (M,)
    t = threshold_at_acceptance(sm_test_scores, 1e-3)           # ValueError if N < 10_000
    rows = signal_efficiencies(sm_test_scores, {"a_4l": s1, "lq_btau": s2}, (1e-2, 1e-3))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from colliderlab.metrics import efficiency_error, threshold_keeping

__all__ = [
    "MIN_PASSING",
    "pvalues",
    "min_acceptance",
    "threshold_at_acceptance",
    "reachable_acceptances",
    "signal_efficiencies",
]

MIN_PASSING = 10
"""Fewest reference (Standard-Model) events a selection must keep: acceptances >= 10 / N."""


def _scores(x: Any, what: str) -> np.ndarray:
    s = np.asarray(x, dtype=np.float64).reshape(-1)
    bad = ~np.isfinite(s)
    if bad.any():
        raise ValueError(f"{what} has {int(bad.sum())} non-finite values (first at index {int(np.argmax(bad))})")
    return s


def pvalues(reference_scores: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """One-sided p-values ``(k + 1) / (N + 1)``, ``k`` = number of reference scores >= each score.

    Args:
        reference_scores: (N,) anomaly scores of held-out Standard-Model events.
        scores: (M,) anomaly scores to test (larger = more anomalous).
    Returns:
        (M,) float64 p-values in [1 / (N + 1), 1].
    """
    ref = np.sort(_scores(reference_scores, "reference_scores"))  # (N,) ascending
    if len(ref) == 0:
        raise ValueError("pvalues needs at least one reference score")
    s = _scores(scores, "scores")
    k = len(ref) - np.searchsorted(ref, s, side="left")  # (M,) reference scores >= s
    return (k + 1.0) / (len(ref) + 1.0)


def min_acceptance(n_reference: int) -> float:
    """The smallest Standard-Model acceptance a reference of ``n_reference`` events supports: 10 / N."""
    if n_reference < MIN_PASSING:
        return float("inf")
    return MIN_PASSING / float(n_reference)


def _check_acceptance(acceptance: float, n: int) -> None:
    if not 0.0 < acceptance <= 1.0:
        raise ValueError(f"acceptance must be in (0, 1], got {acceptance:g}")
    # a relative tolerance so that 10 / N itself is allowed despite rounding
    if acceptance * n < MIN_PASSING * (1.0 - 1e-9):
        raise ValueError(
            f"a Standard-Model acceptance of {acceptance:g} needs at least {MIN_PASSING}/N = "
            f"{min_acceptance(n):.3g} with N = {n} reference events (it would keep "
            f"{acceptance * n:.3g} of them); use a larger Standard-Model test sample "
            f"(at least {int(np.ceil(MIN_PASSING / acceptance))} events) or a larger acceptance"
        )


def threshold_at_acceptance(reference_scores: np.ndarray, acceptance: float) -> float:
    """The score threshold whose selection ``score > threshold`` keeps at most ``floor(acceptance N)``
    reference events (exactly that many unless scores tie at the threshold).

    Args:
        reference_scores: (N,) anomaly scores of held-out Standard-Model events.
        acceptance: the Standard-Model acceptance, in [10 / N, 1].
    Raises:
        ValueError: ``acceptance < 10 / N`` (the message says what N would be needed), or outside (0, 1].
    """
    ref = np.sort(_scores(reference_scores, "reference_scores"))[::-1]  # (N,) descending
    _check_acceptance(float(acceptance), len(ref))
    k = int(np.floor(acceptance * len(ref) + 1e-9))  # reference events allowed to pass
    return threshold_keeping(ref, k)


def reachable_acceptances(n_reference: int, acceptances: Sequence[float]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Split ``acceptances`` into those a reference of ``n_reference`` events supports (>= 10 / N)
    and those it does not. Returns (kept, dropped), each in the given order."""
    kept = tuple(float(a) for a in acceptances if a * n_reference >= MIN_PASSING * (1.0 - 1e-9))
    dropped = tuple(float(a) for a in acceptances if a * n_reference < MIN_PASSING * (1.0 - 1e-9))
    return kept, dropped


def signal_efficiencies(
    sm_scores: np.ndarray,
    signal_scores: Mapping[str, np.ndarray],
    acceptances: Sequence[float] = (1e-2, 1e-3),
) -> list[dict[str, Any]]:
    """Signal efficiency of the selection ``score > threshold_at_acceptance(sm_scores, a)``.

    Args:
        sm_scores: (N,) scores of the Standard-Model test sample (defines the thresholds).
        signal_scores: signal name -> (M_s,) scores of that signal's test events.
        acceptances: Standard-Model acceptances, each >= 10 / N.
    Returns:
        One row per (signal, acceptance): ``signal``, ``acceptance`` (target), ``threshold``,
        ``sm_acceptance`` (achieved, <= target), ``n_sm_passing``, ``n_sm``,
        ``signal_efficiency`` and its binomial error, ``n_signal``.
    Raises:
        ValueError: an acceptance below 10 / N (see :func:`threshold_at_acceptance`).
    """
    sm = _scores(sm_scores, "sm_scores")
    thresholds = {float(a): threshold_at_acceptance(sm, a) for a in acceptances}  # raises first
    rows = []
    for name, sig in signal_scores.items():
        s = _scores(sig, f"signal_scores[{name!r}]")
        if len(s) == 0:
            raise ValueError(f"signal {name!r} has no events")
        for a, t in thresholds.items():
            n_pass = int((sm > t).sum())
            eff = float((s > t).mean())
            rows.append({
                "signal": str(name),
                "acceptance": a,
                "threshold": t,
                "sm_acceptance": n_pass / len(sm),
                "n_sm_passing": n_pass,
                "n_sm": int(len(sm)),
                "signal_efficiency": eff,
                "signal_efficiency_error": efficiency_error(eff, len(s)),
                "n_signal": int(len(s)),
            })
    return rows
