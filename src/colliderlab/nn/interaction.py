"""Edge classifiers on sparse graphs: the interaction network of Exa.TrkX and a per-edge filter.

Graphs are one event each, in the sparse layout: node features ``x`` ``(N, F)``, directed edges
``edge_index`` ``(2, E)`` int64 (row 0 the source, row 1 the target) and edge features
``edge_attr`` ``(E, Fe)``. Sums over edges use ``index_add_`` (the scatter-add that torch-scatter
would provide), so the models run on plain PyTorch.

:class:`InteractionNetwork` (Battaglia et al. arXiv:1612.00222, for tracking DeZoort et al.
arXiv:2103.16701 and Exa.TrkX arXiv:2103.06995): nodes and edges are encoded by MLPs, then
``n_iterations`` rounds of

    e_ij <- e_ij + phi_e([x_i, x_j, e_ij])
    x_i  <- x_i  + phi_x([x_i, sum_{j -> i} e_ji, sum_{i -> j} e_ij])

and a classifier MLP scores each edge from ``[x_i, x_j, e_ij]``: a logit per edge. It is
equivariant under any renumbering of the nodes and edges. :class:`EdgeFilter` scores each edge
from its two ends and its own features with no message passing (the Exa.TrkX filter stage).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from colliderlab.nn.layers import mlp

__all__ = ["InteractionNetworkConfig", "InteractionNetwork", "EdgeFilterConfig", "EdgeFilter", "check_graph"]


def check_graph(x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor, node_features: int,
                edge_features: int, model: str) -> None:
    """Shapes and index range of a graph, with an error naming the array and the expected shape."""
    if x.dim() != 2 or x.shape[1] != node_features:
        raise ValueError(f"{model}: x has shape {tuple(x.shape)}, expected (N, {node_features})")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"{model}: edge_index has shape {tuple(edge_index.shape)}, expected (2, E)")
    if edge_attr.shape != (edge_index.shape[1], edge_features):
        raise ValueError(f"{model}: edge_attr has shape {tuple(edge_attr.shape)}, "
                         f"expected ({edge_index.shape[1]}, {edge_features})")
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= x.shape[0]):
        raise ValueError(f"{model}: edge_index refers to nodes outside [0, {x.shape[0]})")


@dataclass(frozen=True)
class InteractionNetworkConfig:
    """Widths and depth: ``hidden`` channels, ``n_iterations`` message-passing rounds, each MLP
    with ``mlp_layers`` hidden layers; ``layer_norm`` after each MLP's hidden layers."""

    node_features: int = 3
    edge_features: int = 6
    hidden: int = 64
    n_iterations: int = 6
    mlp_layers: int = 2
    layer_norm: bool = True


def _block(n_in: int, hidden: int, n_out: int, layers: int, layer_norm: bool) -> nn.Sequential:
    body: list[nn.Module] = []
    width = n_in
    for _ in range(layers):
        body += [nn.Linear(width, hidden)] + ([nn.LayerNorm(hidden)] if layer_norm else []) + [nn.ReLU()]
        width = hidden
    body.append(nn.Linear(width, n_out))
    return nn.Sequential(*body)


class InteractionNetwork(nn.Module):
    """Edge logits ``(E,)`` of a graph (arXiv:1612.00222, 2103.06995)."""

    def __init__(self, config: InteractionNetworkConfig = InteractionNetworkConfig()) -> None:
        super().__init__()
        c = self.config = config
        h, k, ln = c.hidden, c.mlp_layers, c.layer_norm
        self.node_encoder = _block(c.node_features, h, h, k, ln)
        self.edge_encoder = _block(c.edge_features + 2 * c.node_features, h, h, k, ln)
        self.edge_updates = nn.ModuleList([_block(3 * h, h, h, k, ln) for _ in range(c.n_iterations)])
        self.node_updates = nn.ModuleList([_block(3 * h, h, h, k, ln) for _ in range(c.n_iterations)])
        self.classifier = _block(3 * h, h, 1, k, ln)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        c = self.config
        check_graph(x, edge_index, edge_attr, c.node_features, c.edge_features, "InteractionNetwork")
        src, dst = edge_index[0], edge_index[1]
        e = self.edge_encoder(torch.cat([x[src], x[dst], edge_attr], dim=1))  # (E, H)
        h = self.node_encoder(x)  # (N, H)
        for edge_update, node_update in zip(self.edge_updates, self.node_updates, strict=True):
            e = e + edge_update(torch.cat([h[src], h[dst], e], dim=1))  # (E, H)
            incoming = torch.zeros_like(h).index_add_(0, dst, e)  # (N, H) sum over j -> i
            outgoing = torch.zeros_like(h).index_add_(0, src, e)  # (N, H) sum over i -> j
            h = h + node_update(torch.cat([h, incoming, outgoing], dim=1))  # (N, H)
        return self.classifier(torch.cat([h[src], h[dst], e], dim=1)).squeeze(-1)  # (E,)


@dataclass(frozen=True)
class EdgeFilterConfig:
    """An MLP on ``[x_i, x_j, e_ij]`` with ``hidden`` widths."""

    node_features: int = 3
    edge_features: int = 6
    hidden: tuple[int, ...] = (128, 128, 64)


class EdgeFilter(nn.Module):
    """Edge logits ``(E,)`` from each edge's ends and features alone (the Exa.TrkX filter)."""

    def __init__(self, config: EdgeFilterConfig = EdgeFilterConfig()) -> None:
        super().__init__()
        self.config = config
        dims = (2 * config.node_features + config.edge_features, *config.hidden)
        self.body = mlp(dims)
        self.out = nn.Linear(dims[-1], 1)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        c = self.config
        check_graph(x, edge_index, edge_attr, c.node_features, c.edge_features, "EdgeFilter")
        z = torch.cat([x[edge_index[0]], x[edge_index[1]], edge_attr], dim=1)  # (E, 2F + Fe)
        return self.out(self.body(z)).squeeze(-1)  # (E,)
