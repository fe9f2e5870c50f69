"""What every calorimeter-shower generator shares: the input convention, the invertible transform
of cell energies, and the conditioning vector.

Inputs (the ``calo`` representation): ``x`` (B, n_cells) cell energies divided by the incident
energy, ``cond`` (B, n_context) = (log10(E_inc / GeV) scaled to about [-1, 1], incidence angle),
``label`` (B,) particle type. Generators model ``t(x)`` with

    t(x) = log((x + delta u) / delta + 1) / log(1 / delta + 1),    u ~ U(0, 1) in training only,

(dequantisation noise below the smallest meaningful deposit, ``delta`` = 1e-6 of E_inc: 0.1 MeV at
100 GeV, the evaluation's readout threshold :data:`colliderlab.generative.fidelity.MIN_ENERGY`), which
maps [0, 1] to [0, 1] with empty cells at 0; :func:`from_unit` inverts it and sets cells below
``delta`` to exactly zero, so generated showers keep their sparsity.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["DELTA", "to_unit", "from_unit", "energy_fraction", "CaloGenerator"]

DELTA = 1.0e-6
_SCALE = math.log(1.0 / DELTA + 1.0)


def to_unit(x: torch.Tensor, noise: bool = False) -> torch.Tensor:
    """Cell fractions (B, n) -> transformed values in about [0, 1] (dequantised when ``noise``)."""
    if noise:
        x = x + DELTA * torch.rand_like(x)
    return torch.log1p(x.clamp(min=0.0) / DELTA) / _SCALE


def from_unit(t: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_unit`; cells below ``DELTA`` become exactly 0 and no cell exceeds the
    incident energy (t <= 1). (B, n) -> (B, n)."""
    x = (torch.expm1(t.clamp(min=0.0, max=1.0) * _SCALE) * DELTA).clamp(max=1.0)
    return torch.where(x > DELTA, x, torch.zeros_like(x))


def energy_fraction(t: torch.Tensor) -> torch.Tensor:
    """Deposited over incident energy of transformed showers, differentiable. (B, n) -> (B,)"""
    return (torch.expm1(t.clamp(min=0.0, max=1.0) * _SCALE) * DELTA).sum(1)


class CaloGenerator(nn.Module):
    """Base class: ``input_names``, the conditioning vector, and ``sample``.

    Subclasses define ``config`` (with ``n_features``, ``n_context``, ``n_classes``),
    ``training_step``/``validation_step``/``configure_optimizers`` for the trainer, and
    ``sample_unit(context) -> (B, n_features)`` in the transformed space.
    """

    input_names = ("x", "cond", "label")
    generative = True

    def context(self, cond: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """(B, n_context) and (B,) -> (B, n_context [+ n_classes one-hot])."""
        if self.config.n_classes > 1:
            onehot = nn.functional.one_hot(label.long().clamp(0, self.config.n_classes - 1), self.config.n_classes)
            return torch.cat([cond.float(), onehot.to(cond.dtype)], 1)
        return cond.float()

    @property
    def context_dim(self) -> int:
        return self.config.n_context + (self.config.n_classes if self.config.n_classes > 1 else 0)

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        """Generate one shower per row: cell fractions of the incident energy, (B, n_features)."""
        if label is None:
            label = torch.zeros(len(cond), dtype=torch.long, device=cond.device)
        self.eval()
        return from_unit(self.sample_unit(self.context(cond, label)))

    # A likelihood-style generator (VAE, flow) trains its per-shower ``loss`` with one Adam; the
    # GAN overrides these three with its two players.
    def configure_optimizers(self, config):
        return [torch.optim.Adam(self.parameters(), lr=config.lr)]

    def training_step(self, batch, ctx):
        loss = self.loss(batch["x"], batch["cond"], batch["label"]).mean()
        ctx.step(loss, ctx.optimizers[0])
        return {"loss": float(loss.detach())}

    def validation_step(self, batch):
        with torch.no_grad():
            return {"loss": float(self.loss(batch["x"], batch["cond"], batch["label"]).mean())}

    def forward(self, x: torch.Tensor, cond: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """A generator's forward is its per-shower training loss (B,) (used for export checks)."""
        return self.loss(x, cond, label)
