"""ParticleNet: a dynamic graph CNN on the jet's particle cloud (Qu & Gouskos, arXiv:1902.08570).

A stack of EdgeConv blocks (:class:`colliderlab.nn.knn.EdgeConvBlock`); the kNN graph of the first
block is built on the angular coordinates ``(Delta eta, Delta phi)``, every later one on the
previous block's output features (the "dynamic" graph). Then global average pooling over the real
particles, a fully connected layer with dropout and the output layer.

Presets: ``paper`` is ParticleNet of the paper's Table 2 (k = 16, EdgeConv widths
(64, 64, 64), (128, 128, 128), (256, 256, 256), FC 256 with dropout 0.1): 366k parameters with the
7 top-tagging input features, as the ParticleNet paper reports (the top-tagging landscape paper,
arXiv:1902.09914, lists 498k for its ParticleNet entry). ``lite`` is ParticleNet-Lite (k = 7,
(32, 32, 32), (64, 64, 64), FC 128; 26k parameters). weaver-core's input batch norm on the
features is left out (the ``particles`` representation standardises them already).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from colliderlab.models.registry import register_model
from colliderlab.nn.knn import EdgeConvBlock
from colliderlab.nn.layers import check_input, head, masked_mean

__all__ = ["ParticleNetConfig", "ParticleNet"]


@dataclass(frozen=True)
class ParticleNetConfig:
    """Hyper-parameters of :class:`ParticleNet`."""

    n_features: int
    n_classes: int = 2
    k: int = 16
    conv_dims: tuple[tuple[int, ...], ...] = ((64, 64, 64), (128, 128, 128), (256, 256, 256))
    fc_dims: tuple[int, ...] = (256,)
    dropout: float = 0.1


@register_model(
    "particlenet",
    config=ParticleNetConfig,
    representations=("particles",),
    presets={
        "paper": {},
        "lite": {"k": 7, "conv_dims": ((32, 32, 32), (64, 64, 64)), "fc_dims": (128,)},
    },
    paper_params=366_000,
    reference="arXiv:1902.08570",
)
class ParticleNet(nn.Module):
    """ParticleNet (EdgeConv on dynamic kNN graphs) jet tagger.

    Shapes: ``x`` (B, N, F) standardised features, ``coords`` (B, N, 2) (Delta eta, Delta phi),
    ``mask`` (B, N) bool -> logits (B, n_classes).
    """

    input_names = ("x", "coords", "mask")
    permutation_invariant = True

    def __init__(self, config: ParticleNetConfig) -> None:
        super().__init__()
        self.config = config
        if not config.conv_dims:
            raise ValueError("ParticleNetConfig.conv_dims needs at least one EdgeConv block")
        blocks = []
        c_in = config.n_features
        for dims in config.conv_dims:
            blocks.append(EdgeConvBlock(c_in, dims, config.k))
            c_in = dims[-1]
        self.blocks = nn.ModuleList(blocks)
        self.head = head(c_in, config.fc_dims, config.n_classes, dropout=config.dropout)

    @property
    def export_min_particles(self) -> int:
        """Exported programs need more particle slots than neighbours (k + 1)."""
        return self.config.k + 1

    def forward(self, x: torch.Tensor, coords: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        check_input("x", x, ("B", "N", self.config.n_features), "particlenet")
        check_input("coords", coords, (x.shape[0], x.shape[1], 2), "particlenet")
        check_input("mask", mask, (x.shape[0], x.shape[1]), "particlenet")
        mask = mask.bool()
        h = x * mask.unsqueeze(-1).to(x.dtype)  # (B, N, F)
        points = coords  # (B, N, 2)
        for block in self.blocks:
            h = block(points, h, mask)  # (B, N, C)
            points = h
        pooled = masked_mean(h, mask)  # (B, C)
        return self.head(pooled)  # (B, n_classes)
