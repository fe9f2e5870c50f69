"""A convolutional network on calorimeter cells, one branch per readout layer.

For particle identification (e, gamma, pi0, pi+-) and energy regression on showers, as in the
LCD calorimeter study (arXiv:1912.06794) and CaloGAN's layer-wise treatment (arXiv:1705.02355):
each layer's (rows, columns) image is transformed as ``log(1 + x / 1e-4)`` (x: cell energy over the
normalising energy of the ``calo`` representation), convolved by its own small 2D CNN (max-pooled
only when a layer has more than ``max_flat`` cells, so the separation of two photon cores a cell
apart survives); the flattened maps and ``cond`` (log10 of the normalising energy, angle) feed a
dense head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from colliderlab.models.registry import register_model
from colliderlab.nn.layers import check_input, head

__all__ = ["CaloCNNConfig", "CaloCNN"]


@dataclass(frozen=True)
class CaloCNNConfig:
    n_features: int
    n_classes: int = 2
    n_context: int = 2
    layer_shapes: tuple[tuple[int, int], ...] = ()
    channels: tuple[int, ...] = (16, 32)
    dense: tuple[int, ...] = (128, 64)
    dropout: float = 0.1
    max_flat: int = 400  # feature-map positions per layer kept before the dense head

    def __post_init__(self) -> None:
        if not self.layer_shapes:
            raise ValueError("calo_cnn needs layer_shapes (a calo representation with its geometry)")
        if sum(a * b for a, b in self.layer_shapes) != self.n_features:
            raise ValueError(f"layer_shapes {self.layer_shapes} have {sum(a * b for a, b in self.layer_shapes)} "
                             f"cells, but n_features = {self.n_features}")


@register_model(
    "calo_cnn",
    config=CaloCNNConfig,
    representations=("calo",),
    presets={"paper": {"channels": (32, 64, 64), "dense": (256, 128)}, "lite": {}},
    reference="arXiv:1912.06794",
)
class CaloCNN(nn.Module):
    """Layer-wise CNN classifier/regressor on calorimeter cells.

    Shapes: ``x`` (B, n_cells) layer-major cells, ``cond`` (B, n_context) -> (B, n_classes).
    """

    input_names = ("x", "cond")

    def __init__(self, config: CaloCNNConfig) -> None:
        super().__init__()
        self.config = config
        branches, flat = [], 0
        for h, w in config.layer_shapes:
            layers: list[nn.Module] = []
            c_in = 1
            for c in config.channels:
                layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU()]
                c_in = c
            if h * w > config.max_flat:  # large layers: max-pool to at most max_flat positions
                f = math.ceil(math.sqrt(h * w / config.max_flat))
                layers.append(nn.MaxPool2d(f, ceil_mode=True))
                h, w = math.ceil(h / f), math.ceil(w / f)
            branches.append(nn.Sequential(*layers))
            flat += c_in * h * w  # the full feature map: core separations are a cell or two
        self.branches = nn.ModuleList(branches)
        self.head = head(flat + config.n_context, config.dense, config.n_classes, dropout=config.dropout)
        self._scale = math.log(1.0 / 1e-4 + 1.0)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        check_input("x", x, ("B", self.config.n_features), "calo_cnn")
        check_input("cond", cond, (x.shape[0], self.config.n_context), "calo_cnn")
        t = torch.log1p(x.clamp(min=0) / 1e-4) / self._scale  # (B, n_cells) in about [0, 1]
        feats, start = [], 0
        for (h, w), branch in zip(self.config.layer_shapes, self.branches, strict=True):
            img = t[:, start : start + h * w].reshape(-1, 1, h, w)  # (B, 1, h, w)
            feats.append(branch(img).flatten(1))
            start += h * w
        return self.head(torch.cat([*feats, cond], 1))  # (B, n_classes)
