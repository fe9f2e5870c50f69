"""What the training loop hands out: loss terms and callbacks plugged into
:class:`~colliderlab.train.trainer.Trainer`, and the :class:`StepContext` of a model's own
``training_step`` (see the :mod:`colliderlab.train.trainer` docstring)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["LossTerm", "Callback", "StepContext"]

LossTerm = Callable[[Any, Mapping[str, Any]], Any]
"""``(outputs, batch) -> scalar tensor``, added to the default loss (see the module docstring)."""


class Callback:
    """Hooks called by :meth:`Trainer.fit` with the trainer itself; override either. Set
    ``trainer.should_stop = True`` to end training after the current step or epoch."""

    def on_step_end(self, trainer: Any, step: int, logs: Mapping[str, float]) -> None:
        """After optimiser step ``step`` (1-based, counted over the run); ``logs`` is the step's
        result (``loss`` and the loss terms)."""

    def on_epoch_end(self, trainer: Any, epoch: int, row: dict[str, float]) -> None:
        """After epoch ``epoch`` (1-based) with its metrics in ``row``, which may be extended."""


@dataclass
class StepContext:
    """What a model-supplied ``training_step`` needs from the trainer."""

    optimizers: list[Any]
    device: Any
    scaler: Any
    autocast: Callable[[], Any]
    grad_clip: float | None
    step_index: int
    model: Any

    def step(self, loss: Any, optimizer: Any, parameters: Any = None) -> None:
        """Backward ``loss`` (scaled under AMP), clip, and step ``optimizer``; zero its grads."""
        import torch

        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.grad_clip:
            self.scaler.unscale_(optimizer)
            params = parameters if parameters is not None else [
                p for g in optimizer.param_groups for p in g["params"]
            ]
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        self.scaler.step(optimizer)
        self.scaler.update()
