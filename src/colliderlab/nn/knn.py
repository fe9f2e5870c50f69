"""Dense batched k-nearest-neighbour graphs and the EdgeConv block (arXiv:1801.07829, 1902.08570).

Everything is dense and channels-last: points ``(B, N, D)``, features ``(B, N, C)``, neighbour
indices ``(B, N, k)`` (slots within the same jet) and neighbour features ``(B, N, k, C)``. Padded
slots (``mask`` False) are never the neighbour of anything while a real particle is left: their
distance is +inf, and the edges that still point at them (a jet with fewer than ``k + 1`` real
particles) come back flagged invalid so that aggregations drop them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["knn", "knn_graph", "gather_neighbors", "EdgeConvBlock"]


def knn(
    points: torch.Tensor, k: int, mask: torch.Tensor | None = None, exclude_self: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest neighbours (squared Euclidean distance) of every point, per jet.

    Args:
        points: ``(B, N, D)`` coordinates (angular coordinates or learned features).
        k: neighbours per point; when a jet has fewer slots than that only ``N - 1`` (or ``N``)
            columns come back.
        mask: ``(B, N)`` bool, True for real points; padded points are pushed to infinity.
        exclude_self: leave a point out of its own neighbour list.

    Returns:
        ``idx`` ``(B, N, k')`` int64 slot indices, nearest first, and ``valid`` ``(B, N, k')``
        bool (False where the neighbour is padded or is the point itself), ``k' = min(k, N - 1)``
        (``min(k, N)`` with ``exclude_self=False``). Not differentiable (indices only).
    """
    b, n, _ = points.shape
    limit = n - 1 if exclude_self else n
    kk = k if limit >= k else max(1, limit)  # (a guard, not a min, on a symbolic N when exporting)
    with torch.no_grad():
        p = points.detach().float()
        sq = (p * p).sum(-1)  # (B, N)
        dist = torch.baddbmm(sq.unsqueeze(2), p, p.transpose(1, 2), alpha=-2.0)  # (B, N, N)
        dist.add_(sq.unsqueeze(1)).clamp_(min=0.0)
        inf = torch.tensor(float("inf"), device=p.device)
        if mask is not None:
            dist.masked_fill_(~mask.unsqueeze(1), inf)
        if exclude_self:
            eye = torch.eye(n, dtype=torch.bool, device=p.device)  # (N, N); out of place: exportable
            dist = dist.masked_fill(eye, inf)
        d, idx = dist.topk(kk, dim=-1, largest=False)  # (B, N, k')
        valid = torch.isfinite(d)  # (B, N, k')
    return idx, valid


def knn_graph(points: torch.Tensor, k: int, radius: float | None = None, max_entries: int = 40_000_000) -> torch.Tensor:
    """Sparse k-nearest-neighbour (optionally radius-limited) graph of one large point cloud.

    The distance matrix is never built whole: queries go in blocks of ``max_entries // N`` rows
    (a block's ``(rows, N)`` squared distances, then ``topk``), so memory stays bounded for the
    ~1e5 hits of a pileup-200 event (arXiv:2103.06995 builds its metric-learning graph this way,
    with a radius cut; FRNN does it on a grid on the GPU).

    Args:
        points: ``(N, D)`` coordinates.
        k: neighbours per point (at most ``N - 1``), self excluded.
        radius: keep only neighbours closer than this (Euclidean); None keeps all ``k``.
        max_entries: distance-matrix entries per block.

    Returns:
        ``edge_index`` ``(2, E)`` int64: row 0 the query point, row 1 its neighbour, nearest first
        within each query.
    """
    n = points.shape[0]
    kk = min(k, n - 1)
    if kk <= 0:
        return torch.empty((2, 0), dtype=torch.long)
    p = points.detach().float()
    sq = (p * p).sum(1)  # (N,)
    rows = max(1, max_entries // max(n, 1))
    out_src, out_dst = [], []
    with torch.no_grad():
        for start in range(0, n, rows):
            q = p[start : start + rows]  # (R, D)
            dist = torch.addmm(sq.unsqueeze(0), q, p.t(), alpha=-2.0).add_(sq[start : start + rows].unsqueeze(1))
            ar = torch.arange(len(q))
            dist[ar, ar + start] = float("inf")  # not its own neighbour
            d, idx = dist.clamp_(min=0.0).topk(kk, dim=1, largest=False)  # (R, k)
            keep = torch.isfinite(d) if radius is None else d < radius * radius
            src = (ar + start).unsqueeze(1).expand_as(idx)
            out_src.append(src[keep])
            out_dst.append(idx[keep])
    return torch.stack([torch.cat(out_src), torch.cat(out_dst)])


def gather_neighbors(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Neighbour features by one flat gather: ``x`` (B, N, C), ``idx`` (B, N, k) -> (B, N, k, C)."""
    b, n, c = x.shape
    k = idx.shape[-1]
    offset = (torch.arange(b, device=idx.device) * n).view(b, 1, 1)  # (B, 1, 1)
    flat = (idx + offset).reshape(-1)  # (B * N * k,)
    # embedding's backward (a sorted segment sum) is several times faster on the CPU than the
    # index_add of index_select's backward
    return F.embedding(flat, x.reshape(b * n, c)).view(b, n, k, c)


class EdgeConvBlock(nn.Module):
    """ParticleNet's EdgeConv block: kNN graph, edge MLP on ``(x_i, x_j - x_i)``, mean, shortcut.

    ``h_ij = MLP([x_i, x_j - x_i])`` with ``Linear(no bias) -> BatchNorm -> ReLU`` layers, the mean
    over the real neighbours of ``i``, plus a ``Linear -> BatchNorm`` shortcut of ``x_i``, then
    ReLU (arXiv:1902.08570 Fig. 2). The first edge layer is applied before the gather using
    ``W [x_i, x_j - x_i] = (W_a - W_b) x_i + W_b x_j`` (two ``C_in -> C_0`` maps, the same
    parameter count as one ``2 C_in -> C_0`` map), so no ``(B, N, k, 2 C_in)`` tensor is built.

    In training the real particles are packed first (``M`` rows instead of ``B * N``), so padded
    slots cost nothing and the batch-norm statistics are those of the real particles' edges; an
    edge to a missing neighbour (jets with at most ``k`` particles) counts as an edge to a
    zero-feature point in those statistics and is left out of the mean. In evaluation the block
    runs dense on ``(B, N, k, C)`` with the running statistics (no data-dependent shapes, so it
    exports); both paths give the same outputs for the same weights and statistics.

    Shapes: ``points`` (B, N, D) (the space the kNN graph is built in), ``x`` (B, N, C_in), ``mask``
    (B, N) bool -> (B, N, C_out) with padded slots zero.

    Args:
        in_dim: ``C_in``.
        out_dims: widths of the edge MLP layers, e.g. ``(64, 64, 64)``; ``C_out = out_dims[-1]``.
        k: neighbours per particle.
        pack: use the packed path in training (else dense there too, with batch-norm statistics
            over all slots as in weaver-core).
    """

    def __init__(self, in_dim: int, out_dims: Sequence[int], k: int, pack: bool = True) -> None:
        super().__init__()
        self.k = k
        self.pack = pack
        c0 = out_dims[0]
        self.lin_self = nn.Linear(in_dim, c0, bias=False)  # (W_a - W_b) x_i
        self.lin_nbr = nn.Linear(in_dim, c0, bias=False)  # W_b x_j
        self.norms = nn.ModuleList([nn.BatchNorm1d(c) for c in out_dims])
        self.lins = nn.ModuleList(
            [nn.Linear(a, b, bias=False) for a, b in zip(out_dims[:-1], out_dims[1:], strict=True)]
        )
        self.shortcut = nn.Linear(in_dim, out_dims[-1], bias=False)
        self.shortcut_norm = nn.BatchNorm1d(out_dims[-1])

    def _edge_mlp(self, h: torch.Tensor) -> torch.Tensor:
        """BN -> ReLU -> (Linear -> BN -> ReLU)* on edge rows: (L, C0) -> (L, C)."""
        h = torch.relu_(self.norms[0](h))  # (L, C0)
        for lin, norm in zip(self.lins, self.norms[1:], strict=True):
            h = torch.relu_(norm(lin(h)))  # (L, C)
        return h

    @staticmethod
    def _mean(h: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Mean over the valid neighbours: (R, k, C), (R, k) -> (R, C)."""
        w = valid.to(h.dtype)  # (R, k)
        count = w.sum(1, keepdim=True).clamp(min=1.0)  # (R, 1)
        return torch.bmm(w.unsqueeze(1), h).squeeze(1) / count  # (R, C)

    def forward(self, points: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        idx, valid = knn(points, self.k, mask)  # (B, N, k)
        b, n, k = idx.shape
        if self.training and self.pack:
            return self._forward_packed(x, mask, idx, valid)
        valid = valid & mask.unsqueeze(-1)  # (B, N, k)
        h = gather_neighbors(self.lin_nbr(x), idx)  # (B, N, k, C0)
        # out of place: an in-place add on the gathered view would cost an as_strided backward
        h = (h + self.lin_self(x).unsqueeze(2)).view(b * n * k, -1)  # (B N k, C0)
        h = self._edge_mlp(h).view(b * n, k, -1)  # (B N, k, C)
        agg = self._mean(h, valid.view(b * n, k))  # (B N, C)
        sc = self.shortcut_norm(self.shortcut(x.reshape(b * n, -1)))  # (B N, C)
        out = torch.relu_(agg + sc).view(b, n, -1)  # (B, N, C)
        return out * mask.unsqueeze(-1).to(out.dtype)  # (B, N, C)

    def _forward_packed(
        self, x: torch.Tensor, mask: torch.Tensor, idx: torch.Tensor, valid: torch.Tensor
    ) -> torch.Tensor:
        b, n, k = idx.shape
        node = mask.reshape(-1).nonzero().squeeze(1)  # (M,) flat slots of the real particles
        m = node.shape[0]
        # packed row of every flat slot; padded slots (and missing neighbours) -> row M (zeros)
        row = torch.full((b * n,), m, dtype=torch.long, device=x.device)
        row[node] = torch.arange(m, device=x.device)
        offset = (torch.arange(b, device=idx.device) * n).view(b, 1, 1)  # (B, 1, 1)
        nbr = row[(idx + offset).view(b * n, k)[node]]  # (M, k)
        nbr_valid = valid.view(b * n, k)[node]  # (M, k)
        nbr = nbr.masked_fill_(~nbr_valid, m)  # (M, k)
        xp = F.embedding(node, x.reshape(b * n, -1))  # (M, C_in)
        table = F.pad(self.lin_nbr(xp), (0, 0, 0, 1))  # (M + 1, C0)
        h = F.embedding(nbr.view(-1), table).view(m, k, -1)  # (M, k, C0)
        h = (h + self.lin_self(xp).unsqueeze(1)).view(m * k, -1)  # (M k, C0)
        h = self._edge_mlp(h).view(m, k, -1)  # (M, k, C)
        # every real particle of a jet with more than k of them has k valid neighbours
        agg = h.mean(1) if bool(nbr_valid.all()) else self._mean(h, nbr_valid)  # (M, C)
        sc = self.shortcut_norm(self.shortcut(xp))  # (M, C)
        out = torch.relu_(agg + sc)  # (M, C)
        return out.new_zeros(b * n, out.shape[1]).index_copy(0, node, out).view(b, n, -1)
