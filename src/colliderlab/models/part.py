"""Particle Transformer, ParT (Qu, Li, Qian, arXiv:2202.03772).

Particles are embedded by an MLP (``LayerNorm -> Linear -> GELU`` per layer), go through ``L``
particle-attention blocks whose attention logits get a per-head bias ``U`` learned from the
pairwise Lorentz features ``ln Delta, ln kT, ln z, ln m^2`` of every particle pair
(:class:`colliderlab.nn.attention.PairEmbedding`, computed once and shared by all blocks), then a
class token attends to them in class-attention blocks, and a linear layer classifies its
normalised state. Padded particles are removed as attention keys, so they never reach a real
particle or the class token; in training the position-wise layers (embedding, projections,
feed-forward networks) run on the real particles only (packed), in evaluation everything is dense.

The ``paper`` preset is ParT as published (embedding (128, 512, 128), pair embedding
(64, 64, 64), 8 heads, 8 particle blocks, 2 class blocks, dropout 0.1 in the particle blocks):
2.1M parameters with 7 input features, as the paper's 2.14M (ParT reports 17 JetClass features);
``lite`` is a small version (width 64, 4 heads, 3 + 1 blocks). weaver-core's batch norm on the
input features is left out (the ``particles`` representation standardises them already).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from colliderlab.models.registry import register_model
from colliderlab.nn.attention import (
    ClassAttentionBlock,
    PairEmbedding,
    ParticleAttentionBlock,
    key_padding_bias,
)
from colliderlab.nn.layers import check_input, head

__all__ = ["ParTConfig", "ParticleTransformer"]


@dataclass(frozen=True)
class ParTConfig:
    """Hyper-parameters of :class:`ParticleTransformer`."""

    n_features: int
    n_classes: int = 2
    embed_dims: tuple[int, ...] = (128, 512, 128)
    pair_embed_dims: tuple[int, ...] = (64, 64, 64)
    num_heads: int = 8
    num_layers: int = 8
    num_cls_layers: int = 2
    ffn_ratio: int = 4
    dropout: float = 0.1  # particle blocks: residual, attention and FFN dropout
    use_pair: bool = True  # False: a plain transformer ("ParT (plain)" of the paper)
    fc_dims: tuple[int, ...] = ()
    fc_dropout: float = 0.0


@register_model(
    "part",
    config=ParTConfig,
    representations=("particles",),
    presets={
        "paper": {},
        "lite": {
            "embed_dims": (64, 64),
            "pair_embed_dims": (32, 32),
            "num_heads": 4,
            "num_layers": 3,
            "num_cls_layers": 1,
        },
    },
    paper_params=2_140_000,
    reference="arXiv:2202.03772",
)
class ParticleTransformer(nn.Module):
    """Particle Transformer (attention with pairwise interaction biases, class attention).

    Shapes: ``x`` (B, N, F) standardised features, ``p4`` (B, N, 4) (E, px, py, pz) in GeV,
    ``mask`` (B, N) bool -> logits (B, n_classes).
    """

    input_names = ("x", "p4", "mask")
    permutation_invariant = True

    def __init__(self, config: ParTConfig) -> None:
        super().__init__()
        self.config = config
        if not config.embed_dims:
            raise ValueError("ParTConfig.embed_dims needs at least one width")
        layers: list[nn.Module] = []
        c = config.n_features
        for width in config.embed_dims:
            layers += [nn.LayerNorm(c), nn.Linear(c, width), nn.GELU()]
            c = width
        self.embed = nn.Sequential(*layers)
        self.pair_embed = (
            PairEmbedding(config.pair_embed_dims, config.num_heads) if config.use_pair else None
        )
        drop = config.dropout
        self.blocks = nn.ModuleList(
            ParticleAttentionBlock(c, config.num_heads, config.ffn_ratio, drop, drop, drop)
            for _ in range(config.num_layers)
        )
        self.cls_blocks = nn.ModuleList(
            ClassAttentionBlock(c, config.num_heads, config.ffn_ratio, 0.0, 0.0, 0.0)
            for _ in range(config.num_cls_layers)
        )
        self.cls_token = nn.Parameter(torch.empty(1, 1, c))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.norm = nn.LayerNorm(c)
        self.fc = head(c, config.fc_dims, config.n_classes, dropout=config.fc_dropout)

    def forward(self, x: torch.Tensor, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        check_input("x", x, ("B", "N", self.config.n_features), "part")
        check_input("p4", p4, (x.shape[0], x.shape[1], 4), "part")
        check_input("mask", mask, (x.shape[0], x.shape[1]), "part")
        mask = mask.bool()
        b, n, _ = x.shape
        bias = key_padding_bias(mask, x.dtype)  # (B, 1, 1, N)
        if self.pair_embed is not None:
            bias = self.pair_embed(p4, mask).to(x.dtype) + bias  # (B, H, N, N)
        if self.training:  # position-wise layers on the M real particles only
            node = mask.reshape(-1).nonzero().squeeze(1)  # (M,)
            h = self.embed(F.embedding(node, x.reshape(b * n, -1)))  # (M, C)
            for block in self.blocks:
                h = block(h, bias, (node, b, n))  # (M, C)
            h = h.new_zeros(b * n, h.shape[-1]).index_copy(0, node, h).view(b, n, -1)  # (B, N, C)
        else:  # dense (no data-dependent shapes, exportable); padded tokens are never attended to
            h = self.embed(x) * mask.unsqueeze(-1).to(x.dtype)  # (B, N, C)
            for block in self.blocks:
                h = block(h, bias)  # (B, N, C)
        cls_mask = torch.cat([mask.new_ones(b, 1), mask], 1)  # (B, 1 + N)
        cls_bias = key_padding_bias(cls_mask, h.dtype)  # (B, 1, 1, 1 + N)
        cls = self.cls_token.expand(b, -1, -1)  # (B, 1, C)
        for block in self.cls_blocks:
            cls = block(cls, h, cls_bias)  # (B, 1, C)
        return self.fc(self.norm(cls).squeeze(1))  # (B, n_classes)
