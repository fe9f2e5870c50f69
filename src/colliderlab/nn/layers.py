"""Building blocks shared by the particle-cloud models: MLPs, heads, masked pooling, checks.

Layouts are channels-last: ``x`` is ``(B, N, C)`` (or any ``(..., C)``) and ``mask`` is ``(B, N)``
bool with True for real particles. Padded slots never change a pooled result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

__all__ = [
    "mlp",
    "head",
    "dropout",
    "Dropout",
    "masked_sum",
    "masked_mean",
    "masked_max",
    "check_input",
    "exporting",
    "get_activation",
]


def mlp(
    dims: Sequence[int],
    activation: Callable[[], nn.Module] = nn.ReLU,
    *,
    last_activation: bool = True,
    dropout: float = 0.0,
    bias: bool = True,
) -> nn.Sequential:
    """``Linear -> activation (-> Dropout)`` for each consecutive pair of ``dims``.

    Args:
        dims: ``(in, hidden..., out)`` widths; acts on the last axis ``(..., in) -> (..., out)``.
        activation: a module factory (``nn.ReLU``, ``nn.GELU``, ``nn.SELU`` ...).
        last_activation: whether the output layer is followed by the activation.
        dropout: dropout after each hidden activation (never after the output layer).
    """
    if len(dims) < 2:
        raise ValueError(f"mlp needs at least (in, out) widths, got {tuple(dims)}")
    layers: list[nn.Module] = []
    n = len(dims) - 1
    for i in range(n):
        layers.append(nn.Linear(dims[i], dims[i + 1], bias=bias))
        if i < n - 1 or last_activation:
            layers.append(activation())
        if dropout > 0 and i < n - 1:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def head(
    in_dim: int,
    hidden: Sequence[int],
    n_out: int,
    activation: Callable[[], nn.Module] = nn.ReLU,
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> nn.Sequential:
    """Classifier head ``(Linear -> [BatchNorm1d] -> act -> [Dropout]) * len(hidden) -> Linear``.

    Acts on the last axis, (..., in_dim) -> (..., n_out) (with ``batch_norm`` only (B, in_dim));
    with ``hidden == ()`` a single linear map.
    """
    layers: list[nn.Module] = []
    for width in hidden:
        layers.append(nn.Linear(in_dim, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(activation())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        in_dim = width
    layers.append(nn.Linear(in_dim, n_out))
    return nn.Sequential(*layers)


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Inverted dropout, ``x * (u >= p) / (1 - p)`` with ``u ~ U[0, 1)``; any shape.

    The same distribution as ``F.dropout``; drawing uniform noise is about twice as fast on the
    CPU as its ``bernoulli_`` (forward plus backward), which matters for attention weights.
    """
    if not training or p <= 0.0:
        return x
    if p >= 1.0:
        return x * 0.0
    noise = torch.rand_like(x).ge_(p).mul_(1.0 / (1.0 - p))
    return x * noise


class Dropout(nn.Module):
    """Module form of :func:`dropout` (a drop-in for ``nn.Dropout``)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def masked_sum(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum over real particles: ``x`` (B, N, C), ``mask`` (B, N) -> (B, C)."""
    return torch.einsum("bnc,bn->bc", x, mask.to(x.dtype))


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real particles (zero for a jet without any): (B, N, C), (B, N) -> (B, C)."""
    count = mask.sum(1, keepdim=True).clamp(min=1).to(x.dtype)  # (B, 1)
    return masked_sum(x, mask) / count


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over real particles (zero for a jet without any): (B, N, C), (B, N) -> (B, C)."""
    neg = torch.finfo(x.dtype).min
    out = x.masked_fill(~mask.unsqueeze(-1), neg).amax(1)  # (B, C)
    return torch.where(mask.any(1, keepdim=True), out, torch.zeros_like(out))


def exporting() -> bool:
    """True while ``torch.export`` / ``torch.onnx`` / ``torch.jit`` trace the model.

    Models use it to take their static-shape path (no triangle-only pair lists or packing).
    """
    return bool(torch.compiler.is_exporting() or torch.jit.is_tracing() or torch.jit.is_scripting())


def check_input(name: str, t: torch.Tensor, shape: Sequence[int | str], model: str) -> None:
    """Raise a ``ValueError`` naming ``t`` unless it matches ``shape`` (ints fixed, strings free).

    E.g. ``check_input("x", x, ("B", "N", 7), "pfn")``; the message gives the expected and the
    actual shape. Checks only ranks and fixed sizes (cheap, so it runs in every forward).
    """
    if t.dim() != len(shape) or any(
        isinstance(s, int) and t.shape[i] != s for i, s in enumerate(shape)
    ):
        want = "(" + ", ".join(str(s) for s in shape) + ")"
        raise ValueError(f"{model}: input {name!r} must have shape {want}, got {tuple(t.shape)}")


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "selu": nn.SELU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
}


def get_activation(name: str) -> Callable[[], nn.Module]:
    """The activation factory named ``name`` (configs store names; unknown names list the valid)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[name]
