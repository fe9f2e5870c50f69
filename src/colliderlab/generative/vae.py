"""A conditional variational autoencoder for calorimeter showers.

Kingma & Welling (arXiv:1312.6114), conditioned on incident energy, angle and particle type as
in the fast-simulation VAEs of the LHC experiments (e.g. ATLAS, arXiv:2211.10295's comparisons).
Encoder ``q(z | t(x), c)`` and decoder ``t(x) ~ dec(z, c)`` on the transformed cells of
:mod:`colliderlab.generative.base`; the loss is the per-cell mean squared error in the
transformed space plus ``beta`` times the KL divergence to the unit Gaussian, and a term matching
the deposited energy fraction (the quantity a calorimeter user checks first). Sampling draws
``z ~ N(0, 1)`` and decodes through a ReLU (exact zeros: sparse showers).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from colliderlab.generative.base import CaloGenerator, energy_fraction, to_unit
from colliderlab.models.registry import register_model
from colliderlab.nn.layers import mlp

__all__ = ["CaloVAEConfig", "CaloVAE"]


@dataclass(frozen=True)
class CaloVAEConfig:
    n_features: int
    n_context: int = 2
    n_classes: int = 1
    latent: int = 32
    hidden: tuple[int, ...] = (512, 256)
    beta: float = 1e-3
    energy_weight: float = 1.0


def _leaky() -> nn.Module:
    return nn.LeakyReLU(0.1)


@register_model(
    "calo_vae",
    tasks=("generator",),
    config=CaloVAEConfig,
    representations=("calo",),
    presets={"paper": {"latent": 64, "hidden": (1024, 512, 256)}, "lite": {}},
    reference="arXiv:1312.6114",
)
class CaloVAE(CaloGenerator):
    """Conditional VAE shower generator.

    Shapes: ``x`` (B, n_cells) fractions of E_inc, ``cond`` (B, n_context), ``label`` (B,).
    """

    def __init__(self, config: CaloVAEConfig) -> None:
        super().__init__()
        self.config = config
        c, h = self.context_dim, tuple(config.hidden)
        self.encoder = mlp((config.n_features + c, *h), _leaky)
        self.to_stats = nn.Linear(h[-1], 2 * config.latent)
        self.decoder = nn.Sequential(mlp((config.latent + c, *h[::-1]), _leaky), nn.Linear(h[0], config.n_features), nn.ReLU())

    def encode(self, t: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.to_stats(self.encoder(torch.cat([t, context], 1))).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)  # (B, L) each

    def decode(self, z: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.cat([z, context], 1))  # (B, n_cells) >= 0

    def loss(self, x: torch.Tensor, cond: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """Per-shower loss: MSE per cell + beta KL + energy-fraction match. (B,)"""
        context = self.context(cond, label)
        t = to_unit(x, noise=self.training)
        mu, logvar = self.encode(t, context)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        rec = self.decode(z, context)
        mse = ((rec - t) ** 2).mean(1)
        kl = 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(1)
        energy = (energy_fraction(rec) - energy_fraction(t)) ** 2
        return mse + self.config.beta * kl + self.config.energy_weight * energy

    def sample_unit(self, context: torch.Tensor) -> torch.Tensor:
        z = torch.randn(len(context), self.config.latent, device=context.device)
        return self.decode(z, context)
