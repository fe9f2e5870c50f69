"""Per-jet uncertainty of a tagger's probability: deep ensembles (Lakshminarayanan, Pritzel and
Blundell, arXiv:1612.01474) and Monte-Carlo dropout (Gal and Ghahramani, arXiv:1506.02142).

* :func:`ensemble_proba`: K runs of one experiment trained with different seeds score the same
  file; the mean of their probabilities is the ensemble's prediction, their spread its uncertainty.
* :func:`mc_dropout_proba`: one run scores the file ``n_samples`` times with its dropout layers
  active (every other layer, batch norm included, in evaluation mode).

Both return ``(mean (N, C), std (N, C), labels (N,) or None)``; probabilities use each run's stored
temperature (:mod:`colliderlab.calibration`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["ensemble_proba", "mc_dropout_proba", "dropout_layers"]


def ensemble_proba(run_dirs: Sequence[str | os.PathLike], data: str | os.PathLike, *,
                   batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Mean and standard deviation over the runs of their class probabilities on ``data``.

    Raises:
        ValueError: fewer than 2 runs, or runs with different class names.
    """
    from colliderlab.train.runs import load_run

    if len(run_dirs) < 2:
        raise ValueError(f"an ensemble needs at least 2 runs, got {len(run_dirs)}")
    probs, labels, names = [], None, None
    for rd in run_dirs:
        run = load_run(rd)
        if names is not None and run.class_names != names:
            raise ValueError(f"{rd} has classes {list(run.class_names)}, the ensemble {list(names)}")
        names = run.class_names
        p, labels = run.predict_proba(data, batch_size=batch_size)
        probs.append(p)
    stack = np.stack(probs)  # (K, N, C)
    return stack.mean(0), stack.std(0, ddof=1), labels


def dropout_layers(model: Any) -> list[Any]:
    """The model's dropout modules (any ``torch.nn`` dropout flavour)."""
    import torch

    kinds = (torch.nn.Dropout, torch.nn.Dropout1d, torch.nn.Dropout2d, torch.nn.Dropout3d, torch.nn.AlphaDropout)
    return [m for m in model.modules() if isinstance(m, kinds) and m.p > 0]


def mc_dropout_proba(run_dir: str | os.PathLike, data: str | os.PathLike, *, n_samples: int = 20,
                     batch_size: int = 1024, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Mean and standard deviation over ``n_samples`` dropout masks of the run's probabilities.

    Raises:
        ValueError: the run's model has no dropout (the message says to set a dropout rate), or
            ``n_samples`` < 2.
    """
    import torch

    from colliderlab.metrics import softmax
    from colliderlab.train.runs import load_run

    if n_samples < 2:
        raise ValueError(f"MC dropout needs n_samples >= 2, got {n_samples}")
    run = load_run(run_dir)
    if run.is_baseline:
        raise ValueError(f"{run_dir} is a {run.model_name} baseline: MC dropout needs a torch model")
    layers = dropout_layers(run.model)
    if not layers:
        raise ValueError(f"{run.model_name} in {run_dir} has no dropout layer with p > 0; train it with a dropout "
                         "rate (model.options) or use an ensemble")
    torch.manual_seed(seed)
    means, stds, labels = [], [], []
    device = next(run.model.parameters()).device
    for ds, lab in run._chunks(data, False):
        samples = []
        run.model.eval()
        for m in layers:
            m.train()
        with torch.no_grad():
            for _ in range(n_samples):
                outs = [run.model(*[b[k] for k in run.model.input_names]).float().cpu()
                        for b in ds.batches(batch_size, device=device)]
                samples.append(softmax(torch.cat(outs).numpy() / run.temperature))
        s = np.stack(samples)
        means.append(s.mean(0))
        stds.append(s.std(0, ddof=1))
        labels.append(lab)
    run.model.eval()
    return np.concatenate(means), np.concatenate(stds), None if labels[0] is None else np.concatenate(labels)
