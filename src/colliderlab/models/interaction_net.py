"""JEDI-net, an interaction network on the complete particle graph (arXiv:1908.05318).

Every ordered pair ``(i, j)``, ``i != j``, of real particles is an edge; a relational MLP ``f_R``
maps ``(x_i, x_j)`` (receiver, sender) to an edge effect ``E_ij`` (``D_E`` wide), the effects are
summed over senders, ``Ebar_i = sum_j E_ij``, an object MLP ``f_O`` maps ``(x_i, Ebar_i)`` to
``O_i`` (``D_O`` wide), the ``O_i`` are summed over the real particles (JEDI-net's permutation
invariant "sum over O" variant) and a classifier MLP ``phi_C`` gives the logits. Each MLP has two
hidden layers of ``hidden`` and ``hidden // 2`` units, every layer activated (but the output).

The relational MLP's first layer is applied per particle, ``W [x_i, x_j] = W_r x_i + W_s x_j``,
then broadcast to the dense (B, N, N, hidden) edge tensor (no (B, N, N, 2F) concatenation).

The ``paper`` preset is an approximation: the sizes of the 30-particle model in the JEDI-net
training script (``JetImageClassifier_IN_FinalTraining.py`` of the JEDInet-code repository:
``hidden`` 50, ``D_E`` 12, ``D_O`` 6, ReLU in ``f_R``, SELU in ``f_O`` and ``phi_C``), not checked
against the paper's hyper-parameter table. That script feeds the flattened ``O`` (N D_O values) to
``phi_C``, which is not permutation invariant; this sum-over-O version has fewer parameters
(7.9k with the paper's 16 features and 5 classes), so no published count is claimed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from colliderlab.models.registry import register_model
from colliderlab.nn.layers import check_input, get_activation, masked_sum

__all__ = ["InteractionNetConfig", "InteractionNet"]


@dataclass(frozen=True)
class InteractionNetConfig:
    """Hyper-parameters of :class:`InteractionNet` (activations by name: relu, selu, elu ...)."""

    n_features: int
    n_classes: int = 2
    hidden: int = 50
    edge_dim: int = 12  # D_E
    node_dim: int = 6  # D_O
    fr_activation: str = "relu"
    fo_activation: str = "selu"
    fc_activation: str = "selu"


@register_model(
    "interaction_net",
    config=InteractionNetConfig,
    representations=("particles",),
    presets={"paper": {}, "lite": {"hidden": 32, "edge_dim": 8, "node_dim": 8}},
    paper_params=None,
    reference="arXiv:1908.05318",
)
class InteractionNet(nn.Module):
    """JEDI-net interaction network (fully connected particle graph, sum over particles).

    Shapes: ``x`` (B, N, F), ``mask`` (B, N) bool -> logits (B, n_classes).
    """

    input_names = ("x", "mask")
    permutation_invariant = True

    def __init__(self, config: InteractionNetConfig) -> None:
        super().__init__()
        self.config = config
        f, h, h2 = config.n_features, config.hidden, config.hidden // 2
        act_r = get_activation(config.fr_activation)
        act_o = get_activation(config.fo_activation)
        act_c = get_activation(config.fc_activation)
        self.fr_receiver = nn.Linear(f, h)  # W_r x_i + b
        self.fr_sender = nn.Linear(f, h, bias=False)  # W_s x_j
        self.fr = nn.Sequential(
            act_r(), nn.Linear(h, h2), act_r(), nn.Linear(h2, config.edge_dim), act_r()
        )
        self.fo = nn.Sequential(
            nn.Linear(f + config.edge_dim, h),
            act_o(),
            nn.Linear(h, h2),
            act_o(),
            nn.Linear(h2, config.node_dim),
            act_o(),
        )
        self.fc = nn.Sequential(
            nn.Linear(config.node_dim, h),
            act_c(),
            nn.Linear(h, h2),
            act_c(),
            nn.Linear(h2, config.n_classes),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        check_input("x", x, ("B", "N", self.config.n_features), "interaction_net")
        check_input("mask", mask, (x.shape[0], x.shape[1]), "interaction_net")
        mask = mask.bool()
        n = x.shape[1]
        e = self.fr_receiver(x).unsqueeze(2) + self.fr_sender(x).unsqueeze(1)  # (B, N, N, H)
        e = self.fr(e)  # (B, N, N, D_E)
        eye = torch.eye(n, dtype=torch.bool, device=x.device)
        pair = mask.unsqueeze(2) & mask.unsqueeze(1) & ~eye  # (B, N, N) receiver i, sender j
        e_bar = torch.einsum("bijc,bij->bic", e, pair.to(e.dtype))  # (B, N, D_E)
        o = self.fo(torch.cat([x, e_bar], -1))  # (B, N, D_O)
        return self.fc(masked_sum(o, mask))  # (B, n_classes)
