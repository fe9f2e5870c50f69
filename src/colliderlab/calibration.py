"""Calibration of classifier probabilities: reliability diagrams, the expected calibration error (ECE)
with bootstrap errors, and temperature scaling (Guo et al., "On calibration of modern neural
networks", arXiv:1706.04599).

Two readings of the probabilities, by shape:

* ``probs`` (N,) with ``labels`` in {0, 1}: the probability of the signal class, compared with the
  fraction of signal in each bin of it (the physicist's reliability diagram of a binary tagger);
* ``probs`` (N, C) with class indices: the top-label confidence max_c p_c against the accuracy (Guo et
  al.'s definition).

ECE = sum_b (n_b / N) |mean predicted - observed frequency| over ``n_bins`` equal-width bins (weighted
by ``weights`` when given). A run with ``calibration: temperature`` stores its temperature in
``calibration.json`` (:func:`save_calibration`), applied by every later scoring of the run.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Reliability",
    "reliability",
    "expected_calibration_error",
    "bootstrap_ece",
    "fit_temperature",
    "apply_temperature",
    "nll",
    "CALIBRATION_FILE",
    "save_calibration",
    "load_calibration",
]

CALIBRATION_FILE = "calibration.json"


@dataclass(frozen=True)
class Reliability:
    """A reliability diagram: per bin of predicted probability its edges (B+1,), the mean prediction,
    the observed frequency and the (weighted) count, each (B,); empty bins hold NaN and 0."""

    edges: np.ndarray
    predicted: np.ndarray
    observed: np.ndarray
    counts: np.ndarray

    @property
    def ece(self) -> float:
        ok = self.counts > 0
        return float(np.sum(self.counts[ok] * np.abs(self.predicted[ok] - self.observed[ok])) / self.counts.sum())


def _confidence(probs: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, outcome) pairs, each (N,): see the module docstring."""
    p, y = np.asarray(probs, np.float64), np.asarray(labels)
    if p.ndim == 1:
        if y.shape != p.shape:
            raise ValueError(f"probs (N,) and labels (N,) must match; got {p.shape} and {y.shape}")
        outcome = y.astype(np.float64)
        if not np.isin(outcome, (0.0, 1.0)).all():
            raise ValueError("with probs of shape (N,) the labels must be 0 or 1 (1 = the class of the probability)")
        pred = p
    elif p.ndim == 2:
        if y.shape != (len(p),):
            raise ValueError(f"probs (N, C) need labels (N,); got {p.shape} and {y.shape}")
        pred, outcome = p.max(1), (p.argmax(1) == y).astype(np.float64)
    else:
        raise ValueError(f"probs must have shape (N,) or (N, C), got {p.shape}")
    bad = np.flatnonzero(~np.isfinite(pred))
    if len(bad):
        raise ValueError(f"probabilities are not finite at {len(bad)} jet(s), first index {bad[0]}")
    return pred, outcome


def reliability(probs: Any, labels: Any, *, n_bins: int = 15, weights: Any = None) -> Reliability:
    """The reliability diagram of ``probs`` (N,) or (N, C) with ``n_bins`` equal-width bins on [0, 1]."""
    pred, outcome = _confidence(probs, labels)
    w = np.ones_like(pred) if weights is None else np.asarray(weights, np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(pred, edges[1:-1]), 0, n_bins - 1)
    counts = np.bincount(idx, weights=w, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        predicted = np.bincount(idx, weights=w * pred, minlength=n_bins) / counts
        observed = np.bincount(idx, weights=w * outcome, minlength=n_bins) / counts
    return Reliability(edges, predicted, observed, counts)


def expected_calibration_error(probs: Any, labels: Any, *, n_bins: int = 15, weights: Any = None) -> float:
    """ECE of ``probs`` (N,) or (N, C) (module docstring); 0 for perfectly calibrated scores."""
    return reliability(probs, labels, n_bins=n_bins, weights=weights).ece


def bootstrap_ece(probs: Any, labels: Any, *, n_bins: int = 15, n_boot: int = 200, seed: int = 0) -> dict[str, float]:
    """ECE and its bootstrap spread: ``ece`` on the sample, ``mean`` and ``std`` over ``n_boot``
    resamples of the jets with replacement."""
    pred, outcome = _confidence(probs, labels)
    rng = np.random.default_rng(seed)
    vals = np.empty(n_boot)
    for i in range(n_boot):
        k = rng.integers(0, len(pred), len(pred))
        vals[i] = expected_calibration_error(pred[k], outcome[k], n_bins=n_bins)
    return {"ece": expected_calibration_error(pred, outcome, n_bins=n_bins), "mean": float(vals.mean()),
            "std": float(vals.std(ddof=1)), "n_boot": n_boot}


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def nll(logits: Any, labels: Any, temperature: float = 1.0, weights: Any = None) -> float:
    """Mean (weighted) negative log-likelihood of class indices ``labels`` (N,) under
    ``softmax(logits / temperature)``, logits (N, C)."""
    z, y = np.asarray(logits, np.float64), np.asarray(labels, np.int64)
    if z.ndim != 2 or y.shape != (len(z),):
        raise ValueError(f"logits (N, C) and labels (N,) expected, got {z.shape} and {y.shape}")
    per = -_log_softmax(z / temperature)[np.arange(len(z)), y]
    return float(np.average(per, weights=weights))


def fit_temperature(logits: Any, labels: Any, *, weights: Any = None) -> float:
    """The temperature T > 0 minimising the NLL of ``softmax(logits / T)`` (one parameter; the
    ranking of the jets, hence every ROC figure, is unchanged). Fit it on validation jets."""
    from scipy.optimize import minimize_scalar

    z = np.asarray(logits, np.float64)
    bad = np.flatnonzero(~np.isfinite(z).all(axis=-1)) if z.ndim == 2 else []
    if len(bad):
        raise ValueError(f"logits are not finite at {len(bad)} jet(s), first index {bad[0]}")
    res = minimize_scalar(lambda t: nll(z, labels, float(np.exp(t)), weights), bounds=(-4.0, 4.0),
                          method="bounded", options={"xatol": 1e-5})
    return float(np.exp(res.x))


def apply_temperature(logits: Any, temperature: float) -> np.ndarray:
    """``softmax(logits / T)``, (N, C) probabilities."""
    return np.exp(_log_softmax(np.asarray(logits, np.float64) / temperature))


def save_calibration(run_dir: str | os.PathLike, temperature: float, **info: Any) -> Path:
    """Write ``RUN/calibration.json`` (atomically): the method, the temperature and ``info`` (where it
    was fitted, how many jets, NLL and ECE before and after)."""
    from colliderlab.atomic import write_text

    if not (temperature > 0 and np.isfinite(temperature)):
        raise ValueError(f"a temperature must be positive and finite, got {temperature}")
    path = Path(run_dir) / CALIBRATION_FILE
    write_text(path, json.dumps({"method": "temperature", "temperature": float(temperature), **info}, indent=1))
    return path


def load_calibration(run_dir: str | os.PathLike) -> float | None:
    """The run's stored temperature, or None when it was not calibrated."""
    path = Path(run_dir) / CALIBRATION_FILE
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    t = d.get("temperature")
    if d.get("method") != "temperature" or not isinstance(t, (int, float)) or not t > 0:
        raise ValueError(f"{path} is not a temperature calibration (method temperature, temperature > 0): {d}")
    return float(t)


def reliability_dict(rel: Reliability) -> dict[str, Any]:
    """A JSON-friendly form of a :class:`Reliability` (NaN as None)."""
    return {k: [None if not np.isfinite(x) else float(x) for x in v] for k, v in asdict(rel).items()}
