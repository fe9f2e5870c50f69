"""Recursive neural network on the jet's clustering tree (Louppe, Cho, Becot, Cranmer,
arXiv:1702.00748, "QCD-aware recursive neural networks").

Every node k of the binary clustering tree gets an embedding h_k in R^D:

* its own content ``u_k = ReLU(W_u x_k + b_u)``;
* a leaf: ``h_k = u_k``;
* an internal node with children L, R, "simple" rule: ``h_k = ReLU(W_h [h_L; h_R; u_k] + b_h)``;
* "gated" rule (GRU-like): reset gates ``r = sigmoid(W_r [h_L; h_R; u_k] + b_r)`` (r_L, r_R, r_N),
  candidate ``h~ = ReLU(W_h (r * [h_L; h_R; u_k]) + b_h)``, update gates
  ``z = softmax_4(W_z [h~; h_L; h_R; u_k] + b_z)`` (a softmax over the 4 choices per unit) and
  ``h_k = z_H h~ + z_L h_L + z_R h_R + z_N u_k``.

The jet embedding h_root feeds a classifier MLP (two ReLU layers of width D in the paper).

Batching: nodes are processed level by level across the whole batch (``level`` 0 = leaves,
1 + max(children's level) inside), one flat gather/scatter per level, so the Python loop runs
over tree depth only. The nodes are sorted by level once (one host sync, which also gives the
number of levels). A data-dependent loop like this cannot be traced into a static ONNX graph.

Presets: ``"paper"``: D = 40, gated, classifier 40-40; with the 7 node features of the paper
(p, eta, theta, phi, E, E/E_jet, pT) it has 48,802 parameters for 2 classes (the paper gives no
count; the simple variant has 8,522). ``"lite"``: D = 32, gated, classifier 32.

Shapes: ``forward(x (B, M, F), children (B, M, 2) int64, level (B, M) int64, mask (B, M) bool,
root (B,) int64) -> (B, n_classes)`` logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from colliderlab.models.registry import register_model
from colliderlab.nn.layers import check_input, head

__all__ = ["RecNNConfig", "RecNN"]


@dataclass(frozen=True)
class RecNNConfig:
    """Configuration of :class:`RecNN`."""

    n_features: int
    n_classes: int = 2
    hidden: int = 40
    gated: bool = True
    classifier: tuple[int, ...] = (40, 40)
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if min(self.n_features, self.n_classes, self.hidden) < 1:
            raise ValueError(
                "n_features, n_classes and hidden must be >= 1, got "
                f"{self.n_features}, {self.n_classes}, {self.hidden}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


@register_model(
    "recnn",
    config=RecNNConfig,
    representations=("tree",),
    presets={
        "paper": {"hidden": 40, "gated": True, "classifier": (40, 40)},
        "lite": {"hidden": 32, "gated": True, "classifier": (32,)},
    },
    reference="arXiv:1702.00748",
)
class RecNN(nn.Module):
    """Gated (or simple) recursive jet embedding + MLP classifier (arXiv:1702.00748).

    Shapes: ``x`` (B, M, F), ``children`` (B, M, 2), ``level`` (B, M), ``mask`` (B, M),
    ``root`` (B,) (-1 for a jet without constituents) -> logits (B, n_classes).
    """

    input_names = ("x", "children", "level", "mask", "root")
    export_unsupported = (
        "the level-by-level recursion runs a data-dependent number of steps "
        "(torch.bincount(level).tolist() sets the loop), which a static ONNX/torch.export graph "
        "cannot trace"
    )

    def __init__(self, config: RecNNConfig) -> None:
        super().__init__()
        self.config = config
        d = config.hidden
        self.w_u = nn.Linear(config.n_features, d)
        self.w_h = nn.Linear(3 * d, d)
        if config.gated:
            self.w_r = nn.Linear(3 * d, 3 * d)
            self.w_z = nn.Linear(4 * d, 4 * d)
        self.classifier = head(d, tuple(config.classifier), config.n_classes, dropout=config.dropout)

    def combine(self, h_l: torch.Tensor, h_r: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Embedding of internal nodes from their children's embeddings and own content.

        Shapes: ``h_l``, ``h_r``, ``u`` (K, D) -> (K, D).
        """
        cat = torch.cat([h_l, h_r, u], dim=-1)  # (K, 3D)
        if not self.config.gated:
            return torch.relu(self.w_h(cat))  # (K, D)
        r = torch.sigmoid(self.w_r(cat))  # (K, 3D) reset gates r_L, r_R, r_N
        h_new = torch.relu(self.w_h(r * cat))  # (K, D)
        z = self.w_z(torch.cat([h_new, cat], dim=-1))  # (K, 4D)
        z = torch.softmax(z.view(-1, 4, self.config.hidden), dim=1)  # (K, 4, D) over (H, L, R, N)
        choices = torch.stack([h_new, h_l, h_r, u], dim=1)  # (K, 4, D)
        return (z * choices).sum(dim=1)  # (K, D)

    def embed(
        self,
        x: torch.Tensor,
        children: torch.Tensor,
        level: torch.Tensor,
        mask: torch.Tensor,
        root: torch.Tensor,
    ) -> torch.Tensor:
        """Jet embeddings h_root. Shapes as :meth:`forward` -> (B, D)."""
        b, m, _ = x.shape
        d = self.config.hidden
        level = torch.where(mask.bool(), level, torch.full_like(level, -1))  # (B, M)
        u = torch.relu(self.w_u(x)).reshape(b * m, d)  # (B*M, D) node contents
        lev = level.reshape(-1)  # (B*M,)
        h = u * (lev == 0).unsqueeze(-1).to(u.dtype)  # (B*M, D) leaves: h = u, others 0
        offset = (torch.arange(b, device=x.device) * m).unsqueeze(-1)  # (B, 1)
        child = (children + offset.unsqueeze(-1)).reshape(-1, 2)  # (B*M, 2) flat child indices
        order = torch.argsort(lev, stable=True)  # (B*M,) node indices grouped by level
        counts = torch.bincount(lev + 1).tolist()  # [n_padding, n_level0, n_level1, ...] (sync)
        start = counts[0] + (counts[1] if len(counts) > 1 else 0)
        for n_nodes in counts[2:]:  # levels 1 .. max level
            idx = order[start : start + n_nodes]  # (K,) flat ids of this level's nodes
            start += n_nodes
            kids = child[idx]  # (K, 2)
            h_new = self.combine(h[kids[:, 0]], h[kids[:, 1]], u[idx])  # (K, D)
            h = h.index_copy(0, idx, h_new)  # (B*M, D)
        flat_root = torch.arange(b, device=x.device) * m + root.clamp(min=0)  # (B,)
        return h[flat_root] * (root >= 0).unsqueeze(-1).to(h.dtype)  # (B, D) empty jet (root -1): 0

    def forward(
        self,
        x: torch.Tensor,
        children: torch.Tensor,
        level: torch.Tensor,
        mask: torch.Tensor,
        root: torch.Tensor,
    ) -> torch.Tensor:
        check_input("x", x, ("B", "M", self.config.n_features), "recnn")
        b, m = x.shape[:2]
        for name, t, want in (("children", children, (b, m, 2)), ("level", level, (b, m)),
                              ("mask", mask, (b, m)), ("root", root, (b,))):
            check_input(name, t, want, "recnn")
        return self.classifier(self.embed(x, children.long(), level.long(), mask, root.long()))  # (B, n_classes)
