"""Convolutional networks on jet images.

Two registered models:

* ``cnn``: a plain convolutional stack ``[ZeroPad 'same' -> Conv -> [BN] -> ReLU]`` with max
  pooling after chosen layers, then a dense head. Presets:

  - ``"paper"``: the image CNN of Macaluso & Shih (arXiv:1803.00107), the "CNN" entry of the
    top-tagging comparison (arXiv:1902.09914, 610k parameters on 37x37 images): four 4x4
    convolutions with 64 filters, max pooling after the second and fourth, dense 64-256-256.
    On 37x37 images with 2x2 pooling the feature map before the dense layers is 9x9x64; this
    package's images are 40x40, where 2x2 pooling would give 10x10x64 and 690k parameters, so
    the paper preset pools with overlapping 3x3 windows of stride 2 (40 -> 19 -> 9), which keeps
    the 9x9x64 map and gives 612,674 parameters for one 40x40 channel and 2 classes (+0.4%). (On the original
    37x37x2 images this pooling gives 544k; the original 2x2 pooling there gives 613,698.)
  - ``"deeptop"``: the DeepTop default of Kasieczka et al. (arXiv:1701.08784): 4x4 convolutions
    with 8 maps, C8-C8-MaxPool-C8-C8-MaxPool, dense 64-64-64 (62,946 parameters on 40x40x1).
  - ``"lite"``: 8-8-16-16 maps of 3x3 (odd kernels run several times faster than 4x4 ones
    on CPU) with batch norm, 2x2 pooling, dense 64 (batch norm and the width from the Optuna
    search of issue #20: test AUC 0.985 on the 40k top-tagging sample against 0.960 before).

* ``resnet``: a ResNet-18-style residual network (He et al., arXiv:1512.03385) of basic blocks
  (two 3x3 convolutions with batch norm and a skip connection), stride-2 stage transitions and
  global average pooling. The "paper" preset stands in for the ResNeXt entry of arXiv:1902.09914
  (1.46M parameters): 2 blocks in each of 4 stages of width 24-48-96-184, 1,484,234 parameters
  for one channel and 2 classes (+1.7%); it is a simpler network matched in size, not ResNeXt.

Shapes: ``forward(image (B, C, H, W)) -> (B, n_classes)`` logits, with H = W = image_size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from colliderlab.models.registry import register_model
from colliderlab.nn.layers import check_input, head

__all__ = ["CNNConfig", "CNN", "ResNetConfig", "ResNet"]


def _check_dims(in_channels: int, image_size: int, n_classes: int, dropout: float) -> None:
    if in_channels < 1 or image_size < 1 or n_classes < 1:
        raise ValueError(
            f"in_channels, image_size and n_classes must be >= 1, got {in_channels}, {image_size}, "
            f"{n_classes}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


@dataclass(frozen=True)
class CNNConfig:
    """Configuration of :class:`CNN`. ``pool_after`` lists the 0-based conv layers followed by
    a ``pool_kernel`` x ``pool_kernel`` max pool of stride ``pool_stride``."""

    in_channels: int
    image_size: int
    n_classes: int = 2
    channels: tuple[int, ...] = (64, 64, 64, 64)
    kernel_size: int = 4
    pool_after: tuple[int, ...] = (1, 3)
    pool_kernel: int = 3
    pool_stride: int = 2
    dense: tuple[int, ...] = (64, 256, 256)
    batch_norm: bool = False
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _check_dims(self.in_channels, self.image_size, self.n_classes, self.dropout)
        bad = [i for i in self.pool_after if not 0 <= i < len(self.channels)]
        if bad:
            raise ValueError(f"pool_after {bad} outside the {len(self.channels)} conv layers")

    def feature_map_size(self) -> int:
        """Side of the feature map after the last conv/pool (convolutions keep the size)."""
        size = self.image_size
        for _ in self.pool_after:
            if size < self.pool_kernel:
                raise ValueError(
                    f"image_size {self.image_size} is too small for {len(self.pool_after)} "
                    f"{self.pool_kernel}x{self.pool_kernel} max pools"
                )
            size = (size - self.pool_kernel) // self.pool_stride + 1
        return size


def _same_pad(kernel: int) -> nn.ZeroPad2d:
    """Keras-style 'same' padding (the extra row/column of an even kernel goes right/bottom)."""
    total = kernel - 1
    lo, hi = total // 2, total - total // 2
    return nn.ZeroPad2d((lo, hi, lo, hi))


@register_model(
    "cnn",
    config=CNNConfig,
    representations=("image",),
    presets={
        "paper": {},
        "deeptop": {
            "channels": (8, 8, 8, 8), "pool_kernel": 2, "pool_stride": 2, "dense": (64, 64, 64),
        },
        "lite": {  # batch norm and a 64-wide dense layer from issue #20's search (BENCHMARKS.md)
            "channels": (8, 8, 16, 16), "kernel_size": 3, "pool_kernel": 2, "pool_stride": 2,
            "dense": (64,), "batch_norm": True,
        },
    },
    paper_params=610_000,
    reference="arXiv:1803.00107",
)
class CNN(nn.Module):
    """Jet-image CNN (Macaluso & Shih arXiv:1803.00107; DeepTop arXiv:1701.08784).

    Shapes: ``image`` (B, C, H, W) -> logits (B, n_classes).
    """

    input_names = ("image",)

    def __init__(self, config: CNNConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        prev = config.in_channels
        for i, ch in enumerate(config.channels):
            layers += [_same_pad(config.kernel_size), nn.Conv2d(prev, ch, config.kernel_size)]
            if config.batch_norm:
                layers.append(nn.BatchNorm2d(ch))
            layers.append(nn.ReLU())
            if i in config.pool_after:
                layers.append(nn.MaxPool2d(config.pool_kernel, config.pool_stride))
            prev = ch
        self.features = nn.Sequential(*layers)
        flat = prev * config.feature_map_size() ** 2
        self.head = head(flat, tuple(config.dense), config.n_classes, dropout=config.dropout)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        c = self.config
        check_input("image", image, ("B", c.in_channels, c.image_size, c.image_size), "cnn")
        if tuple(image.shape[1:]) != (c.in_channels, c.image_size, c.image_size):
            raise ValueError(
                f"input 'image' must have shape (B, {c.in_channels}, {c.image_size}, "
                f"{c.image_size}), got {tuple(image.shape)}"
            )
        h = self.features(image)  # (B, C', S, S)
        return self.head(h.flatten(1))  # (B, n_classes)


@dataclass(frozen=True)
class ResNetConfig:
    """Configuration of :class:`ResNet`: ``blocks[i]`` basic blocks of width ``widths[i]``; every
    stage after the first starts with a stride-2 block."""

    in_channels: int
    image_size: int
    n_classes: int = 2
    widths: tuple[int, ...] = (24, 48, 96, 184)
    blocks: tuple[int, ...] = (2, 2, 2, 2)
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _check_dims(self.in_channels, self.image_size, self.n_classes, self.dropout)
        if len(self.widths) != len(self.blocks) or not self.widths or min(self.blocks) < 1:
            raise ValueError(
                f"widths {self.widths} and blocks {self.blocks} need the same non-zero length and "
                "at least one block per stage"
            )


class _BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus a (projected) skip, then ReLU. (B, Cin, S, S) ->
    (B, Cout, S / stride, S / stride)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.skip = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))  # (B, Cout, S', S')
        h = self.bn2(self.conv2(h))  # (B, Cout, S', S')
        return torch.relu(h + self.skip(x))  # (B, Cout, S', S')


@register_model(
    "resnet",
    config=ResNetConfig,
    representations=("image",),
    presets={
        "paper": {"widths": (24, 48, 96, 184), "blocks": (2, 2, 2, 2)},
        "lite": {"widths": (8, 16, 32), "blocks": (1, 1, 1)},
    },
    paper_params=1_460_000,
    reference="arXiv:1902.09914",
)
class ResNet(nn.Module):
    """Residual CNN on jet images (ResNet arXiv:1512.03385, sized as the ResNeXt of arXiv:1902.09914).

    Shapes: ``image`` (B, C, H, W) -> logits (B, n_classes).
    """

    input_names = ("image",)

    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        self.config = config
        w0 = config.widths[0]
        self.stem = nn.Sequential(
            nn.Conv2d(config.in_channels, w0, 3, 1, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU()
        )
        stages: list[nn.Module] = []
        prev = w0
        for s, (width, n_blocks) in enumerate(zip(config.widths, config.blocks, strict=True)):
            for b in range(n_blocks):
                stages.append(_BasicBlock(prev, width, 2 if (s > 0 and b == 0) else 1))
                prev = width
        self.stages = nn.Sequential(*stages)
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(prev, config.n_classes)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        c = self.config
        check_input("image", image, ("B", c.in_channels, "H", "W"), "resnet")
        if image.shape[1] != c.in_channels:
            raise ValueError(
                f"input 'image' must have shape (B, {c.in_channels}, H, W), got {tuple(image.shape)}"
            )
        h = self.stages(self.stem(image))  # (B, C_last, S, S)
        h = h.mean(dim=(2, 3))  # (B, C_last) global average pool
        return self.fc(self.dropout(h))  # (B, n_classes)
