"""The trainer's hyper-parameters (:class:`TrainerConfig`, saved in every checkpoint) and device choice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["OPTIMIZERS", "SCHEDULES", "TASKS", "LOSSES", "TrainerConfig", "resolve_device"]

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
