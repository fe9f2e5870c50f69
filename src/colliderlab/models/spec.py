"""What the model registry knows of one model name: :class:`ModelSpec`, with its declared task(s)
and backend. Its own module so that the registry and the baseline table
(:mod:`colliderlab.models.baselines`) both import it without importing each other."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ModelSpec", "TASKS", "BACKENDS"]

TASKS = ("classifier", "regressor", "generator", "scorer")
"""What a model is trained for: class probabilities, a per-jet quantity, samples, or an
unsupervised anomaly score (trained by :mod:`colliderlab.anomaly`, not by experiments)."""
BACKENDS = ("torch", "xgboost", "sklearn", "numpy")
"""How a model is fitted and stored: torch (the trainer, safetensors) or a baseline's own
``fit``/``save`` (xgboost JSON/UBJ, or scikit-learn/numpy arrays in JSON)."""


@dataclass(frozen=True)
class ModelSpec:
    """What the registry knows of one model name."""

    name: str
    cls: type
    config_cls: type
    representations: tuple[str, ...]
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    paper_params: int | None = None
    reference: str = ""
    description: str = ""
    tasks: tuple[str, ...] = ("classifier", "regressor")
    backend: str = "torch"

    def __post_init__(self) -> None:
        bad = [t for t in self.tasks if t not in TASKS]
        if not self.tasks or bad:
            raise ValueError(f"model {self.name!r}: tasks {list(self.tasks)}; valid tasks: {', '.join(TASKS)}")
        if self.backend not in BACKENDS:
            raise ValueError(f"model {self.name!r}: backend {self.backend!r}; valid: {', '.join(BACKENDS)}")

    @property
    def task(self) -> str:
        """The default task (the one a run without ``data.target`` trains)."""
        return self.tasks[0]
