"""Adversary networks for adversarial decorrelation (Louppe, Kagan and Cranmer, arXiv:1611.01046;
Shimmin et al., arXiv:1703.03507).

An adversary reads the classifier's signal score and tries to predict a nuisance: the bin of the jet
mass (:class:`BinAdversary`, also used for a categorical nuisance such as the generator variation a jet
came from), or the mass itself through a Gaussian mixture density (:class:`MixtureAdversary`). Its
``loss(score, target, weight)`` is the weighted negative log-likelihood of the nuisance given the
score; the classifier is trained to make it large.

Shapes: ``score`` (B,) in [0, 1]; ``target`` (B,) int64 class indices (bins) or float (mixture);
``weight`` (B,).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["BinAdversary", "MixtureAdversary"]


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, n_out))


def _features(score: torch.Tensor) -> torch.Tensor:
    """(B,) score -> (B, 2): the score and its logit (clamped), so that both ends are resolved."""
    s = score.float().clamp(1e-6, 1 - 1e-6)
    return torch.stack([s, torch.log(s) - torch.log1p(-s)], dim=1) * torch.tensor([1.0, 0.1], device=s.device)


def _weighted_mean(per: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (per * weight).sum() / weight.sum().clamp_min(1e-12)


class BinAdversary(nn.Module):
    """Predicts one of ``n_classes`` (mass bins, or generator variations) from the score."""

    def __init__(self, n_classes: int, hidden: int = 32) -> None:
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"an adversary needs at least 2 classes to predict, got {n_classes}")
        self.net = _mlp(2, hidden, n_classes)

    def forward(self, score: torch.Tensor) -> torch.Tensor:
        """(B,) -> (B, n_classes) logits."""
        return self.net(_features(score))

    def loss(self, score: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        per = nn.functional.cross_entropy(self(score), target.long(), reduction="none")
        return _weighted_mean(per, weight)


class MixtureAdversary(nn.Module):
    """A mixture density network (Bishop 1994; the adversary of arXiv:1611.01046): ``n_components``
    Gaussians whose weights, means and widths depend on the score model p(target | score). The target
    should be standardised (the caller does it)."""

    def __init__(self, n_components: int = 5, hidden: int = 32) -> None:
        super().__init__()
        self.k = n_components
        self.net = _mlp(2, hidden, 3 * n_components)

    def forward(self, score: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B,) -> log mixture weights, means, log widths, each (B, K)."""
        out = self.net(_features(score))
        logits, mu, log_sigma = out.split(self.k, dim=1)
        return torch.log_softmax(logits, dim=1), mu, log_sigma.clamp(-5.0, 3.0)

    def loss(self, score: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        log_pi, mu, log_sigma = self(score)
        z = (target.float()[:, None] - mu) * torch.exp(-log_sigma)
        log_n = -0.5 * z**2 - log_sigma - 0.5 * math.log(2 * math.pi)
        per = -torch.logsumexp(log_pi + log_n, dim=1)
        return _weighted_mean(per, weight)
