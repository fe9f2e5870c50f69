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
from colliderlab.nn.layers import check_input, head

__all__ = ["DNNConfig", "DNN", "NSubDNNConfig", "NSubDNN"]


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
    representations=("observables", "efp", "nsub", "calo_features"),
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
        self.net = head(
            config.n_features, tuple(config.hidden), config.n_classes,
            batch_norm=config.batch_norm, dropout=config.dropout,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input("x", x, ("B", self.config.n_features), "dnn")
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
