"""Pairwise Lorentz features of a jet's particles: ParT's interaction inputs (arXiv:2202.03772).

For every pair ``(i, j)`` of real particles (eq. 3 of the ParT paper, as in weaver-core)::

    ln Delta = ln sqrt((y_i - y_j)^2 + (phi_i - phi_j)^2)
    ln kT    = ln (min(pT_i, pT_j) Delta)
    ln z     = ln (min(pT_i, pT_j) / (pT_i + pT_j))
    ln m^2   = ln (p_i + p_j)^2

each argument clamped at ``eps = 1e-8`` before the log. Everything is float32 and free of
cancellation: rapidities are ``asinh(pz / mT)`` and the pair mass uses

    m_ij^2 = m_i^2 + m_j^2 + 2 [2 mT_i mT_j sinh^2(dy/2) + 2 pT_i pT_j sin^2(dphi/2)
                                + (m_i^2 pT_j^2 + m_j^2 pT_i^2 + m_i^2 m_j^2)
                                  / (mT_i mT_j + pT_i pT_j)]

(every term non-negative), so nearly collinear energetic pairs keep their small mass. Pairs
that involve a padded slot get all-zero features (finite).

The features are symmetric in ``i <-> j``; :func:`pair_features_tril` computes them on the
``N (N + 1) / 2`` pairs ``i >= j`` only and :func:`tril_to_symmetric` spreads per-pair values back
to a dense symmetric ``(..., N, N)`` matrix.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "PAIR_FEATURE_NAMES",
    "particle_kinematics",
    "pair_features",
    "pair_features_tril",
    "tril_indices",
    "tril_to_symmetric",
]

PAIR_FEATURE_NAMES = ("ln_delta", "ln_kt", "ln_z", "ln_m2")
_F32_NOISE = 4.0 * 2.0**-23  # 4 float32 epsilons, relative to E^2
_TINY = 1e-20


def particle_kinematics(p4: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(pt, y, phi, m2)`` of four-momenta ``(..., 4)`` = (E, px, py, pz), each ``(...)``, float32.

    Zero four-momenta (padding) give zeros. ``m2`` is clamped at 0, and set to 0 below the
    rounding noise of float32 four-momenta (4 eps E^2): a 300 GeV massless particle stored in
    float32 has a "mass" (E - p)(E + p) of order 0.02 GeV^2 whose value depends on the order of
    operations (eager PyTorch vs ONNX Runtime), not on the physics. ``pt`` and ``m2`` are computed
    in float64; the well-conditioned rapidity and azimuth in float32.
    """
    e, px, py, pz = p4.double().unbind(-1)
    pt = torch.sqrt(px * px + py * py)  # not torch.hypot: ONNX has no Hypot
    p = torch.sqrt(pt * pt + pz * pz)
    m2 = (e - p) * (e + p)
    m2 = torch.where(m2 > _F32_NOISE * e * e, m2, torch.zeros_like(m2))  # noise -> exactly 0
    mt = torch.sqrt(m2 + pt * pt).clamp(min=_TINY)
    y = torch.asinh((pz / mt).float())  # well conditioned: float32 (ONNX Runtime has no double Asinh)
    phi = torch.atan2(py.float(), px.float())
    return pt.float(), y, phi, m2.float()


def _pair_lorentz(
    a: tuple[torch.Tensor, ...], b: tuple[torch.Tensor, ...], eps: float
) -> torch.Tensor:
    """Features of pairs from broadcastable per-particle ``(pt, y, phi, m2)``: (..., 4)."""
    pt_a, y_a, phi_a, m2_a = a
    pt_b, y_b, phi_b, m2_b = b
    dy = y_a - y_b
    dphi = torch.remainder(phi_a - phi_b + math.pi, 2 * math.pi) - math.pi
    delta = torch.sqrt(dy * dy + dphi * dphi)
    ptmin = torch.minimum(pt_a, pt_b)
    ln_delta = torch.log(delta.clamp(min=eps))
    ln_kt = torch.log((ptmin * delta).clamp(min=eps))
    ln_z = torch.log((ptmin / (pt_a + pt_b).clamp(min=eps)).clamp(min=eps))
    mt_a = torch.sqrt(m2_a + pt_a * pt_a)
    mt_b = torch.sqrt(m2_b + pt_b * pt_b)
    cross = (m2_a * pt_b * pt_b + m2_b * pt_a * pt_a + m2_a * m2_b) / (
        mt_a * mt_b + pt_a * pt_b
    ).clamp(min=_TINY)
    s_dy = torch.sinh(0.5 * dy)
    s_dphi = torch.sin(0.5 * dphi)
    m2 = (
        m2_a
        + m2_b
        + 2.0 * (2.0 * mt_a * mt_b * s_dy * s_dy + 2.0 * pt_a * pt_b * s_dphi * s_dphi + cross)
    )
    ln_m2 = torch.log(m2.clamp(min=eps))
    return torch.stack([ln_delta, ln_kt, ln_z, ln_m2], -1)


def pair_features(p4: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Dense pair features: ``p4`` (B, N, 4), ``mask`` (B, N) -> (B, N, N, 4) (padded pairs 0)."""
    kin = particle_kinematics(p4)
    a = tuple(t.unsqueeze(2) for t in kin)  # (B, N, 1) each
    b = tuple(t.unsqueeze(1) for t in kin)  # (B, 1, N) each
    feats = _pair_lorentz(a, b, eps)  # (B, N, N, 4)
    pair_mask = mask.unsqueeze(2) & mask.unsqueeze(1)  # (B, N, N)
    return feats * pair_mask.unsqueeze(-1).to(feats.dtype)


def tril_indices(n: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column of the ``P = n (n + 1) / 2`` pairs ``i >= j`` (row-major), each (P,)."""
    ij = torch.tril_indices(n, n, device=device)
    return ij[0], ij[1]


def pair_features_tril(
    p4: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair features of the pairs ``i >= j`` (diagonal included): -> (B, P, 4), (B, P).

    Shapes: ``p4`` (B, N, 4), ``mask`` (B, N); ``P = N (N + 1) / 2``.

    Returns the features (zero where a padded slot is involved) and the pair mask.
    """
    n = p4.shape[1]
    i, j = tril_indices(n, p4.device)
    kin = particle_kinematics(p4)
    a = tuple(t[:, i] for t in kin)  # (B, P) each
    b = tuple(t[:, j] for t in kin)  # (B, P) each
    feats = _pair_lorentz(a, b, eps)  # (B, P, 4)
    pair_mask = mask[:, i] & mask[:, j]  # (B, P)
    return feats * pair_mask.unsqueeze(-1).to(feats.dtype), pair_mask


class _TrilToSymmetric(torch.autograd.Function):
    """Gather forward; backward folds ``G + G^T`` back onto the triangle (no scatter-add)."""

    @staticmethod
    def forward(ctx, vals: torch.Tensor, n: int) -> torch.Tensor:  # type: ignore[override]
        i, j = tril_indices(n, vals.device)
        pos = torch.empty(n, n, dtype=torch.long, device=vals.device)
        p = torch.arange(i.shape[0], device=vals.device)
        pos[i, j] = p
        pos[j, i] = p
        ctx.n = n
        out = vals.index_select(-1, pos.view(-1))  # (..., N * N)
        return out.view(*vals.shape[:-1], n, n)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        n = ctx.n
        i, j = tril_indices(n, grad.device)
        g = grad + grad.transpose(-1, -2)  # (..., N, N)
        g.diagonal(dim1=-2, dim2=-1).mul_(0.5)
        return g.flatten(-2).index_select(-1, i * n + j), None


def tril_to_symmetric(vals: torch.Tensor, n: int) -> torch.Tensor:
    """Spread per-pair values on ``i >= j`` to a symmetric matrix: (..., P) -> (..., N, N)."""
    if vals.shape[-1] != n * (n + 1) // 2:
        raise ValueError(
            f"tril_to_symmetric: last axis {vals.shape[-1]} != n (n + 1) / 2 for n = {n}"
        )
    return _TrilToSymmetric.apply(vals, n)
