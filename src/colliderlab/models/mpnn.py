"""Message-passing neural network for jets (Henrion et al., "Neural Message Passing for Jet
Physics", Deep Learning for Physical Sciences workshop, NIPS 2017).

Particles are the nodes of a fully connected graph whose weighted adjacency matrix is computed by
the network: ``A_ij = softmax_j(a_ij)`` over the real particles ``j``, with either

* ``adjacency="learned"``: ``a_ij = w . ReLU(U h_i + V h_j + c)`` from the current node states
  (recomputed at every iteration), or
* ``adjacency="distance"``: ``a_ij = -(Delta R_ij)^2 / s`` from the angular coordinates, with a
  learned scale ``s``;

optionally symmetrised, ``A <- (A + A^T) / 2`` (the "symmetric" variant; rows of padded particles
are zeroed first). Each of ``iterations`` message-passing rounds sends ``m_i = sum_j A_ij W h_j``
and updates the node states with a GRU cell, ``h_i <- GRU(m_i, h_i)`` (weights shared across
rounds, as in Gilmer et al., arXiv:1704.01212). The readout sums the node states over the real
particles and an MLP classifies the sum.

The ``paper`` preset is an approximation (node states of width 64, 2 rounds, learned directed
adjacency with a 32-wide scoring MLP, readout MLP 64); the workshop paper gives no parameter
count to compare with.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from colliderlab.models.registry import register_model
from colliderlab.nn.attention import key_padding_bias
from colliderlab.nn.layers import check_input, head, masked_sum

__all__ = ["MPNNConfig", "MPNN"]

ADJACENCIES = ("learned", "distance")


@dataclass(frozen=True)
class MPNNConfig:
    """Hyper-parameters of :class:`MPNN`."""

    n_features: int
    n_classes: int = 2
    hidden: int = 64
    iterations: int = 2
    adjacency: str = "learned"  # "learned" | "distance"
    symmetric: bool = False
    adjacency_hidden: int = 32
    readout_dims: tuple[int, ...] = (64,)
    dropout: float = 0.0


@register_model(
    "mpnn",
    config=MPNNConfig,
    representations=("particles",),
    presets={"paper": {}, "lite": {"hidden": 32, "adjacency_hidden": 16, "readout_dims": (32,)}},
    paper_params=None,
    reference="Henrion et al., DLPS 2017 (NIPS workshop)",
)
class MPNN(nn.Module):
    """Message-passing network with a learned (or distance-based) adjacency and GRU updates.

    Shapes: ``x`` (B, N, F), ``coords`` (B, N, 2) (Delta eta, Delta phi; used by the distance
    adjacency), ``mask`` (B, N) bool -> logits (B, n_classes).
    """

    input_names = ("x", "coords", "mask")
    permutation_invariant = True

    def __init__(self, config: MPNNConfig) -> None:
        super().__init__()
        if config.adjacency not in ADJACENCIES:
            raise ValueError(
                f"unknown adjacency {config.adjacency!r}; valid: {', '.join(ADJACENCIES)}"
            )
        if config.iterations < 1:
            raise ValueError(f"MPNNConfig.iterations must be >= 1, got {config.iterations}")
        self.config = config
        h = config.hidden
        self.embed = nn.Sequential(nn.Linear(config.n_features, h), nn.ReLU())
        if config.adjacency == "learned":
            self.adj_i = nn.Linear(h, config.adjacency_hidden)
            self.adj_j = nn.Linear(h, config.adjacency_hidden, bias=False)
            self.adj_out = nn.Linear(config.adjacency_hidden, 1, bias=False)
        else:
            self.log_scale = nn.Parameter(torch.tensor(-3.0))  # s = exp(log_scale) ~ (0.2)^2
        self.message = nn.Linear(h, h)
        self.update = nn.GRUCell(h, h)
        self.readout = head(h, config.readout_dims, config.n_classes, dropout=config.dropout)

    def _adjacency(
        self, h: torch.Tensor, coords: torch.Tensor, key_bias: torch.Tensor
    ) -> torch.Tensor:
        """Row-stochastic adjacency over the real columns: -> (B, N, N).

        Shapes: ``h`` (B, N, H), ``coords`` (B, N, 2), ``key_bias`` (B, 1, N).
        """
        if self.config.adjacency == "learned":
            a = self.adj_i(h).unsqueeze(2) + self.adj_j(h).unsqueeze(1)  # (B, N, N, A)
            logits = self.adj_out(torch.relu(a)).squeeze(-1)  # (B, N, N)
        else:
            d = coords.unsqueeze(2) - coords.unsqueeze(1)  # (B, N, N, 2)
            logits = -(d * d).sum(-1) * torch.exp(-self.log_scale)  # (B, N, N)
        return torch.softmax(logits + key_bias, -1)  # (B, N, N)

    def forward(self, x: torch.Tensor, coords: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        check_input("x", x, ("B", "N", self.config.n_features), "mpnn")
        check_input("coords", coords, (x.shape[0], x.shape[1], 2), "mpnn")
        check_input("mask", mask, (x.shape[0], x.shape[1]), "mpnn")
        mask = mask.bool()
        b, n, _ = x.shape
        row = mask.unsqueeze(-1).to(x.dtype)  # (B, N, 1)
        key_bias = key_padding_bias(mask, x.dtype).view(b, 1, n)  # (B, 1, N)
        h = self.embed(x)  # (B, N, H)
        adj = None
        for _ in range(self.config.iterations):
            if adj is None or self.config.adjacency == "learned":
                adj = self._adjacency(h, coords, key_bias) * row  # (B, N, N), padded rows zero
                if self.config.symmetric:
                    adj = 0.5 * (adj + adj.transpose(1, 2))  # (B, N, N)
            m = torch.bmm(adj, self.message(h))  # (B, N, H)
            h = self.update(m.reshape(b * n, -1), h.reshape(b * n, -1)).view(b, n, -1)  # (B, N, H)
        return self.readout(masked_sum(h, mask))  # (B, n_classes)
