"""Metric learning for graph construction (the Exa.TrkX embedding stage, arXiv:2103.06995).

An MLP maps each hit's node features to a point in a ``dim``-dimensional space, trained with a
hinge loss so that hits joined by a true segment lie close together and other pairs at least
``margin`` apart:

    L = mean_true d^2 + mean_false relu(margin - d)^2

with the false pairs drawn at random plus the "hard" false pairs among each hit's current
nearest neighbours. The graph of an event joins every hit to its ``k`` nearest neighbours
within ``radius`` in that space (:func:`colliderlab.nn.knn.knn_graph`, the project's own kNN);
each edge is pointed from the hit nearer the interaction point to the farther one and edges
within one layer are dropped, as in the geometric graph.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from colliderlab.nn.knn import knn_graph
from colliderlab.nn.layers import mlp
from colliderlab.progress import write_line

__all__ = ["EmbeddingConfig", "Embedding", "metric_edges", "train_embedding"]


@dataclass(frozen=True)
class EmbeddingConfig:
    """The embedding MLP (``hidden`` widths, output ``dim``), the graph's ``k`` and ``radius``,
    the hinge ``margin``, training ``epochs``/``lr`` and false pairs per true pair."""

    node_features: int = 7
    dim: int = 8
    hidden: tuple[int, ...] = (128, 128, 128)
    k: int = 24
    radius: float = 1.0
    margin: float = 1.0
    epochs: int = 10
    lr: float = 2e-3
    random_pairs: int = 4


class Embedding(nn.Module):
    """Hit embedding ``(N, F) -> (N, dim)``."""

    def __init__(self, config: EmbeddingConfig = EmbeddingConfig()) -> None:
        super().__init__()
        self.config = config
        self.body = mlp((config.node_features, *config.hidden), nn.Tanh)
        self.out = nn.Linear(config.hidden[-1], config.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.config.node_features:
            raise ValueError(f"Embedding: x has shape {tuple(x.shape)}, expected (N, {self.config.node_features})")
        return self.out(self.body(x))  # (N, dim)


def metric_edges(model: Embedding, x: torch.Tensor, depth: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """Edges ``(2, E)`` of the embedding's radius graph, pointed outwards (by ``depth``, the hit's
    distance from the interaction point), without same-layer pairs or duplicates."""
    model.eval()
    with torch.no_grad():
        e = knn_graph(model(x), model.config.k, model.config.radius).numpy()
    a, b = e
    swap = depth[a] > depth[b]
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    keep = layer[a] != layer[b]
    pairs = np.unique(np.stack([a[keep], b[keep]], axis=1), axis=0)
    return pairs.T.astype(np.int64)


def _hinge(model: Embedding, x: torch.Tensor, true_edges: torch.Tensor, margin: float, n_random: int,
           gen: torch.Generator) -> torch.Tensor:
    z = model(x)  # (N, dim)
    n = len(x)
    src = true_edges[0].repeat(n_random)
    dst = torch.randint(0, n, (len(src),), generator=gen)
    with torch.no_grad():
        hard = knn_graph(z, 8)  # the current nearest neighbours
    fa = torch.cat([src, hard[0]])
    fb = torch.cat([dst, hard[1]])
    d_true = (z[true_edges[0]] - z[true_edges[1]]).pow(2).sum(1)
    d_false = (z[fa] - z[fb]).pow(2).sum(1).add(1e-12).sqrt()
    # a "false" pair that is in fact a true segment is rare; it only costs a little margin
    return d_true.mean() + torch.relu(margin - d_false).pow(2).mean()


def train_embedding(xs: list[torch.Tensor], true_edges: list[torch.Tensor], config: EmbeddingConfig,
                    seed: int = 0) -> tuple[Embedding, list[dict]]:
    """Train the embedding on standardised node features and true segments of training events."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = Embedding(config)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr)
    history = []
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        model.train()
        total = 0.0
        for i in torch.randperm(len(xs), generator=gen).tolist():
            loss = _hinge(model, xs[i], true_edges[i], config.margin, config.random_pairs, gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
        history.append({"model": "embedding", "epoch": epoch + 1, "loss": total / len(xs),
                        "seconds": time.perf_counter() - t0})
        write_line(f"embedding epoch {epoch + 1}/{config.epochs}: loss {history[-1]['loss']:.4f} "
                   f"({history[-1]['seconds']:.1f} s)")
    return model, history
