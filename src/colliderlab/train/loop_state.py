"""The training loop's state: its counters while it runs and what :meth:`Trainer.fit
<colliderlab.train.trainer.Trainer.fit>` returns, and the per-jet means of per-batch validation figures."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TrainResult", "LoopProgress", "batch_means"]


@dataclass
class TrainResult:
    """Outcome of :meth:`Trainer.fit`."""

    epochs_run: int
    steps: int
    best_epoch: int
    best_metric: float
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False
    seconds: float = 0.0


@dataclass
class LoopProgress:
    """The training loop's counters, as a checkpoint stores them: the next ``epoch`` (0-based),
    optimiser ``step``, ``best`` monitored value and its ``best_epoch``, epochs without
    improvement (``bad``) and the per-epoch ``history``."""

    epoch: int = 0
    step: int = 0
    best: float | None = None
    best_epoch: int = -1
    bad: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


def batch_means(fn: Callable[[Mapping[str, Any]], Mapping[str, float]], data: Any, batch_size: int,
                device: Any) -> dict[str, float]:
    """The jet-weighted mean over ``data``'s batches of each figure ``fn(batch)`` returns (batch
    averages), computed without gradients."""
    import torch

    sums: dict[str, float] = {}
    n = 0
    with torch.no_grad():
        for batch in data.batches(batch_size, device=device):
            k = len(batch["label"])
            for key, v in fn(batch).items():
                sums[key] = sums.get(key, 0.0) + float(v) * k
            n += k
    return {k: v / max(n, 1) for k, v in sums.items()}
