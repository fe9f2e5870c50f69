"""Conditional flow matching for calorimeter showers, with a normalizing flow for layer energies.

Flow matching (Lipman et al., arXiv:2210.02747; rectified flow, Liu et al., arXiv:2209.03003)
learns a velocity field ``v(x_t, t | c)`` whose ODE carries Gaussian noise ``x_0`` to showers
``x_1``: with ``x_t = (1 - t) x_0 + t x_1`` the regression target is ``x_1 - x_0``; sampling
integrates ``dx/dt = v`` from t = 0 to 1 (midpoint rule, ``steps`` steps). CaloDREAM
(arXiv:2405.09629) and CaloFlow (arXiv:2106.05285) factorise a shower the way done here:

1. an *energy* flow (:class:`~colliderlab.generative.flow.ConditionalFlow`, rational-quadratic
   splines) learns ``p(E_1..E_L | E_inc, angle, particle)``, the energy deposited in each layer;
2. the velocity network learns the cells given the incident *and* the layer energies;
3. each generated layer is rescaled to exactly the energy the first step drew.

Cells are modelled in the transformed space of :mod:`colliderlab.generative.base` (dequantised
log fractions), standardised per cell. The per-cell (and per-layer-energy) means and widths are
set from the training set before the first step (:meth:`CaloFlowMatching.initialise_from`, called
by the trainer; from the first batch when the model is trained by hand), a data-dependent
initialisation as ActNorm in Glow (arXiv:1807.03039), saved with the weights. So is each cell's
largest transformed value seen in training: generated cells are clipped to it, since a rare ODE
trajectory that overshoots puts a large deposit in a far cell, which no simulated shower has
and which moves centroids and widths. An exponential moving average of the velocity
network's weights (``ema``) is what validation and sampling use.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from colliderlab.generative.base import DELTA, CaloGenerator, from_unit, to_unit
from colliderlab.generative.flow import ConditionalFlow
from colliderlab.models.registry import register_model

__all__ = ["CaloFMConfig", "CaloFlowMatching", "VelocityNet"]

_MIN_STD = 0.05  # floor on a cell's width in the transformed space (rarely hit cells)


@dataclass(frozen=True)
class CaloFMConfig:
    """Velocity network (``blocks`` residual blocks of width ``hidden`` with adaptive layer norm on
    time and context), ODE ``steps`` at sampling, weight EMA, and the layer-energy flow.

    ``layer_shapes`` (from the ``calo`` representation's geometry) says which cells form a layer;
    empty means one layer of all cells."""

    n_features: int
    n_context: int = 2
    n_classes: int = 1
    layer_shapes: tuple[tuple[int, int], ...] = ()
    hidden: int = 512
    blocks: int = 4
    time_features: int = 8
    steps: int = 24
    ema: float = 0.999
    energy_flow: bool = True
    energy_transforms: int = 4
    energy_hidden: tuple[int, ...] = (64, 64)
    standardise: str = "cell"  # "cell": per-cell mean/width; "layer": one per layer; "global": one for all

    def __post_init__(self) -> None:
        if self.standardise not in ("cell", "layer", "global"):
            raise ValueError(f"CaloFMConfig.standardise must be one of cell, layer, global; got {self.standardise!r}")
        if self.layer_shapes and sum(a * b for a, b in self.layer_shapes) != self.n_features:
            raise ValueError(f"layer_shapes {self.layer_shapes} have {sum(a * b for a, b in self.layer_shapes)} "
                             f"cells, but n_features = {self.n_features}")
        if self.steps < 1:
            raise ValueError(f"CaloFMConfig.steps must be >= 1, got {self.steps}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"CaloFMConfig.ema must be in [0, 1), got {self.ema}")


class _Block(nn.Module):
    """Pre-norm residual MLP block; the condition sets the norm's scale and shift (adaLN)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.mod = nn.Linear(width, 2 * width)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        nn.init.zeros_(self.mod.weight)
        nn.init.zeros_(self.mod.bias)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        scale, shift = self.mod(c).chunk(2, dim=1)  # (B, W) each
        return h + self.mlp(self.norm(h) * (1.0 + scale) + shift)  # (B, W)


class VelocityNet(nn.Module):
    """``v(x_t, t, c)``: (B, D), (B,), (B, C) -> (B, D)."""

    def __init__(self, features: int, context: int, hidden: int = 512, blocks: int = 4, time_features: int = 8) -> None:
        super().__init__()
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(time_features, dtype=torch.float32))
        self.inp = nn.Linear(features, hidden)
        self.cond = nn.Sequential(nn.Linear(context + 2 * time_features + 1, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.blocks = nn.ModuleList(_Block(hidden) for _ in range(blocks))
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, features))
        nn.init.zeros_(self.out[1].weight)
        nn.init.zeros_(self.out[1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        tf = t[:, None] * self.freqs  # (B, T)
        emb = self.cond(torch.cat([c, t[:, None], tf.sin(), tf.cos()], 1))  # (B, W)
        h = self.inp(x)  # (B, W)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h)  # (B, D)


@register_model(
    "calo_fm",
    tasks=("generator",),
    config=CaloFMConfig,
    representations=("calo",),
    presets={"paper": {"hidden": 1024, "blocks": 6, "steps": 32}, "lite": {"hidden": 384, "blocks": 3, "steps": 16}},
    reference="arXiv:2210.02747, 2405.09629, 2106.05285",
)
class CaloFlowMatching(CaloGenerator):
    """Layer-energy flow + conditional flow matching on cells.

    Shapes: ``x`` (B, n_cells) fractions of E_inc, ``cond`` (B, n_context), ``label`` (B,).
    """

    def __init__(self, config: CaloFMConfig) -> None:
        super().__init__()
        self.config = config
        sizes = [a * b for a, b in config.layer_shapes] or [config.n_features]
        self.register_buffer("layer_of_cell", torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes)))
        n_layers = len(sizes)
        self.n_layers = n_layers
        e_dim = n_layers if config.energy_flow else 0
        self.velocity = VelocityNet(config.n_features, self.context_dim + e_dim, config.hidden, config.blocks,
                                    config.time_features)
        self.velocity_ema = copy.deepcopy(self.velocity).requires_grad_(False)
        self.energy = (ConditionalFlow(n_layers, self.context_dim, kind="nsf", transforms=config.energy_transforms,
                                       hidden=tuple(config.energy_hidden)) if config.energy_flow else None)
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))
        self.register_buffer("cell_mean", torch.zeros(config.n_features))
        self.register_buffer("cell_std", torch.ones(config.n_features))
        self.register_buffer("energy_mean", torch.zeros(n_layers))
        self.register_buffer("energy_std", torch.ones(n_layers))
        self.register_buffer("cell_max", torch.ones(config.n_features))  # transformed space

    # -- transforms ---------------------------------------------------------------------------

    def layer_energies(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n_cells) fractions -> (B, n_layers) layer fractions of E_inc."""
        out = torch.zeros(len(x), self.n_layers, dtype=x.dtype, device=x.device)
        return out.index_add_(1, self.layer_of_cell, x)

    @torch.no_grad()
    def _initialise(self, x: torch.Tensor) -> None:
        t = to_unit(x, noise=True)
        e = to_unit(self.layer_energies(x), noise=True)
        if self.config.standardise == "cell":
            mean, std = t.mean(0), t.std(0)
        elif self.config.standardise == "layer":  # (L,) statistics broadcast to the layer's cells
            idx = self.layer_of_cell
            count = torch.bincount(idx).to(t.dtype) * len(t)
            mean_l = torch.zeros(self.n_layers, dtype=t.dtype, device=t.device).index_add_(0, idx, t.sum(0)) / count
            sq = torch.zeros_like(mean_l).index_add_(0, idx, ((t - mean_l[idx]) ** 2).sum(0))
            mean, std = mean_l[idx], (sq / count).sqrt()[idx]
        else:
            mean, std = t.mean().expand_as(t[0]), t.std().expand_as(t[0])
        self.cell_mean.copy_(mean)
        self.cell_std.copy_(std.clamp(min=_MIN_STD))
        self.energy_mean.copy_(e.mean(0))
        self.energy_std.copy_(e.std(0).clamp(min=1e-3))
        self.cell_max.copy_(t.max(0).values)
        self.initialised.fill_(True)

    @torch.no_grad()
    def initialise_from(self, train, max_rows: int = 20000) -> None:
        """Standardisation constants from up to ``max_rows`` training showers (a fixed random
        subset) and the per-cell maxima from all of them. ``train``: a dataset with ``arrays["x"]``
        (N, n_cells) fractions of E_inc."""
        x = torch.as_tensor(train.arrays["x"], dtype=torch.float32)
        gen = torch.Generator().manual_seed(0)
        pick = torch.randperm(len(x), generator=gen)[:max_rows]
        self._initialise(x[pick].to(self.cell_mean.device))
        for chunk in x.split(8192):  # (n, D) -> running maximum in the transformed space
            torch.maximum(self.cell_max, to_unit(chunk.to(self.cell_max.device)).max(0).values, out=self.cell_max)

    def _inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised transformed cells (B, D) and layer energies (B, L), dequantised."""
        if self.training and not bool(self.initialised):
            self._initialise(x)
        t = to_unit(x, noise=True)
        if self.training:  # keep the support of every cell (batches beyond the initialisation)
            torch.maximum(self.cell_max, t.detach().max(0).values, out=self.cell_max)
        y = (t - self.cell_mean) / self.cell_std
        e = (to_unit(self.layer_energies(x), noise=True) - self.energy_mean) / self.energy_std
        return y, e

    # -- training -----------------------------------------------------------------------------

    def loss(self, x: torch.Tensor, cond: torch.Tensor, label: torch.Tensor, net: nn.Module | None = None) -> torch.Tensor:
        """Flow-matching squared error per cell (mean) + layer-energy NLL per layer. (B,)"""
        context = self.context(cond, label)
        y1, e = self._inputs(x)
        y0 = torch.randn_like(y1)
        t = torch.sigmoid(torch.randn(len(y1), device=y1.device))  # logit-normal times (arXiv:2403.03206)
        yt = (1.0 - t[:, None]) * y0 + t[:, None] * y1
        c = torch.cat([context, e], 1) if self.energy is not None else context
        v = (net or self.velocity)(yt, t, c)
        loss = ((v - (y1 - y0)) ** 2).mean(1)
        if self.energy is not None:
            loss = loss - self.energy.log_prob(e, context) / self.n_layers
        return loss

    def configure_optimizers(self, config):
        params = [p for p in self.parameters() if p.requires_grad]
        return [torch.optim.Adam(params, lr=config.lr)]

    def training_step(self, batch, ctx):
        out = super().training_step(batch, ctx)
        with torch.no_grad():
            if int(ctx.step_index) == 0 or self.config.ema == 0.0:
                decay = 0.0
            else:
                decay = min(self.config.ema, (1.0 + ctx.step_index) / (10.0 + ctx.step_index))
            for p_ema, p in zip(self.velocity_ema.parameters(), self.velocity.parameters(), strict=True):
                p_ema.lerp_(p, 1.0 - decay)
        return out

    def validation_step(self, batch):
        with torch.no_grad():
            loss = self.loss(batch["x"], batch["cond"], batch["label"], net=self.velocity_ema)
        return {"loss": float(loss.mean())}

    # -- sampling -----------------------------------------------------------------------------

    @torch.no_grad()
    def sample_energies(self, context: torch.Tensor) -> torch.Tensor:
        """Standardised layer energies (B, L) from the energy flow."""
        return self.energy.sample(context)

    @torch.no_grad()
    def sample_unit(self, context: torch.Tensor) -> torch.Tensor:
        net = self.velocity_ema
        c = context
        if self.energy is not None:
            e = self.sample_energies(context)
            c = torch.cat([context, e], 1)
        y = torch.randn(len(context), self.config.n_features, device=context.device)
        n = self.config.steps
        for k in range(n):  # midpoint rule
            t = torch.full((len(y),), k / n, device=y.device)
            y_mid = y + 0.5 / n * net(y, t, c)
            y = y + net(y_mid, t + 0.5 / n, c) / n
        x = from_unit(torch.minimum(y * self.cell_std + self.cell_mean, self.cell_max))  # (B, D) fractions, sparse
        if self.energy is not None:  # each layer carries exactly the energy the energy flow drew
            target = from_unit(e * self.energy_std + self.energy_mean)  # (B, L)
            for _ in range(3):  # cells pushed below DELTA are dropped, the rest rescaled again
                have = self.layer_energies(x)
                scale = torch.where(have > 0, target / have.clamp(min=1e-30), torch.zeros_like(have))
                x = (x * scale[:, self.layer_of_cell]).clamp(max=1.0)
                x = torch.where(x > DELTA, x, torch.zeros_like(x))
        return to_unit(x)
