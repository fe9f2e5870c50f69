"""A conditional Wasserstein GAN with gradient penalty for calorimeter showers (CaloGAN-like).

CaloGAN (Paganini, de Oliveira, Nachman, arXiv:1705.02355) generated the three-layer ECAL's cells
with a GAN conditioned on the incident energy; the Wasserstein loss with a gradient penalty
(Gulrajani et al., arXiv:1704.00028) makes such training stable. Here the generator maps
``(z, context)`` to the transformed cell fractions of :mod:`colliderlab.generative.base` through a
ReLU output (exact zeros: sparse showers) and the critic scores ``(t(x), context, E_dep/E_inc)``.
The critic takes ``n_critic`` steps per generator step, counted across the trainer's batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from colliderlab.generative.base import CaloGenerator, energy_fraction, to_unit
from colliderlab.models.registry import register_model
from colliderlab.nn.layers import mlp

__all__ = ["CaloGANConfig", "CaloWGAN"]


@dataclass(frozen=True)
class CaloGANConfig:
    """Generator and critic widths, latent size, WGAN-GP settings (Adam betas 0.5, 0.9)."""

    n_features: int
    n_context: int = 2
    n_classes: int = 1
    latent: int = 64
    generator: tuple[int, ...] = (256, 512, 1024)
    critic: tuple[int, ...] = (1024, 512, 256)
    gp_weight: float = 10.0
    n_critic: int = 5


@register_model(
    "calo_wgan",
    tasks=("generator",),
    config=CaloGANConfig,
    representations=("calo",),
    presets={"paper": {}, "lite": {"latent": 32, "generator": (128, 256), "critic": (256, 128)}},
    reference="arXiv:1705.02355, 1704.00028",
)
class CaloWGAN(CaloGenerator):
    """WGAN-GP shower generator.

    Shapes: ``x`` (B, n_cells) fractions of E_inc, ``cond`` (B, n_context), ``label`` (B,).
    """

    def __init__(self, config: CaloGANConfig) -> None:
        super().__init__()
        self.config = config
        c = self.context_dim
        g_dims = (config.latent + c, *config.generator, config.n_features)
        self.generator = nn.Sequential(mlp(g_dims, nn.ReLU, last_activation=False), nn.ReLU())
        self.critic = mlp((config.n_features + c + 1, *config.critic, 1), lambda: nn.LeakyReLU(0.2), last_activation=False)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))  # critic steps taken

    def sample_unit(self, context: torch.Tensor) -> torch.Tensor:
        z = torch.randn(len(context), self.config.latent, device=context.device)
        return self.generator(torch.cat([z, context], 1))  # (B, n_cells) >= 0

    def _score(self, t: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        e_ratio = energy_fraction(t).unsqueeze(1)  # (B, 1) deposited / incident
        return self.critic(torch.cat([t, context, e_ratio], 1)).squeeze(1)  # (B,)

    def _gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        eps = torch.rand(len(real), 1, device=real.device)
        mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
        score = self._score(mix, context)
        (grad,) = torch.autograd.grad(score.sum(), mix, create_graph=True)
        return ((grad.norm(dim=1) - 1.0) ** 2).mean()

    def loss(self, x: torch.Tensor, cond: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """The critic's Wasserstein estimate per shower, E[D(real)] - E[D(fake)] terms (B,)."""
        context = self.context(cond, label)
        real = to_unit(x)
        fake = self.sample_unit(context)
        return self._score(fake, context) - self._score(real, context)

    def configure_optimizers(self, config):
        betas = (0.5, 0.9)
        return [torch.optim.Adam(self.critic.parameters(), lr=config.lr, betas=betas),
                torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=betas)]

    def training_step(self, batch, ctx):
        context = self.context(batch["cond"], batch["label"])
        real = to_unit(batch["x"], noise=True)
        with torch.no_grad():
            fake = self.sample_unit(context)
        w = self._score(real, context).mean() - self._score(fake, context).mean()
        gp = self._gradient_penalty(real, fake, context)
        ctx.step(-w + self.config.gp_weight * gp, ctx.optimizers[0], self.critic.parameters())
        self.steps += 1
        out = {"loss": float(-w.detach()), "wasserstein": float(w.detach()), "gp": float(gp.detach())}
        if int(self.steps) % self.config.n_critic == 0:
            g_loss = -self._score(self.sample_unit(context), context).mean()
            ctx.step(g_loss, ctx.optimizers[1], self.generator.parameters())
            out["g_loss"] = float(g_loss.detach())
        return out

    def validation_step(self, batch):
        """``loss``: the critic's Wasserstein estimate between validation and generated showers."""
        with torch.no_grad():
            context = self.context(batch["cond"], batch["label"])
            w = self._score(to_unit(batch["x"]), context).mean() - self._score(self.sample_unit(context), context).mean()
        return {"loss": float(w), "wasserstein": float(w)}

