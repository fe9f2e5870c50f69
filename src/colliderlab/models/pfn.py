"""Energy and Particle Flow Networks (Komiske, Metodiev, Thaler, arXiv:1810.05165).

A jet is a set; both models sum a per-particle latent map over the particles and classify the sum:

* PFN: ``F(sum_i Phi(x_i))`` on the full per-particle features ``x_i``;
* EFN: ``F(sum_i z_i Phi(eta_i, phi_i))`` with the energy fractions ``z_i = pT_i / sum_j pT_j``
  (computed in the model from the four-momenta) and ``Phi`` on the angular coordinates only,
  which makes the latent sum infrared and collinear safe.

Both ``Phi`` and ``F`` are ReLU MLPs; the output layer is linear (softmax in the loss). The
``paper`` preset is the top-tagging configuration with 82k parameters (the PFN entry of
arXiv:1902.08570 Table 2 and of arXiv:1902.09914): ``Phi`` widths (100, 100, 256) (latent
dimension 256, as in arXiv:1810.05165's main results) and ``F`` widths (100, 100, 100); the EFN
with the same widths has the same count up to its 2 angular inputs. A latent dimension of 128
would give 57k, not 82k.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from colliderlab.models.registry import register_model
from colliderlab.nn.layers import check_input, head, masked_sum, mlp

__all__ = ["PFNConfig", "EFNConfig", "ParticleFlowNetwork", "EnergyFlowNetwork"]


@dataclass(frozen=True)
class PFNConfig:
    """Hyper-parameters of :class:`ParticleFlowNetwork`."""

    n_features: int
    n_classes: int = 2
    phi_dims: tuple[int, ...] = (100, 100, 256)
    f_dims: tuple[int, ...] = (100, 100, 100)
    dropout: float = 0.0  # in F, after each hidden layer


@dataclass(frozen=True)
class EFNConfig:
    """Hyper-parameters of :class:`EnergyFlowNetwork` (``n_features`` unused: Phi sees eta, phi)."""

    n_features: int
    n_classes: int = 2
    phi_dims: tuple[int, ...] = (100, 100, 256)
    f_dims: tuple[int, ...] = (100, 100, 100)
    dropout: float = 0.0


_PRESETS = {"paper": {}, "lite": {"phi_dims": (64, 64, 64), "f_dims": (64, 64)}}
# the EFN's lite F is wider: the issue #20 search on the 40k top-tagging sample (BENCHMARKS.md)
_EFN_PRESETS = {"paper": {}, "lite": {"phi_dims": (64, 64, 64), "f_dims": (100, 100)}}


@register_model(
    "pfn",
    config=PFNConfig,
    representations=("particles",),
    presets=_PRESETS,
    paper_params=82_000,
    reference="arXiv:1810.05165",
)
class ParticleFlowNetwork(nn.Module):
    """Particle Flow Network ``F(sum_i Phi(x_i))``.

    Shapes: ``x`` (B, N, F), ``mask`` (B, N) bool -> logits (B, n_classes).
    """

    input_names = ("x", "mask")
    permutation_invariant = True

    def __init__(self, config: PFNConfig) -> None:
        super().__init__()
        self.config = config
        self.phi = mlp((config.n_features, *config.phi_dims))
        self.f = head(config.phi_dims[-1], config.f_dims, config.n_classes, dropout=config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        check_input("x", x, ("B", "N", self.config.n_features), "pfn")
        check_input("mask", mask, (x.shape[0], x.shape[1]), "pfn")
        latent = masked_sum(self.phi(x), mask.bool())  # (B, L)
        return self.f(latent)  # (B, n_classes)


@register_model(
    "efn",
    config=EFNConfig,
    representations=("particles",),
    presets=_EFN_PRESETS,
    paper_params=82_000,
    reference="arXiv:1810.05165",
)
class EnergyFlowNetwork(nn.Module):
    """Energy Flow Network ``F(sum_i z_i Phi(eta_i, phi_i))`` (IRC safe).

    Shapes: ``coords`` (B, N, 2) (Delta eta, Delta phi), ``p4`` (B, N, 4) (E, px, py, pz) in GeV,
    ``mask`` (B, N) bool -> logits (B, n_classes).
    """

    input_names = ("coords", "p4", "mask")
    permutation_invariant = True

    def __init__(self, config: EFNConfig) -> None:
        super().__init__()
        self.config = config
        self.phi = mlp((2, *config.phi_dims))
        self.f = head(config.phi_dims[-1], config.f_dims, config.n_classes, dropout=config.dropout)

    def forward(self, coords: torch.Tensor, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        check_input("coords", coords, ("B", "N", 2), "efn")
        check_input("p4", p4, (coords.shape[0], coords.shape[1], 4), "efn")
        check_input("mask", mask, (coords.shape[0], coords.shape[1]), "efn")
        pt = torch.sqrt(p4[..., 1] ** 2 + p4[..., 2] ** 2) * mask.to(p4.dtype)  # (B, N); ONNX has no Hypot
        z = pt / pt.sum(1, keepdim=True).clamp(min=1e-12)  # (B, N)
        return self.f(torch.einsum("bnl,bn->bl", self.phi(coords), z))  # (B, n_classes)
