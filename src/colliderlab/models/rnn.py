"""Recurrent networks on constituent sequences (Egan et al., arXiv:1711.09059).

An LSTM (or GRU) reads the jet's constituents in the order of the representation (pT or
clustering-history order); its hidden state after the last real constituent of each jet feeds a
dense head. Padded slots sit after the real ones, and the recurrence is causal, so the state at
the last real slot never sees padding: it is gathered per jet with one vectorised index (no
packed sequences, no per-jet loop), which also keeps the model exportable.

Registered models ``lstm`` and ``gru``, presets:

* ``"paper"``: Egan et al.'s best network: one LSTM layer with 128 units, a dense ReLU layer of
  64 units, the output layer. The paper gives no parameter count; with PyTorch's two bias
  vectors per gate and the 3 per-constituent inputs (pT, eta, phi) of the paper it has 76,482
  parameters for 2 classes (the ``gru`` paper preset, the same sizes with a GRU cell, has 59,458).
* ``"lite"``: 32 units, dense 32.

Shapes: ``forward(x (B, N, F), mask (B, N) bool) -> (B, n_classes)`` logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from colliderlab.models.registry import register_model
from colliderlab.nn.layers import check_input, head

__all__ = ["RNNConfig", "LSTMTagger", "GRUTagger"]


@dataclass(frozen=True)
class RNNConfig:
    """Configuration of :class:`LSTMTagger` and :class:`GRUTagger`."""

    n_features: int
    n_classes: int = 2
    hidden: int = 128
    num_layers: int = 1
    dense: tuple[int, ...] = (64,)
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if min(self.n_features, self.n_classes, self.hidden, self.num_layers) < 1:
            raise ValueError(
                "n_features, n_classes, hidden and num_layers must be >= 1, got "
                f"{self.n_features}, {self.n_classes}, {self.hidden}, {self.num_layers}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


_PRESETS = {
    "paper": {"hidden": 128, "num_layers": 1, "dense": (64,)},
    "lite": {"hidden": 32, "num_layers": 1, "dense": (32,)},
}


class _RecurrentTagger(nn.Module):
    """Shared body: recurrence over the padded sequence, last-real-state gather, dense head."""

    input_names = ("x", "mask")
    cell: type[nn.Module] = nn.LSTM
    export_static_particles = "torch.export unrolls the recurrence over a fixed sequence length"

    def __init__(self, config: RNNConfig) -> None:
        super().__init__()
        self.config = config
        self.rnn = self.cell(
            config.n_features, config.hidden, num_layers=config.num_layers, batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.head = head(config.hidden, tuple(config.dense), config.n_classes, dropout=config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        check_input("x", x, ("B", "N", self.config.n_features), type(self).__name__)
        check_input("mask", mask, tuple(x.shape[:2]), type(self).__name__)
        mask = mask.bool()
        x = x * mask.unsqueeze(-1).to(x.dtype)  # (B, N, F) padded slots exactly zero
        out, _ = self.rnn(x)  # (B, N, H)
        n_real = mask.sum(dim=1)  # (B,)
        last = (n_real - 1).clamp(min=0)  # (B,) index of the last real constituent
        h = out[torch.arange(out.shape[0], device=out.device), last]  # (B, H)
        h = h * (n_real > 0).unsqueeze(-1).to(h.dtype)  # (B, H) an empty jet gives a zero state
        return self.head(h)  # (B, n_classes)


@register_model(
    "lstm",
    config=RNNConfig,
    representations=("sequence", "particles"),
    presets=_PRESETS,
    reference="arXiv:1711.09059",
)
class LSTMTagger(_RecurrentTagger):
    """LSTM on the constituent sequence (Egan et al., arXiv:1711.09059).

    Shapes: ``x`` (B, N, F), ``mask`` (B, N) bool, real constituents first -> (B, n_classes).
    """

    cell = nn.LSTM


@register_model(
    "gru",
    config=RNNConfig,
    representations=("sequence", "particles"),
    presets=_PRESETS,
    reference="arXiv:1711.09059",
)
class GRUTagger(_RecurrentTagger):
    """GRU on the constituent sequence (the LSTM of arXiv:1711.09059 with a GRU cell).

    Shapes: ``x`` (B, N, F), ``mask`` (B, N) bool, real constituents first -> (B, n_classes).
    """

    cell = nn.GRU
