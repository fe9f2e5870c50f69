"""Attention maps of the Particle Transformer (arXiv:2202.03772) and its interaction matrix's part.

Each particle-attention block's weights are ``softmax(q.k / sqrt(d) + U + padding)`` with ``U`` the
per-head pair-interaction bias learnt from the pairwise Lorentz features. The maps are read in
evaluation mode through forward pre-hooks on the attention modules (their inputs), and recomputed
by :meth:`colliderlab.nn.attention.MultiHeadAttention.attention_weights`: nothing in the model
changes. The interaction's contribution per layer and head is measured two ways over real
(query, key) pairs: the mean total-variation distance between the maps with and without ``U``
(0: ``U`` changes nothing, 1: disjoint), and the spread (standard deviation) of ``U`` beside that
of the content logits q.k / sqrt(d).

Shapes (B jets, N particle slots, L particle blocks, Lc class blocks, H heads):
``particle`` (B, L, H, N, N) rows = queries, summing to 1 over keys (padded keys get 0);
``class`` (B, Lc, H, 1 + N) the class token's weights over [class token, particles];
``interaction_tv`` (L, H); ``interaction_std`` (L, H); ``content_std`` (L, H).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["attention_maps"]


def attention_maps(model: Any, x: np.ndarray, p4: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """The attention maps of a :class:`~colliderlab.models.part.ParticleTransformer` on a batch."""
    import torch

    from colliderlab.nn.attention import key_padding_bias

    if not hasattr(model, "blocks") or not hasattr(model, "cls_blocks"):
        raise TypeError(f"attention maps need a ParticleTransformer, got {type(model).__name__}")
    model.eval()
    device = next(model.parameters()).device
    x_t, p4_t = (torch.as_tensor(a, dtype=torch.float32, device=device) for a in (x, p4))
    m_t = torch.as_tensor(mask, dtype=torch.bool, device=device)
    records: list[tuple[str, Any, tuple, dict]] = []
    hooks = []
    for kind, blocks in (("particle", model.blocks), ("class", model.cls_blocks)):
        for blk in blocks:
            hooks.append(blk.attn.register_forward_pre_hook(
                lambda mod, args, kwargs, kind=kind: records.append((kind, mod, args, kwargs)), with_kwargs=True))
    try:
        with torch.no_grad():
            model(x_t, p4_t, m_t)
            out = _maps(records, key_padding_bias(m_t, torch.float32), m_t)
    finally:
        for h in hooks:
            h.remove()
    return out


def _maps(records: list, pad: Any, mask: Any) -> dict[str, np.ndarray]:
    import torch

    part, cls, tv, u_std, c_std = [], [], [], [], []
    pair = (mask[:, :, None] & mask[:, None, :])[:, None]  # (B, 1, N, N) real (query, key) pairs
    for kind, mod, args, kwargs in records:
        query = args[0]
        kv = args[1] if len(args) > 1 else kwargs.get("kv")
        bias = kwargs.get("bias")
        attn, content = mod.attention_weights(query, kv, bias)
        if kind == "class":
            cls.append(attn[:, :, 0])  # (B, H, 1 + N)
            continue
        part.append(attn)  # (B, H, N, N)
        plain = torch.softmax(content + pad, -1)
        w = pair.expand_as(attn).float()
        rows = w[..., 0].sum((0, 2)).clamp(min=1)  # real queries per head
        tv.append((0.5 * (attn - plain).abs().sum(-1) * w[..., 0]).sum((0, 2)) / rows)  # (H,)
        u = bias - pad  # the interaction matrix alone
        u_std.append(_masked_std(u.expand_as(attn), w))
        c_std.append(_masked_std(content, w))
    return {
        "particle": torch.stack(part, 1).cpu().numpy(),  # (B, L, H, N, N)
        "class": torch.stack(cls, 1).cpu().numpy(),  # (B, Lc, H, 1 + N)
        "interaction_tv": torch.stack(tv).cpu().numpy(),  # (L, H)
        "interaction_std": torch.stack(u_std).cpu().numpy(),
        "content_std": torch.stack(c_std).cpu().numpy(),
    }


def _masked_std(v: Any, w: Any) -> Any:
    """Standard deviation per head (H,) of ``v`` (B, H, N, N) over entries where ``w`` is 1."""
    n = w.sum((0, 2, 3)).clamp(min=1)
    mean = (v * w).sum((0, 2, 3)) / n
    return (((v - mean[None, :, None, None]) ** 2 * w).sum((0, 2, 3)) / n).sqrt()
