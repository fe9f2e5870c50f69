"""Classifier metrics the way taggers are compared (arXiv:1902.09914).

ROC curves as (signal efficiency, background efficiency), AUC, background rejection
1/eps_B at a fixed signal efficiency, and the significance improvement eps_S/sqrt(eps_B).
All vectorised numpy; ties in the score are handled exactly (one ROC point per distinct score).

Also the one home of :func:`softmax` and the mean one-vs-rest AUC (:func:`mean_ovr_auc`), and the
distances between two samples used to judge generated calorimeter showers (CaloChallenge style):
:func:`wasserstein1` and :func:`separation_power` per observable (the separation power is
``1/2 sum_i (h1_i - h2_i)^2 / (h1_i + h2_i)`` of unit-area histograms on common bins: 0 for
identical, 1 for disjoint distributions), :func:`fpd` and :func:`kpd` - Frechet and kernel physics
distances on high-level features (Kansal et al., arXiv:2211.10295): FPD extrapolated to infinite
sample size, KPD as the unbiased MMD^2 with the polynomial kernel ``(x.y/d + 1)^4``, median over
batches.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from colliderlab.checks import check_finite

__all__ = [
    "roc_curve",
    "auc",
    "rejection_at",
    "background_efficiency_at",
    "accuracy",
    "sic_curve",
    "threshold_keeping",
    "efficiency_error",
    "tagger_metrics",
    "bootstrap_metrics",
    "paired_auc_difference",
    "ensemble_summary",
    "regression_metrics",
    "response_in_bins",
    "pull_metrics",
    "softmax",
    "mean_ovr_auc",
    "wasserstein1",
    "separation_power",
    "compare_observables",
    "fpd",
    "kpd",
]


def _check(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f"scores has shape {s.shape} but labels has shape {y.shape}; expected equal (N,)")
    bad = ~np.isfinite(s)
    if bad.any():
        raise ValueError(f"scores contain {bad.sum()} non-finite values, first at index {int(np.argmax(bad))}")
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != s.shape:
        raise ValueError(f"weights has shape {w.shape}, expected {s.shape}")
    y = y.astype(bool)
    if not y.any() or y.all():
        raise ValueError("labels must contain both signal (1) and background (0) entries")
    return s, y, w


def roc_curve(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve for "signal if score >= threshold".

    Args:
        scores: (N,) classifier outputs, larger = more signal-like.
        labels: (N,) 1 for signal, 0 for background.
        weights: (N,) optional event weights.

    Returns:
        eff_s: (T+1,) signal efficiency, from 0 to 1; eff_b: (T+1,) background efficiency;
        thresholds: (T+1,) the score thresholds (first is +inf).
    """
    s, y, w = _check(scores, labels, weights)
    order = np.argsort(-s, kind="mergesort")
    s, y, w = s[order], y[order], w[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # last index of each distinct score
    tps = np.cumsum(w * y)[last]
    fps = np.cumsum(w * ~y)[last]
    eff_s = np.r_[0.0, tps / tps[-1]]
    eff_b = np.r_[0.0, fps / fps[-1]]
    return eff_s, eff_b, np.r_[np.inf, s[last]]


def auc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC curve (probability a signal outscores a background; ties count 1/2)."""
    eff_s, eff_b, _ = roc_curve(scores, labels, weights)
    return float(np.trapezoid(eff_s, eff_b))


def background_efficiency_at(
    scores: np.ndarray, labels: np.ndarray, signal_efficiency: float, weights: np.ndarray | None = None
) -> float:
    """Background efficiency eps_B where the signal efficiency reaches ``signal_efficiency`` (interpolated)."""
    if not 0.0 < signal_efficiency <= 1.0:
        raise ValueError(f"signal_efficiency must be in (0, 1], got {signal_efficiency}")
    eff_s, eff_b, _ = roc_curve(scores, labels, weights)
    return float(np.interp(signal_efficiency, eff_s, eff_b))


def rejection_at(
    scores: np.ndarray, labels: np.ndarray, signal_efficiency: float = 0.3, weights: np.ndarray | None = None
) -> float:
    """Background rejection 1/eps_B at a fixed signal efficiency (inf when no background passes)."""
    eb = background_efficiency_at(scores, labels, signal_efficiency, weights)
    return float(np.inf) if eb <= 0 else 1.0 / eb


def accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> float:
    """Fraction of correct decisions with "signal if score >= threshold"."""
    s, y, _ = _check(scores, labels, None)
    return float(np.mean((s >= threshold) == y))


def sic_curve(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None, min_background: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Significance improvement eps_S / sqrt(eps_B) against eps_S.

    Points where fewer than ``min_background`` (weighted) background events pass are dropped.
    Returns (eff_s, sic), both (T,).
    """
    s, y, w = _check(scores, labels, weights)
    eff_s, eff_b, _ = roc_curve(s, y, w)
    n_bkg = eff_b * w[~y].sum()
    keep = (eff_b > 0) & (n_bkg >= max(min_background, 1e-300))
    return eff_s[keep], eff_s[keep] / np.sqrt(eff_b[keep])


def threshold_keeping(descending: np.ndarray, k: int) -> float:
    """The threshold whose cut ``score > threshold`` keeps the ``k`` highest of ``descending``
    (scores sorted high to low; fewer when scores tie at the threshold): the (k+1)-th highest
    score, or one below the lowest when ``k >= N``."""
    return float(descending[k]) if k < len(descending) else float(descending[-1]) - 1.0


def efficiency_error(eff: float, n: int) -> float:
    """Binomial standard error of an efficiency measured on ``n`` events, sqrt(eff (1 - eff) / n),
    floored at 1 / n (so that it is not 0 at eff = 0 or 1)."""
    return float(np.sqrt(max(eff * (1.0 - eff), 1.0 / n) / n))


def tagger_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """AUC, accuracy (threshold at the median-free 0.5) and 1/eps_B at eps_S = 0.3 and 0.5."""
    return {
        "auc": auc(scores, labels),
        "accuracy": accuracy(scores, labels),
        "rejection_at_0.3": rejection_at(scores, labels, 0.3),
        "rejection_at_0.5": rejection_at(scores, labels, 0.5),
    }


def bootstrap_metrics(
    scores: np.ndarray, labels: np.ndarray, n: int = 100, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Bootstrap uncertainties of :func:`tagger_metrics`: resample jets with replacement ``n`` times.

    Returns ``{metric: {"mean", "std", "q16", "q84"}}``; infinite rejections (no background left)
    are dropped from that metric's statistics.
    """
    s, y, _ = _check(scores, labels, None)
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        idx = rng.integers(0, len(s), len(s))
        if y[idx].all() or not y[idx].any():
            continue
        rows.append(tagger_metrics(s[idx], y[idx]))
    return _summarise(rows, ("mean", "std", "q16", "q84"))


def paired_auc_difference(
    scores_a: np.ndarray, scores_b: np.ndarray, labels: np.ndarray, n: int = 200, seed: int = 0
) -> dict[str, float]:
    """AUC(a) - AUC(b) of two taggers scored on the same jets, with its paired-bootstrap spread.

    Both taggers are evaluated on each bootstrap resample of the jets (the same indices for both),
    so the jet-to-jet correlation of their scores cancels in the difference; the spread is what a
    different test sample of the same size would change.

    Returns ``{"diff", "std", "n_boot"}``: the difference on the full sample and the standard
    deviation over ``n`` resamples.
    """
    a, y, _ = _check(scores_a, labels, None)
    b, _, _ = _check(scores_b, labels, None)
    if len(a) != len(b):
        raise ValueError(f"scores_a has {len(a)} jets but scores_b has {len(b)}; score the same jets")
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n):
        idx = rng.integers(0, len(a), len(a))
        if y[idx].all() or not y[idx].any():
            continue
        diffs.append(auc(a[idx], y[idx]) - auc(b[idx], y[idx]))
    std = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else float("nan")
    return {"diff": auc(a, y) - auc(b, y), "std": std, "n_boot": len(diffs)}


def ensemble_summary(runs: list[dict[str, float]], keys: tuple[str, ...] | None = None) -> dict[str, dict[str, float]]:
    """Mean, median, standard deviation, min and max of each metric over K trainings
    (the way arXiv:1902.09914 quotes ensembles)."""
    if keys is not None:
        runs = [{k: r[k] for k in keys if k in r} for r in runs]
    return _summarise(runs, ("mean", "median", "std", "min", "max"))


def _quantile(a: np.ndarray, q: float) -> float:
    """``np.quantile`` that lets +inf (a rejection with no background left) through: interpolating
    between two infinite values gives +inf, not NaN and a warning."""
    with np.errstate(invalid="ignore"):
        x = float(np.quantile(a, q))
        if not np.isnan(x):
            return x
        lo, hi = float(np.quantile(a, q, method="lower")), float(np.quantile(a, q, method="higher"))
    if lo == hi:  # the quantile falls on a sample (0 * inf made the interpolation NaN)
        return lo
    return float("inf") if np.isinf(hi) else x


def _summarise(rows: list[dict[str, float]], stats: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Statistics per key. Order statistics (median, min, max, quantiles) keep infinite values
    (a rejection with no background left is +inf and sorts last); mean and std use the finite ones."""
    out: dict[str, dict[str, float]] = {}
    keys = [k for k in (rows[0] if rows else {}) if all(k in r for r in rows)]
    order = {"median": lambda a: _quantile(a, 0.5), "min": np.min, "max": np.max,
             "q16": lambda a: _quantile(a, 0.16), "q84": lambda a: _quantile(a, 0.84)}
    moments = {"mean": np.mean, "std": lambda a: np.std(a, ddof=1) if len(a) > 1 else 0.0}
    for k in keys:
        v = np.array([float(r[k]) for r in rows])
        v = v[~np.isnan(v)]
        fin = v[np.isfinite(v)]
        res = {}
        for st in stats:
            if st in order:
                res[st] = float(order[st](v)) if len(v) else float("nan")
            else:
                res[st] = float(moments[st](fin)) if len(fin) else float("nan")
        out[k] = res
    return out


def _robust_width(x: np.ndarray) -> float:
    """Half the 16-84% interval: the Gaussian sigma, insensitive to tails."""
    q16, q84 = np.quantile(x, [0.16, 0.84])
    return float(0.5 * (q84 - q16))


def regression_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """How well a regression head predicts a per-jet quantity (energy-scale calibration style).

    ``response`` is pred/true: ``response_median`` is the scale (1 when unbiased) and
    ``resolution`` half the 16-84% interval of the response divided by its median (relative,
    robust to tails). Also MSE, MAE, mean bias pred - true, Pearson correlation and R^2 (the
    fraction of the target's variance explained; 0 for always predicting the mean).

    Args:
        pred, true: (N,) predicted and true values.
    """
    pred = np.asarray(pred, np.float64).reshape(-1)
    true = np.asarray(true, np.float64).reshape(-1)
    if pred.shape != true.shape:
        raise ValueError(f"pred has shape {pred.shape} but true has {true.shape}")
    bad = np.flatnonzero(~(np.isfinite(pred) & np.isfinite(true)))
    if len(bad):
        raise ValueError(f"{len(bad)} predictions or targets are not finite (first: index {bad[0]})")
    resid = pred - true
    out = {
        "n_test": int(len(true)),
        "mse": float(np.mean(resid**2)),
        "mae": float(np.mean(np.abs(resid))),
        "bias": float(np.mean(resid)),
        "correlation": (float(np.corrcoef(pred, true)[0, 1]) if len(true) > 1 and pred.std() > 0 and true.std() > 0
                        else float("nan")),  # undefined for a constant prediction
        "r2": float(1.0 - np.sum(resid**2) / max(np.sum((true - true.mean()) ** 2), 1e-300)),
    }
    nz = np.abs(true) > 1e-12
    if nz.any():
        r = pred[nz] / true[nz]
        med = float(np.median(r))
        out["response_median"] = med
        out["resolution"] = _robust_width(r) / abs(med) if med != 0 else float("nan")
    return out


def response_in_bins(pred: np.ndarray, true: np.ndarray, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Median response pred/true and relative resolution in bins of the true value.

    Returns ``{"centres", "response", "resolution", "count"}``, each (len(edges) - 1,); bins with
    fewer than 10 jets are NaN.
    """
    pred = np.asarray(pred, np.float64).reshape(-1)
    true = np.asarray(true, np.float64).reshape(-1)
    idx = np.digitize(true, edges) - 1
    nb = len(edges) - 1
    resp, reso, count = np.full(nb, np.nan), np.full(nb, np.nan), np.zeros(nb, np.int64)
    for b in range(nb):  # loop over bins, not jets
        sel = (idx == b) & (np.abs(true) > 1e-12)
        count[b] = sel.sum()
        if count[b] >= 10:
            r = pred[sel] / true[sel]
            resp[b] = np.median(r)
            reso[b] = _robust_width(r) / abs(resp[b])
    return {"centres": 0.5 * (edges[1:] + edges[:-1]), "response": resp, "resolution": reso, "count": count}


def pull_metrics(pred: np.ndarray, true: np.ndarray, sigma: np.ndarray) -> dict[str, float]:
    """Calibration of predicted uncertainties: pulls (pred - true) / sigma have mean 0 and
    standard deviation 1, and 68.3% of them lie within +-1, when the uncertainties are right.

    Returns ``pull_mean``, ``pull_std``, ``pull_width`` (half the 16-84% interval, robust),
    ``coverage_1sigma`` and ``sigma_median``. pred, true, sigma: (N,).
    """
    pred, true, sigma = (np.asarray(v, np.float64).reshape(-1) for v in (pred, true, sigma))
    if not (pred.shape == true.shape == sigma.shape):
        raise ValueError(f"pred {pred.shape}, true {true.shape} and sigma {sigma.shape} must have one shape")
    if (sigma <= 0).any() or not np.isfinite(sigma).all():
        i = int(np.flatnonzero(~(sigma > 0) | ~np.isfinite(sigma))[0])
        raise ValueError(f"sigma must be positive and finite; index {i} has {sigma[i]!r}")
    pull = (pred - true) / sigma
    return {"pull_mean": float(pull.mean()), "pull_std": float(pull.std()), "pull_width": _robust_width(pull),
            "coverage_1sigma": float((np.abs(pull) <= 1.0).mean()), "sigma_median": float(np.median(sigma))}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, C) logits (in their dtype). -> (N, C)"""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def mean_ovr_auc(probs: np.ndarray, labels: np.ndarray) -> float:
    """AUC of class scores (N, C): for two columns the AUC of column 1; otherwise the mean
    one-vs-rest AUC over the classes present in ``labels``. NaN with fewer than two classes."""
    classes = np.unique(labels)
    if len(classes) < 2:
        return float("nan")
    if probs.shape[1] == 2:
        return auc(probs[:, 1], labels == 1)
    return float(np.mean([auc(probs[:, k], labels == k) for k in classes]))


# ------------------------------------------------------------------ distances between two samples


def wasserstein1(a: np.ndarray, b: np.ndarray) -> float:
    """1-D Wasserstein-1 distance between two samples (0 for identical samples)."""
    from scipy.stats import wasserstein_distance

    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    check_finite("a", a)
    check_finite("b", b)
    return float(wasserstein_distance(a, b))


def separation_power(reference: np.ndarray, other: np.ndarray, bins: int | np.ndarray = 50) -> float:
    """``1/2 sum (h1 - h2)^2 / (h1 + h2)`` of unit-sum histograms on common bins.

    With an integer ``bins`` the edges span the 0.1-99.9% quantiles of ``reference`` (values
    outside go to the end bins). 0 for identical, 1 for non-overlapping distributions.
    """
    r, o = np.asarray(reference, np.float64).reshape(-1), np.asarray(other, np.float64).reshape(-1)
    check_finite("reference", r)
    check_finite("other", o)
    if isinstance(bins, int):
        lo, hi = np.quantile(r, [0.001, 0.999])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
    else:
        edges = np.asarray(bins, np.float64)
    h1 = np.histogram(np.clip(r, edges[0], edges[-1]), edges)[0].astype(np.float64)
    h2 = np.histogram(np.clip(o, edges[0], edges[-1]), edges)[0].astype(np.float64)
    h1 /= max(h1.sum(), 1.0)
    h2 /= max(h2.sum(), 1.0)
    s = h1 + h2
    nz = s > 0
    return float(0.5 * np.sum((h1[nz] - h2[nz]) ** 2 / s[nz]))


def compare_observables(
    reference: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """W1 and separation power for every observable both sides have: ``{name: {w1, separation}}``."""
    return {k: {"w1": wasserstein1(reference[k], other[k]), "separation": separation_power(reference[k], other[k])}
            for k in reference if k in other}


def _frechet(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    from scipy import linalg

    covmean = np.real(linalg.sqrtm(s1 @ s2))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def _features(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, F), got {x.shape}")
    check_finite(name, x)
    return x


def fpd(
    real: np.ndarray,
    gen: np.ndarray,
    *,
    min_samples: int = 2000,
    max_samples: int = 20000,
    num_points: int = 10,
    seed: int = 0,
) -> tuple[float, float]:
    """Frechet physics distance extrapolated to infinite N (arXiv:2211.10295).

    Features are standardised with ``real``'s mean and std. The Frechet distance is computed on
    random subsets of sizes from ``min_samples`` to ``max_samples`` (at most the available
    showers), fitted linearly in 1/N, and the intercept is returned with its standard error.

    Args:
        real, gen: (N, F) high-level features.
    Returns:
        (FPD, error).
    """
    real, gen = _features(real, "real"), _features(gen, "gen")
    mu, sd = real.mean(0), real.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    real, gen = (real - mu) / sd, (gen - mu) / sd
    rng = np.random.default_rng(seed)
    n_max = min(max_samples, len(real), len(gen))
    n_min = min(min_samples, n_max)
    sizes = np.unique(np.linspace(n_min, n_max, num_points).astype(int))
    vals = []
    for n in sizes:
        a = real[rng.choice(len(real), n, replace=False)]
        b = gen[rng.choice(len(gen), n, replace=False)]
        vals.append(_frechet(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)))
    vals = np.asarray(vals)
    if len(sizes) < 2:
        return float(vals[0]), float("nan")
    if len(sizes) > 2:
        coef, cov = np.polyfit(1.0 / sizes, vals, 1, cov=True)
        return float(coef[1]), float(np.sqrt(cov[1, 1]))
    return float(np.polyfit(1.0 / sizes, vals, 1)[1]), float("nan")


def _mmd_poly_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 4) -> float:
    d = x.shape[1]
    kxx = (x @ x.T / d + 1.0) ** degree
    kyy = (y @ y.T / d + 1.0) ** degree
    kxy = (x @ y.T / d + 1.0) ** degree
    m, n = len(x), len(y)
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


def kpd(
    real: np.ndarray, gen: np.ndarray, *, num_batches: int = 10, batch_size: int = 5000, seed: int = 0
) -> tuple[float, float]:
    """Kernel physics distance (arXiv:2211.10295): unbiased MMD^2 with the kernel
    ``(x.y/d + 1)^4`` on standardised features, median and half the interquartile range over
    ``num_batches`` random batches. Returns (KPD, spread)."""
    real, gen = _features(real, "real"), _features(gen, "gen")
    mu, sd = real.mean(0), real.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    real, gen = (real - mu) / sd, (gen - mu) / sd
    rng = np.random.default_rng(seed)
    bs = min(batch_size, len(real), len(gen))
    vals = [
        _mmd_poly_unbiased(real[rng.choice(len(real), bs, replace=False)], gen[rng.choice(len(gen), bs, replace=False)])
        for _ in range(num_batches)
    ]
    q25, q50, q75 = np.quantile(vals, [0.25, 0.5, 0.75])
    return float(q50), float(0.5 * (q75 - q25))

