"""Dense networks on fixed-length jet features (observables, EFPs, N-subjettiness bases).

Two registered models:

* ``dnn``: a multilayer perceptron, ``Linear -> [BatchNorm] -> ReLU -> [Dropout]`` per hidden
  layer. Presets:

  - ``"hls4ml"``: the jet-substructure tagger of the hls4ml paper (Duarte et al., arXiv:1804.06913):
    16 inputs -> 64 -> 32 -> 32 -> 5, ReLU, no batch norm or dropout; 4,389 parameters for 16
    inputs and 5 classes, exactly the published count.
  - ``"paper"``: the same 64-32-32 layer sizes with batch norm and dropout 0.1 (the regularised
    form this package trains by default); 4,645 parameters for 16 inputs and 5 classes, 5.8% above
    the published 4,389 of the plain network (``paper_params``).
  - ``"lite"``: 32-32 with batch norm, no dropout.

* ``nsub_dnn``: the N-subjettiness DNN of Moore, Nordstroem, Varma, Fairbairn (arXiv:1807.04769):
  dense 200-200-50-50, ReLU, dropout, on the multi-body N-subjettiness basis of
  arXiv:1011.2268/1704.08249. For M = 6 bodies the basis has 3M - 4 = 14 entries; the "paper"
  preset then has 55,902 parameters for 2 classes, within 2% of the 57k listed for this tagger in
  the top-tagging comparison (arXiv:1902.09914, which adds m_jet and pT_jet: 16 inputs give
  56,302).

Shapes: ``forward(x (B, F)) -> (B, n_classes)`` logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from colliderlab.models.registry import register_model

__all__ = ["DNNConfig", "DNN", "NSubDNNConfig", "NSubDNN", "make_mlp", "check_input"]


def make_mlp(
    in_dim: int,
    hidden: tuple[int, ...],
    out_dim: int | None,
    *,
    batch_norm: bool = False,
    dropout: float = 0.0,
) -> nn.Sequential:
    """``Linear -> [BatchNorm1d] -> ReLU -> [Dropout]`` for each width in ``hidden``, then an optional
    plain ``Linear(hidden[-1], out_dim)`` head. Maps (B, in_dim) to (B, out_dim or hidden[-1])."""
    layers: list[nn.Module] = []
    prev = in_dim
    for width in hidden:
        layers.append(nn.Linear(prev, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        prev = width
    if out_dim is not None:
        layers.append(nn.Linear(prev, out_dim))
    return nn.Sequential(*layers)


def check_input(name: str, t: torch.Tensor, expected: str, ndim: int, last: int | None = None) -> None:
    """Raise a ``ValueError`` naming ``name`` and its expected shape when ``t`` has ``ndim`` != t.ndim
    or a last axis other than ``last``. Python-level only (no device sync)."""
    if t.dim() != ndim or (last is not None and t.shape[-1] != last):
        raise ValueError(f"input {name!r} must have shape {expected}, got {tuple(t.shape)}")


def _check_common(n_classes: int, n_features: int, dropout: float) -> None:
    if n_classes < 1 or n_features < 1:
        raise ValueError(f"n_classes and n_features must be >= 1, got {n_classes}, {n_features}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


@dataclass(frozen=True)
class DNNConfig:
    """Configuration of :class:`DNN`."""

    n_features: int
    n_classes: int = 2
    hidden: tuple[int, ...] = (64, 32, 32)
    batch_norm: bool = True
    dropout: float = 0.1

    def __post_init__(self) -> None:
        _check_common(self.n_classes, self.n_features, self.dropout)


@register_model(
    "dnn",
    config=DNNConfig,
    representations=("observables", "efp", "nsub"),
    presets={
        "paper": {"hidden": (64, 32, 32), "batch_norm": True, "dropout": 0.1},
        "hls4ml": {"hidden": (64, 32, 32), "batch_norm": False, "dropout": 0.0},
        "lite": {"hidden": (32, 32), "batch_norm": True, "dropout": 0.0},
    },
    paper_params=4389,
    reference="arXiv:1804.06913",
)
class DNN(nn.Module):
    """Multilayer perceptron on a feature vector (hls4ml jet tagger, arXiv:1804.06913).

    Shapes: ``x`` (B, F) -> logits (B, n_classes).
    """

    input_names = ("x",)

    def __init__(self, config: DNNConfig) -> None:
        super().__init__()
        self.config = config
        self.net = make_mlp(
            config.n_features, tuple(config.hidden), config.n_classes,
            batch_norm=config.batch_norm, dropout=config.dropout,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input("x", x, f"(B, {self.config.n_features})", 2, self.config.n_features)
        return self.net(x)  # (B, n_classes)


@dataclass(frozen=True)
class NSubDNNConfig:
    """Configuration of :class:`NSubDNN` (defaults: the arXiv:1807.04769 network)."""

    n_features: int
    n_classes: int = 2
    hidden: tuple[int, ...] = (200, 200, 50, 50)
    batch_norm: bool = False
    dropout: float = 0.1

    def __post_init__(self) -> None:
        _check_common(self.n_classes, self.n_features, self.dropout)


@register_model(
    "nsub_dnn",
    config=NSubDNNConfig,
    representations=("nsub",),
    presets={
        "paper": {"hidden": (200, 200, 50, 50), "batch_norm": False, "dropout": 0.1},
        "lite": {"hidden": (64, 32), "batch_norm": False, "dropout": 0.0},
    },
    paper_params=57_000,
    reference="arXiv:1807.04769",
)
class NSubDNN(DNN):
    """Dense network on the multi-body N-subjettiness basis (arXiv:1807.04769).

    Shapes: ``x`` (B, 3M - 4) -> logits (B, n_classes).
    """

    input_names = ("x",)
