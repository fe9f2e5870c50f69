"""The latent filters of an Energy Flow Network (Komiske, Metodiev, Thaler, arXiv:1810.05165).

An EFN sums ``z_i Phi(eta_i, phi_i)`` over the particles: each latent component ``Phi_l`` is a
filter over the (Delta eta, Delta phi) plane, which the paper draws as the region where it is
large. :func:`efn_filters` evaluates ``Phi`` on a grid; :func:`filter_usage` ranks the filters by
how strongly the jets of each class fill them (the class means of ``sum_i z_i Phi_l``).

Shapes: filters (L, G, G) over a G x G grid of [-extent, extent]^2 (rows: Delta eta, columns:
Delta phi); usage (C, L).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["efn_filters", "filter_usage"]


def efn_filters(model: Any, extent: float = 0.8, n_grid: int = 81) -> tuple[np.ndarray, np.ndarray]:
    """``Phi`` of an :class:`~colliderlab.models.pfn.EnergyFlowNetwork` on a grid: (L, G, G) and the
    grid's axis (G,)."""
    import torch

    if not hasattr(model, "phi") or model.input_names[:1] != ("coords",):
        raise TypeError(f"latent filters need an EnergyFlowNetwork, got {type(model).__name__}")
    axis = np.linspace(-extent, extent, n_grid)
    eta, phi = np.meshgrid(axis, axis, indexing="ij")
    pts = torch.as_tensor(np.stack([eta.ravel(), phi.ravel()], -1), dtype=torch.float32,
                          device=next(model.parameters()).device)
    model.eval()
    with torch.no_grad():
        out = model.phi(pts).cpu().numpy()  # (G*G, L)
    return out.T.reshape(-1, n_grid, n_grid), axis


def filter_usage(model: Any, coords: np.ndarray, p4: np.ndarray, mask: np.ndarray, labels: np.ndarray,
                 n_classes: int) -> np.ndarray:
    """Class means (C, L) of the latent sums ``sum_i z_i Phi_l(eta_i, phi_i)``."""
    import torch

    device = next(model.parameters()).device
    c, p, m = (torch.as_tensor(a, device=device) for a in (coords, p4, mask))
    with torch.no_grad():
        pt = torch.sqrt(p[..., 1] ** 2 + p[..., 2] ** 2) * m.float()
        z = pt / pt.sum(1, keepdim=True).clamp(min=1e-12)
        latent = torch.einsum("bnl,bn->bl", model.phi(c.float()), z).cpu().numpy()  # (B, L)
    return np.stack([latent[labels == k].mean(0) if (labels == k).any() else np.zeros(latent.shape[1])
                     for k in range(n_classes)])
