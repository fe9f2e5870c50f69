"""Distance correlation, the DisCo decorrelation term (Kasieczka and Shih, arXiv:2001.05310).

For samples (x_i, y_i), i = 1..N, with weights w_i (normalised to mean 1), the double-centred distance
matrices a_ij = |x_i - x_j| - mean_k |x_i - x_k| - mean_k |x_k - x_j| + mean_kl |x_k - x_l| (weighted
means) and b_ij likewise for y give

    dCov^2(x, y) = mean_ij w_i w_j a_ij b_ij,   dCorr^2 = dCov^2(x, y) / sqrt(dCov^2(x, x) dCov^2(y, y)),

which is 0 if and only if x and y are independent (Szekely, Rizzo and Bakirov, Ann. Stat. 35 (2007)
2769) and 1 for y = a x + b. DisCo adds ``lambda * dCorr^2(score, mass)`` over the background jets of a
batch to the classification loss. Cost O(N^2) per batch.
"""

from __future__ import annotations

import torch

__all__ = ["distance_correlation"]


def _centred(d: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Double-centred distance matrix with weighted means; d (N, N), w (N,) mean 1."""
    row = (d * w[None, :]).mean(dim=1, keepdim=True)  # (N, 1): weighted mean over j
    col = (d * w[:, None]).mean(dim=0, keepdim=True)  # (1, N): weighted mean over i
    total = (row.squeeze(1) * w).mean()
    return d - row - col + total


def distance_correlation(x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None,
                         *, power: int = 2) -> torch.Tensor:
    """dCorr^2 (``power=2``, the DisCo term) or dCorr (``power=1``) of two 1-D samples.

    Args:
        x, y: (N,) values (e.g. the tagger output and the jet mass of background jets).
        weights: (N,) non-negative event weights (default 1), normalised to mean 1 here.

    Returns a scalar tensor, differentiable in ``x`` and ``y``.
    """
    if x.ndim != 1 or y.shape != x.shape:
        raise ValueError(f"x and y must both have shape (N,), got {tuple(x.shape)} and {tuple(y.shape)}")
    if len(x) < 2:
        raise ValueError("distance correlation needs at least 2 samples")
    w = torch.ones_like(x) if weights is None else weights.to(x.dtype)
    if w.shape != x.shape:
        raise ValueError(f"weights must have shape {tuple(x.shape)}, got {tuple(w.shape)}")
    w = w / w.mean()
    a = _centred((x[:, None] - x[None, :]).abs(), w)
    b = _centred((y[:, None] - y[None, :]).abs(), w)
    ww = w[:, None] * w[None, :]
    dcov_xy = (a * b * ww).mean()
    dcov_xx = (a * a * ww).mean()
    dcov_yy = (b * b * ww).mean()
    r2 = dcov_xy / torch.sqrt(dcov_xx * dcov_yy).clamp_min(1e-30)
    return r2 if power == 2 else torch.sqrt(r2.clamp_min(0.0))
