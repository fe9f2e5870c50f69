"""The fixed evaluation classifier of generated calorimeter showers (CaloChallenge style).

* :func:`classifier_auc` - the fixed evaluation classifier's two-sample AUC (its recipe is
  :class:`EvalClassifierConfig`, written down once and never tuned per generator), on
  :func:`cell_inputs` or :func:`highlevel_inputs`.

The shower layout and observables live in :mod:`colliderlab.features.showers` and the sample
distances (W1, separation power, FPD, KPD) in :mod:`colliderlab.metrics`; both are re-exported here
under their old names.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from colliderlab.features.showers import (
    MIN_ENERGY,
    CaloLayout,
    LayerLayout,
    layout_of,
    shower_observables,
    zero_suppress,
)
from colliderlab.metrics import (
    _features,
    compare_observables,
    fpd,
    kpd,
    separation_power,
    wasserstein1,
)

__all__ = [
    "MIN_ENERGY",
    "zero_suppress",
    "LayerLayout",
    "CaloLayout",
    "layout_of",
    "shower_observables",
    "wasserstein1",
    "separation_power",
    "compare_observables",
    "fpd",
    "kpd",
    "EvalClassifierConfig",
    "classifier_auc",
    "cell_inputs",
    "highlevel_inputs",
]

# ---------------------------------------------------------------------------- evaluation classifier


@dataclass(frozen=True)
class EvalClassifierConfig:
    """The fixed two-sample classifier (CaloChallenge 2022 style; never tuned per generator).

    A dense network, 2 hidden layers of 512 ReLU units with dropout 0.2, on standardised inputs
    (cells: ``log10(1 + E_cell / E_inc * 1e3)`` per voxel, plus ``log10 E_inc``; high level: the
    :func:`shower_observables` plus ``log10 E_inc``), Adam at 2e-4, batch 1000, at most 50
    epochs with early stopping on the validation loss (patience 5), split 60/20/20; the AUC is
    measured on the test fifth with the best-validation weights.
    """

    hidden: tuple[int, ...] = (512, 512)
    dropout: float = 0.2
    lr: float = 2e-4
    batch_size: int = 1000
    epochs: int = 50
    patience: int = 5
    split: tuple[float, float] = (0.2, 0.2)  # validation, test fractions
    seed: int = 0


def classifier_auc(
    reference: np.ndarray,
    generated: np.ndarray,
    config: EvalClassifierConfig | None = None,
    *,
    progress: bool = False,
) -> dict[str, float]:
    """Train the evaluation classifier to tell ``generated`` from ``reference`` feature vectors.

    Args:
        reference, generated: (N, F) and (M, F) inputs (cells or high-level features, already
            in the form the recipe gives; see :class:`EvalClassifierConfig`).
    Returns:
        ``{"auc", "n_test", "epochs"}``: 0.5 when the two are indistinguishable.
    """
    from colliderlab.data.dataset import ArrayDataset, Standardizer, split_indices
    from colliderlab.metrics import auc
    from colliderlab.models.registry import create_model
    from colliderlab.train.checkpoint import load_weights
    from colliderlab.train.trainer import Trainer, TrainerConfig

    c = config or EvalClassifierConfig()
    ref, gen = _features(reference, "reference"), _features(generated, "generated")
    if ref.shape[1] != gen.shape[1]:
        raise ValueError(f"reference has {ref.shape[1]} features but generated has {gen.shape[1]}")
    x = np.concatenate([ref, gen]).astype(np.float32)
    y = np.r_[np.zeros(len(ref), np.int64), np.ones(len(gen), np.int64)]
    tr, va, te = split_indices(len(y), c.split[0], c.split[1], c.seed)
    std = Standardizer.fit({"x": x[tr]}, ("x",))
    x = std.apply({"x": x})["x"]
    names = ("reference", "generated")
    sets = [ArrayDataset({"x": x[i]}, y[i], names) for i in (tr, va, te)]
    import torch

    torch.manual_seed(c.seed)
    model = create_model("dnn", "paper", n_features=x.shape[1], n_classes=2, hidden=tuple(c.hidden),
                         dropout=c.dropout, batch_norm=False)
    tcfg = TrainerConfig(epochs=c.epochs, batch_size=c.batch_size, lr=c.lr, optimizer="adam", schedule="none",
                         patience=c.patience, monitor="val_loss", seed=c.seed, progress=progress, amp=False)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(model, tcfg, tmp)
        result = trainer.fit(sets[0], sets[1])
        load_weights(model, f"{tmp}/checkpoint_best")
        logits = trainer.predict(sets[2])
    score = logits[:, 1] - logits[:, 0]
    return {"auc": auc(score, sets[2].labels == 1), "n_test": int(len(te)), "epochs": len(result.history)}


def cell_inputs(showers: np.ndarray, incident_energy: np.ndarray) -> np.ndarray:
    """The evaluation classifier's cell inputs: ``log10(1 + 1e3 E_cell / E_inc)`` per voxel and
    ``log10 E_inc``. (N, n_cells) -> (N, n_cells + 1)."""
    s = np.asarray(showers, np.float64)
    e = np.asarray(incident_energy, np.float64).reshape(-1, 1)
    return np.concatenate([np.log10(1.0 + 1e3 * np.maximum(s, 0.0) / e), np.log10(e)], axis=1)


def highlevel_inputs(observables: Mapping[str, np.ndarray], incident_energy: np.ndarray) -> np.ndarray:
    """The evaluation classifier's high-level inputs: observables (sorted by name) and log10 E_inc.
    -> (N, n_observables + 1)."""
    keys = sorted(observables)
    cols = [np.asarray(observables[k], np.float64) for k in keys]
    return np.stack([*cols, np.log10(np.asarray(incident_energy, np.float64).reshape(-1))], axis=1)

