"""A 3D convolutional network on a calorimeter cube of equal readout layers.

For particle identification and energy regression on finely segmented calorimeters such as the
LCD/CLIC W-Si ECAL cut-out (geometry ``lcd``: 25 layers of 25 x 25 cells), after the 3D CNNs of
the LCD calorimeter study (arXiv:1912.06794). The layer-major cells are stacked into one volume
(B, 1, L, h, w), transformed as in :mod:`.calo_cnn` (``log(1 + x / 1e-4) / log(1 + 1e4)``, x: cell
energy over the normalising energy of the ``calo`` representation), and passed through
``Conv3d(3) -> ReLU -> MaxPool3d`` blocks: the first convolution sees the full cell resolution, so a
pair of photon cores a cell apart is seen before any pooling. The flattened feature map and
``cond`` (log10 of the normalising energy, angle) feed a dense head.

Unlike :class:`.calo_cnn.CaloCNN` (one 2D branch per layer, 25 branches on the ``lcd`` cube) the
weights are shared across depth, which keeps the fine cube trainable on a CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from colliderlab.models.registry import register_model
from colliderlab.nn.layers import check_input, head

__all__ = ["CaloCNN3DConfig", "CaloCNN3D"]


@dataclass(frozen=True)
class CaloCNN3DConfig:
    """Config of :class:`CaloCNN3D`.

    ``channels`` gives one ``Conv3d(3, padding=1) -> ReLU`` block per entry; ``pool`` the cubic
    max-pool factor after each block (1: none, ``ceil_mode`` so no cell is dropped).
    """

    n_features: int
    n_classes: int = 2
    n_context: int = 2
    layer_shapes: tuple[tuple[int, int], ...] = ()
    channels: tuple[int, ...] = (8, 16, 32)
    pool: tuple[int, ...] = (2, 2, 2)
    dense: tuple[int, ...] = (128, 64)
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if not self.layer_shapes:
            raise ValueError("calo_cnn3d needs layer_shapes (a calo representation with its geometry)")
        if len(set(self.layer_shapes)) != 1:
            raise ValueError(f"calo_cnn3d needs all layers to have the same (h, w) shape to stack them into a "
                             f"volume, got layer_shapes {self.layer_shapes}; use calo_cnn for such geometries")
        n_cells = sum(a * b for a, b in self.layer_shapes)
        if n_cells != self.n_features:
            (h, w), n_layers = self.layer_shapes[0], len(self.layer_shapes)
            raise ValueError(f"calo_cnn3d: layer_shapes ({n_layers} layers of {h} x {w}) have {n_cells} cells, "
                             f"but n_features = {self.n_features}")
        if len(self.pool) != len(self.channels) or any(p < 1 for p in self.pool):
            raise ValueError(f"calo_cnn3d: pool {self.pool} needs one factor >= 1 per block of channels {self.channels}")


@register_model(
    "calo_cnn3d",
    config=CaloCNN3DConfig,
    representations=("calo",),
    presets={"paper": {"channels": (16, 32, 64), "dense": (256, 128)}, "lite": {}},
    reference="arXiv:1912.06794",
)
class CaloCNN3D(nn.Module):
    """3D CNN classifier/regressor on a calorimeter cube of equal layers.

    Shapes: ``x`` (B, n_cells) layer-major cells (n_cells = L * h * w), ``cond`` (B, n_context)
    -> (B, n_classes).
    """

    input_names = ("x", "cond")

    def __init__(self, config: CaloCNN3DConfig) -> None:
        super().__init__()
        self.config = config
        self.n_layers = len(config.layer_shapes)
        self.h, self.w = config.layer_shapes[0]
        layers: list[nn.Module] = []
        c_in, dims = 1, [self.n_layers, self.h, self.w]
        for c, p in zip(config.channels, config.pool, strict=True):
            layers += [nn.Conv3d(c_in, c, 3, padding=1), nn.ReLU()]
            if p > 1:
                layers.append(nn.MaxPool3d(p, ceil_mode=True))
                dims = [math.ceil(d / p) for d in dims]
            c_in = c
        # channels-last 3D weights take the CPU's oneDNN path: ~1.6x faster training, same numbers
        self.features = nn.Sequential(*layers).to(memory_format=torch.channels_last_3d)
        flat = c_in * math.prod(dims)
        self.head = head(flat + config.n_context, config.dense, config.n_classes, dropout=config.dropout)
        self._scale = math.log(1.0 / 1e-4 + 1.0)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        check_input("x", x, ("B", self.config.n_features), "calo_cnn3d")
        check_input("cond", cond, (x.shape[0], self.config.n_context), "calo_cnn3d")
        t = torch.log1p(x.clamp(min=0) / 1e-4) / self._scale  # (B, n_cells) in about [0, 1]
        vol = t.reshape(-1, 1, self.n_layers, self.h, self.w)  # (B, 1, L, h, w)
        feats = self.features(vol).flatten(1)  # (B, C * L' * h' * w')
        return self.head(torch.cat([feats, cond], 1))  # (B, n_classes)
