"""ParT blocks: attention with a per-head pair bias, class attention, pair embedding.

ParT (Qu, Li, Qian, arXiv:2202.03772) adds to the attention logits of every particle-attention
block the same learned "interaction" matrix ``U`` (B, H, N, N), an MLP of the pairwise Lorentz
features (:mod:`colliderlab.nn.pairs`), and then reads the jet out with class-attention blocks
(CaiT, arXiv:2103.17239) in which a class token attends to the particles. The blocks are
NormFormer-style (arXiv:2110.09456) like weaver-core's: LayerNorm before and after the attention
and inside the feed-forward network, learned per-head and residual scales.

Layouts: tokens ``(B, N, C)``, or in training the ``M`` real tokens ``(M, C)`` with a
:data:`PackedIndex` (position-wise layers then skip the padding; attention itself runs dense);
attention biases ``(B, H, N, N)`` (float, added to the logits; ``-inf`` removes a key); masks
``(B, N)`` bool (True = real particle).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from colliderlab.nn.layers import Dropout, dropout, exporting
from colliderlab.nn.pairs import pair_features, pair_features_tril, tril_to_symmetric

__all__ = [
    "PackedIndex",
    "key_padding_bias",
    "MultiHeadAttention",
    "ParticleAttentionBlock",
    "ClassAttentionBlock",
    "PairEmbedding",
]


# Real tokens packed out of a padded (B, N) batch: their flat slot indices (M,), B and N.
PackedIndex = tuple[torch.Tensor, int, int]


def key_padding_bias(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Additive bias removing padded keys: ``mask`` (B, N) bool -> (B, 1, 1, N) of 0 / -inf.

    A jet without any real particle keeps all its keys (so that no softmax row is empty).
    """
    keep = mask | ~mask.any(1, keepdim=True)  # (B, N)
    bias = torch.zeros(keep.shape, dtype=dtype, device=mask.device)
    return bias.masked_fill_(~keep, float("-inf")).view(mask.shape[0], 1, 1, -1)


class MultiHeadAttention(nn.Module):
    """Multi-head attention with an additive float bias and a learned per-head output scale.

    The parameters are those of ``nn.MultiheadAttention`` (a joint ``C -> 3C`` input projection
    and a ``C -> C`` output projection) plus, with ``scale_heads``, one scale per head applied to
    each head's output before the output projection (NormFormer).

    Shapes: ``query`` (B, L, C), ``kv`` (B, S, C) (None: self-attention), ``bias`` broadcastable
    to (B, H, L, S) or None -> (B, L, C). With ``index`` (self-attention only) ``query`` holds the
    packed real tokens (M, C) and so does the output.
    """

    def __init__(
        self, dim: int, heads: int, dropout: float = 0.0, scale_heads: bool = True
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(
                f"embedding width {dim} is not divisible by the number of heads {heads}"
            )
        self.dim, self.heads, self.dropout = dim, heads, dropout
        self.in_proj = nn.Linear(dim, 3 * dim)
        self.out_proj = nn.Linear(dim, dim)
        self.head_scale = nn.Parameter(torch.ones(heads)) if scale_heads else None

    def attention_weights(
        self, query: torch.Tensor, kv: torch.Tensor | None = None, bias: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """For inspection (dense inputs, as in evaluation): the attention weights (B, H, L, S) that
        :meth:`forward` applies, and the content logits q.k / sqrt(d) (B, H, L, S) before ``bias``."""
        b, l, c = query.shape
        h, d = self.heads, c // self.heads
        src = query if kv is None else kv
        (w_q, w_k, _), (b_q, b_k, _) = self.in_proj.weight.chunk(3), self.in_proj.bias.chunk(3)
        q = F.linear(query, w_q, b_q).view(b, l, h, d).transpose(1, 2)  # (B, H, L, d)
        k = F.linear(src, w_k, b_k).view(b, src.shape[1], h, d).transpose(1, 2)  # (B, H, S, d)
        logits = torch.matmul(q * d**-0.5, k.transpose(-1, -2))  # (B, H, L, S)
        return torch.softmax(logits if bias is None else logits + bias, -1), logits

    def forward(
        self,
        query: torch.Tensor,
        kv: torch.Tensor | None = None,
        bias: torch.Tensor | None = None,
        index: PackedIndex | None = None,
    ) -> torch.Tensor:
        if index is not None:  # packed self-attention: (M, C) real tokens in, (M, C) out
            node, b, l = index
            c = query.shape[-1]
            qkv = self.in_proj(query)  # (M, 3C)
            qkv = qkv.new_zeros(b * l, 3 * c).index_copy(0, node, qkv)  # (B N, 3C), padded = 0
        else:
            b, l, c = query.shape
        h, d = self.heads, c // self.heads
        if kv is None:  # self-attention: one projection
            if index is None:
                qkv = self.in_proj(query)  # (B, L, 3C)
            q, k, v = qkv.view(b, l, 3, h, d).permute(2, 0, 3, 1, 4).unbind(0)  # (B, H, L, d) each
        else:
            (w_q, w_k, w_v), (b_q, b_k, b_v) = (
                self.in_proj.weight.chunk(3),
                self.in_proj.bias.chunk(3),
            )
            s = kv.shape[1]
            q = F.linear(query, w_q, b_q).view(b, l, h, d).transpose(1, 2)  # (B, H, L, d)
            k = F.linear(kv, w_k, b_k).view(b, s, h, d).transpose(1, 2)  # (B, H, S, d)
            v = F.linear(kv, w_v, b_v).view(b, s, h, d).transpose(1, 2)  # (B, H, S, d)
        # explicit attention: on the CPU this beats scaled_dot_product_attention, whose fallback
        # for a float mask that needs a gradient (the pair bias) is slower
        logits = torch.matmul(q * d**-0.5, k.transpose(-1, -2))  # (B, H, L, S)
        if bias is not None:  # (out of place: matmul returns a view, see EdgeConvBlock)
            logits = logits + bias  # (B, H, L, S)
        attn = torch.softmax(logits, -1)  # (B, H, L, S)
        if self.training and self.dropout > 0:
            attn = dropout(attn, self.dropout)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(b, l, c)  # (B, L, C)
        if index is not None:
            out = F.embedding(index[0], out.view(b * l, c))  # (M, C)
        w = self.out_proj.weight  # (C, C); the head scales act on its input columns
        if self.head_scale is not None:
            w = w * self.head_scale.repeat_interleave(d)
        return F.linear(out, w, self.out_proj.bias)  # (B, L, C)


class _FeedForward(nn.Module):
    """NormFormer's FFN ``LN -> Linear -> act -> Dropout -> LN -> Linear``: (..., C) -> (..., C)."""

    def __init__(
        self, dim: int, hidden: int, activation: Callable[[], nn.Module], dropout: float
    ) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim),
            nn.Linear(dim, hidden),
            activation(),
            Dropout(dropout),
            nn.LayerNorm(hidden),
            nn.Linear(hidden, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ParticleAttentionBlock(nn.Module):
    """ParT's particle attention block (arXiv:2202.03772 Fig. 2b), NormFormer style.

    ``x = x + Drop(LN(MHA(LN(x), bias)))``, then ``x = w * x + Drop(FFN(x))`` with a learned
    per-channel residual scale ``w``.

    Shapes: ``x`` (B, N, C), ``bias`` (B, H, N, N) float (pair interaction plus key padding) ->
    (B, N, C).
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        ffn_ratio: int = 4,
        dropout: float = 0.1,
        attn_dropout: float = 0.1,
        activation_dropout: float = 0.1,
        activation: Callable[[], nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        self.pre_attn_norm = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, heads, attn_dropout)
        self.post_attn_norm = nn.LayerNorm(dim)
        self.ffn = _FeedForward(dim, ffn_ratio * dim, activation, activation_dropout)
        self.drop = Dropout(dropout)
        self.resid_scale = nn.Parameter(torch.ones(dim))

    def forward(
        self, x: torch.Tensor, bias: torch.Tensor | None, index: PackedIndex | None = None
    ) -> torch.Tensor:
        """``x`` (B, N, C), or (M, C) real tokens with ``index`` = (flat slots (M,), B, N)."""
        a = self.attn(self.pre_attn_norm(x), bias=bias, index=index)  # (B, N, C) or (M, C)
        x = x + self.drop(self.post_attn_norm(a))
        return torch.addcmul(self.drop(self.ffn(x)), x, self.resid_scale)  # x * w + FFN(x)


class ClassAttentionBlock(ParticleAttentionBlock):
    """Class attention (CaiT): the class token attends to itself and the particles.

    Shapes: ``cls`` (B, 1, C), ``x`` (B, N, C) particle tokens, ``bias`` (B, 1, 1, 1 + N) key
    padding bias for ``[cls, particles]`` -> (B, 1, C), the updated class token.
    """

    def forward(
        self, cls: torch.Tensor, x: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:  # type: ignore[override]
        u = self.pre_attn_norm(torch.cat([cls, x], 1))  # (B, 1 + N, C)
        # the query is the raw class token, keys/values the normalised [cls, particles] (CaiT,
        # arXiv:2103.17239, as ParT's reference implementation does)
        cls = cls + self.drop(self.post_attn_norm(self.attn(cls, u, bias=bias)))  # (B, 1, C)
        return torch.addcmul(self.drop(self.ffn(cls)), cls, self.resid_scale)  # (B, 1, C)


class PairEmbedding(nn.Module):
    """Per-head attention biases from pairwise Lorentz features (ParT's interaction embedding).

    ``U_ij = MLP(BN(ln Delta, ln kT, ln z, ln m^2))`` with ``Linear -> BatchNorm -> GELU`` layers
    (weaver-core's 1x1 convolutions, less their biases, which the batch norm cancels; dropping them
    saves a full pass over the pair tensor) and a final linear map to one value per head. It runs
    on the ``N (N + 1) / 2`` pairs ``i >= j`` (the features are symmetric) and is spread back to a
    symmetric (B, H, N, N) matrix. In training only the pairs of real particles are embedded
    (packed), so the batch-norm statistics are those of real pairs and padding costs nothing; in
    evaluation it runs on all triangle pairs with the running statistics, and while the model is
    exported (:func:`colliderlab.nn.layers.exporting`) on all ``N^2`` pairs (static shapes).

    Shapes: ``p4`` (B, N, 4) (E, px, py, pz), ``mask`` (B, N) -> (B, H, N, N); entries involving a
    padded particle are finite but meaningless (mask the keys).
    """

    def __init__(
        self, dims: Sequence[int], heads: int, activation: Callable[[], nn.Module] = nn.GELU
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm1d(4)]
        c = 4
        for width in dims:
            layers += [nn.Linear(c, width, bias=False), nn.BatchNorm1d(width), activation()]
            c = width
        layers.append(nn.Linear(c, heads))
        self.net = nn.Sequential(*layers)
        self.heads = heads

    def forward(self, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, _ = p4.shape
        if exporting():  # all N^2 pairs: no triangle index lists, which need a static N
            feats = pair_features(p4, mask)  # (B, N, N, 4)
            vals = self.net(feats.reshape(b * n * n, 4))  # (B N N, H)
            return vals.view(b, n, n, self.heads).permute(0, 3, 1, 2)  # (B, H, N, N)
        feats, pair_mask = pair_features_tril(p4, mask)  # (B, P, 4), (B, P)
        p = feats.shape[1]
        if self.training:
            keep = pair_mask.reshape(-1).nonzero().squeeze(1)  # (P_real,)
            emb = self.net(F.embedding(keep, feats.reshape(b * p, 4)))  # (P_real, H)
            vals = emb.new_zeros(b * p, self.heads).index_copy(0, keep, emb)  # (B P, H)
        else:
            vals = self.net(feats.reshape(b * p, 4))  # (B P, H)
        vals = vals.view(b, p, self.heads).transpose(1, 2).contiguous()  # (B, H, P)
        return tril_to_symmetric(vals, n)  # (B, H, N, N)
