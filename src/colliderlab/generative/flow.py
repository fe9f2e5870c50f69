"""Conditional normalizing flows (zuko), for calorimeter showers and, reused, for CATHODE.

:class:`ConditionalFlow` is a thin, reusable density ``p(x | c)``: masked autoregressive
transforms (MAF, arXiv:1705.07057) or rational-quadratic neural spline flows (NSF,
arXiv:1906.04032) from ``zuko``, with ``log_prob(x, c)`` and ``sample(c)``. Issue #6's CATHODE
learns the sideband density of (m_J1, Delta m_J, tau21s) given m_JJ with it and samples it into the
signal region.

:class:`CaloFlow` wraps it as a calorimeter generator (CaloFlow-like, arXiv:2106.05285): the
transformed cell fractions of :mod:`colliderlab.generative.base`, conditioned on the incident
energy, angle and particle type; trained by maximum likelihood with the shared trainer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from colliderlab.generative.base import CaloGenerator, to_unit
from colliderlab.models.registry import register_model

__all__ = ["ConditionalFlow", "CaloFlowConfig", "CaloFlow", "FLOW_KINDS"]

FLOW_KINDS = ("maf", "nsf")


class ConditionalFlow(nn.Module):
    """``p(x | c)`` with ``transforms`` autoregressive layers.

    Shapes: ``x`` (B, D), ``c`` (B, C) -> ``log_prob`` (B,); ``sample(c)`` -> (B, D).

    Args:
        features: D. context: C (0 for an unconditional flow).
        kind: ``"maf"`` (affine) or ``"nsf"`` (rational-quadratic splines, ``bins`` knots).
        passes: ``None`` for fully autoregressive transforms (best density, sampling takes D
            network passes), 2 for coupling transforms (sampling in 2 passes: fast for many cells).
    """

    def __init__(self, features: int, context: int, *, kind: str = "maf", transforms: int = 4,
                 hidden: tuple[int, ...] = (256, 256), bins: int = 8, passes: int | None = None) -> None:
        super().__init__()
        import zuko

        if kind not in FLOW_KINDS:
            raise ValueError(f"unknown flow kind {kind!r}; valid: {', '.join(FLOW_KINDS)}")
        if features < 1:
            raise ValueError(f"a flow needs at least one feature, got {features}")
        common = {"features": features, "context": context, "transforms": transforms,
                  "hidden_features": tuple(hidden), "passes": passes}
        self.flow = zuko.flows.MAF(**common) if kind == "maf" else zuko.flows.NSF(**common, bins=bins)
        self.features, self.n_context = features, context

    def _dist(self, c: torch.Tensor | None):
        return self.flow(c if self.n_context else None)

    def log_prob(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self._dist(c).log_prob(x)  # (B,)

    @torch.no_grad()
    def sample(self, c: torch.Tensor | None = None, n: int | None = None) -> torch.Tensor:
        """One sample per context row (or ``n`` samples unconditionally)."""
        if self.n_context:
            return self._dist(c).sample()  # (B, D)
        return self._dist(None).sample((n or 1,))


@dataclass(frozen=True)
class CaloFlowConfig:
    """A conditional flow over all cells. ``lite`` keeps CPU training practical."""

    n_features: int
    n_context: int = 2
    n_classes: int = 1
    kind: str = "maf"
    transforms: int = 4
    passes: int | None = 2  # coupling: sampling 504 cells in 2 passes instead of 504
    hidden: tuple[int, ...] = (512, 512)
    bins: int = 8

    def __post_init__(self) -> None:
        if self.kind not in FLOW_KINDS:
            raise ValueError(f"CaloFlowConfig.kind = {self.kind!r}; valid: {', '.join(FLOW_KINDS)}")


@register_model(
    "calo_flow",
    tasks=("generator",),
    config=CaloFlowConfig,
    representations=("calo",),
    presets={"paper": {"transforms": 8, "hidden": (1024, 1024)}, "lite": {"transforms": 3, "hidden": (256, 256)}},
    reference="arXiv:2106.05285",
)
class CaloFlow(CaloGenerator):
    """Masked autoregressive flow over the transformed cells, conditioned on energy, angle, particle.

    Shapes: ``x`` (B, n_cells) fractions of E_inc, ``cond`` (B, n_context), ``label`` (B,).
    """

    def __init__(self, config: CaloFlowConfig) -> None:
        super().__init__()
        self.config = config
        self.flow = ConditionalFlow(config.n_features, self.context_dim, kind=config.kind,
                                    transforms=config.transforms, hidden=tuple(config.hidden), bins=config.bins,
                                    passes=config.passes)

    def loss(self, x: torch.Tensor, cond: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood per shower of the dequantised transformed cells. (B,)

        The noise is drawn in validation too: the density is defined for the dequantised variable,
        and exact zeros (empty cells) would sit on its boundary and make the validation loss (and
        the choice of the best checkpoint) meaningless."""
        return -self.flow.log_prob(to_unit(x, noise=True), self.context(cond, label))

    def sample_unit(self, context: torch.Tensor) -> torch.Tensor:
        return self.flow.sample(context)
