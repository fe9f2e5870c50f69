"""Where the trainer logs its epochs: ``metrics.csv`` (one row per epoch, rewritten atomically)
and TensorBoard when it is installed."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from colliderlab.atomic import replacing

__all__ = ["write_metrics_csv", "tensorboard_writer"]


def write_metrics_csv(path: str | os.PathLike, history: list[dict[str, float]]) -> None:
    """``history`` (one dict per epoch) as a CSV whose columns are every key seen, in order."""
    if not history:
        return
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    with replacing(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(history)


def tensorboard_writer(run_dir: Path | None) -> Any:
    """A ``SummaryWriter`` on ``RUN_DIR/tensorboard``, or ``None`` (no run directory, or
    TensorBoard is not installed)."""
    if run_dir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))
