"""The trainer's hyper-parameters (:class:`TrainerConfig`, saved in every checkpoint), device choice,
and the optimiser and schedules they describe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "OPTIMIZERS", "SCHEDULES", "TASKS", "LOSSES", "TrainerConfig", "resolve_device", "make_optimizer",
    "make_schedulers", "class_weights",
]

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("none", "cosine", "onecycle", "plateau")
TASKS = ("classification", "regression")
# Regression losses: "mse" (the default, "auto"), or "gaussian_nll": the head predicts a mean and a
# log-variance per target and is trained on the Gaussian negative log-likelihood, so it learns its
# own per-jet (per-shower) resolution (heteroscedastic regression).
LOSSES = ("auto", "mse", "gaussian_nll")


@dataclass(frozen=True)
class TrainerConfig:
    """Training hyper-parameters (saved in every checkpoint).

    ``batch_size`` is the global batch: under data-parallel training over N processes each
    takes ``batch_size / N`` jets per step (:mod:`colliderlab.train.distributed`), so the
    optimiser steps match one process's. ``num_threads = 0`` leaves torch's default (one
    process) or gives each of N processes on a node its cores divided by N.

    ``max_steps`` caps the total number of optimiser steps (over all epochs), so a run can be
    defined by a step count rather than a number of epochs. ``patience = 0`` disables early
    stopping. ``class_weights`` is ``None``, ``"balanced"`` or one weight per class.
    """

    epochs: int = 20
    max_steps: int | None = None
    batch_size: int = 256
    eval_batch_size: int = 1024
    optimizer: Literal["adam", "adamw", "sgd"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    schedule: Literal["none", "cosine", "onecycle", "plateau"] = "cosine"
    patience: int = 5
    monitor: Literal["val_loss", "val_auc", "val_accuracy"] = "val_loss"
    grad_clip: float | None = None
    class_weights: str | tuple[float, ...] | None = None
    task: Literal["classification", "regression"] = "classification"
    loss: Literal["auto", "mse", "gaussian_nll"] = "auto"
    amp: bool = True
    device: str = "auto"
    num_threads: int = 0
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name, value, valid in (
            ("optimizer", self.optimizer, OPTIMIZERS),
            ("schedule", self.schedule, SCHEDULES),
            ("task", self.task, TASKS),
            ("loss", self.loss, LOSSES),
            ("monitor", self.monitor, ("val_loss", "val_auc", "val_accuracy")),
        ):
            if value not in valid:
                raise ValueError(f"trainer.{name} = {value!r} is not valid; choose one of {', '.join(valid)}")
        if isinstance(self.class_weights, str) and self.class_weights != "balanced":
            raise ValueError(f"trainer.class_weights = {self.class_weights!r}: use 'balanced' or a list")
        if self.batch_size < 1 or self.epochs < 1:
            raise ValueError("trainer.batch_size and trainer.epochs must be positive")


def resolve_device(name: str = "auto") -> Any:
    """``"auto"`` picks CUDA when available, else CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def make_optimizer(config: TrainerConfig, params: Any) -> Any:
    """The optimiser ``config.optimizer`` over ``params``."""
    import torch

    c = config
    if c.optimizer == "adam":
        return torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay)
    if c.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay)
    return torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)


def make_schedulers(config: TrainerConfig, optimizers: list[Any], total_steps: int) -> list[Any]:
    """One learning-rate schedule per optimiser (none for ``schedule = "none"``); cosine and
    one-cycle are stepped per optimiser step over ``total_steps``, plateau per epoch."""
    import torch

    c = config
    out: list[Any] = []
    for opt in optimizers:
        if c.schedule == "cosine":
            out.append(torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(total_steps, 1)))
        elif c.schedule == "onecycle":
            out.append(torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=c.lr, total_steps=max(total_steps, 1)))
        elif c.schedule == "plateau":
            mode = "min" if c.monitor == "val_loss" else "max"
            out.append(torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, factor=0.5, patience=2))
    return out


def class_weights(config: TrainerConfig, labels: Any, n_classes: int, device: Any = "cpu") -> Any:
    """(C,) float32 tensor of per-class loss weights from ``config.class_weights`` (``balanced``:
    inverse class frequencies of ``labels``), or ``None`` (none set, or a regression)."""
    import numpy as np
    import torch

    cw = config.class_weights
    if cw is None or config.task != "classification":
        return None
    if cw == "balanced":
        counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
        w = len(labels) / (n_classes * np.maximum(counts, 1))
    else:
        if len(cw) != n_classes:
            raise ValueError(f"trainer.class_weights has {len(cw)} entries for {n_classes} classes")
        w = np.asarray(cw, np.float64)
    return torch.tensor(w, dtype=torch.float32, device=device)
