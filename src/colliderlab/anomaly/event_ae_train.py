"""Training, scoring, trigger export and storage of the event anomaly scorers of
:mod:`colliderlab.anomaly.event_ae` (which holds the models only, so that the model registry does
not import the trainer or the exporters).

    model = AnomalyAE(AnomalyAEConfig(n_features=21))
    train_scorer(model, x_train, x_val, TrainerConfig(epochs=20, progress=False))
    s = score_events(model, x_test)          # {"reco": (N,), "kl": (N,), "total": (N,)}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from colliderlab.anomaly.event_ae import (
    SCORE_TERMS,
    AnomalyAE,
    AnomalyScorer,
)
from colliderlab.checks import check_matrix

__all__ = [
    "train_scorer",
    "score_events",
    "export_onnx_scorer",
    "onnx_scores",
    "hls_network",
    "hls_scores",
    "compare_scores",
    "save_scorer",
    "load_scorer",
]


# --------------------------------------------------------------------------- training and scoring


def _features(x: Any, n_features: int, what: str = "x") -> np.ndarray:
    return check_matrix(x, what, n_features=n_features)


def train_scorer(
    model: AnomalyScorer,
    x_train: np.ndarray,
    x_val: np.ndarray | None = None,
    config: Any = None,
    run_dir: str | os.PathLike | None = None,
) -> Any:
    """Train ``model`` on Standard-Model features ``x_train`` (N, F) with the project's trainer.

    The standardisation is fitted on ``x_train`` (the trainer's ``initialise_from`` hook).
    ``config`` is a :class:`~colliderlab.train.trainer.TrainerConfig` (default: 20 epochs, batch
    256, no progress bar). Returns the :class:`~colliderlab.train.trainer.TrainResult`.
    """
    from colliderlab.data.dataset import ArrayDataset
    from colliderlab.train.trainer import Trainer, TrainerConfig

    f = model.config.n_features
    x_train = _features(x_train, f, "x_train")
    config = config or TrainerConfig(epochs=20, batch_size=256, progress=False, patience=0)
    train = ArrayDataset({"x": x_train}, np.zeros(len(x_train), np.int64), ("sm",))
    val = None
    if x_val is not None and len(x_val):
        x_val = _features(x_val, f, "x_val")
        val = ArrayDataset({"x": x_val}, np.zeros(len(x_val), np.int64), ("sm",))
    result = Trainer(model, config, run_dir).fit(train, val)
    model.cpu().eval()
    return result


@torch.no_grad()
def score_events(model: AnomalyScorer, x: np.ndarray, batch_size: int = 65536) -> dict[str, np.ndarray]:
    """Per-event ``reco``, ``kl`` and ``total`` scores of features ``x`` (N, F), each (N,) float64."""
    x = _features(x, model.config.n_features)
    model.eval()
    device = next(model.parameters()).device
    parts: dict[str, list[np.ndarray]] = {k: [] for k in SCORE_TERMS}
    for start in range(0, len(x), batch_size):
        t = model.terms(torch.from_numpy(x[start : start + batch_size]).to(device))
        for k in SCORE_TERMS:
            parts[k].append(t[k].double().cpu().numpy())
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}


# --------------------------------------------------------------------------- trigger path


def _export_spec() -> Any:
    from colliderlab.export.onnx import ExportSpec

    return ExportSpec(("x",), {"x": {0: "batch"}}, output_name="anomaly_score", representation="events")


def export_onnx_scorer(
    model: AnomalyScorer, x: np.ndarray, path: str | os.PathLike, *, batch_sizes: tuple[int, ...] = (1, 7, 64)
) -> dict[str, Any]:
    """Export the whole scorer (raw features -> ``total`` score (B,)) to ONNX with a dynamic batch
    axis and compare it with PyTorch on the first events of ``x`` at several batch sizes.

    Returns ``{"file", "input_names", "output_name", "dynamic_axes", "parity": {"max_abs_diff",
    "max_rel_diff", "cases": [...]}}`` (relative to the score's scale on those events).
    """
    from colliderlab.export import onnx as ox

    x = _features(x, model.config.n_features)
    model = model.cpu().eval()
    spec = _export_spec()
    inputs = (torch.from_numpy(x[: max(2, min(16, len(x)))]),)
    file = ox.export_onnx(model, inputs, path, spec)
    session = ox.onnx_session(file, threads=1)
    cases = []
    for bs in batch_sizes:
        xb = x[: min(bs, len(x))]
        with torch.no_grad():
            ref = model(torch.from_numpy(xb)).double().numpy()
        out = ox.run_onnx(session, {"x": xb}).astype(np.float64).reshape(ref.shape)
        scale = max(float(np.abs(ref).max()), 1e-12)
        cases.append({"batch": int(len(xb)), "max_abs_diff": float(np.abs(out - ref).max()),
                      "max_rel_diff": float(np.abs(out - ref).max() / scale)})
    return {
        "file": str(file),
        **spec.to_dict(),
        "parity": {
            "max_abs_diff": max(c["max_abs_diff"] for c in cases),
            "max_rel_diff": max(c["max_rel_diff"] for c in cases),
            "cases": cases,
        },
    }


def onnx_scores(path: str | os.PathLike, x: np.ndarray) -> np.ndarray:
    """Scores (N,) of raw features ``x`` (N, F) from an exported scorer."""
    from colliderlab.export import onnx as ox

    session = ox.onnx_session(path, threads=1)
    return ox.run_onnx(session, {"x": np.ascontiguousarray(x, np.float32)}).astype(np.float64).reshape(-1)


class _AENetwork(nn.Module):
    """The autoencoder's network alone, on standardised features: what the firmware computes."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.net = nn.Sequential(*encoder, *decoder)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (B, F)


def hls_network(model: AnomalyAE) -> nn.Module:
    """A copy of ``model``'s encoder + decoder as one ``nn.Sequential`` (hls4ml layers ``net_0``,
    ``net_1``, ...): standardised features (B, F) -> reconstruction (B, F)."""
    import copy

    if not isinstance(model, AnomalyAE):
        raise TypeError(f"the hls4ml trigger path takes the dense autoencoder (AnomalyAE), not {type(model).__name__}")
    m = copy.deepcopy(model).cpu().float().eval()
    return _AENetwork(m.encoder, m.decoder).eval()


def _input_range(precision: str) -> float:
    from colliderlab.export.hls import parse_precision

    width, integer, signed = parse_precision(precision)
    return 2.0 ** (integer - 1 if signed else integer) - 2.0 ** (integer - width)


def hls_scores(
    model: AnomalyAE,
    x: np.ndarray,
    config: Any = None,
    *,
    handle: Any = None,
) -> dict[str, Any]:
    """The autoencoder through hls4ml: convert, compile with g++ and emulate the fixed-point
    firmware on raw features ``x`` (N, F); the anomaly score (mean squared difference between the
    firmware output and the standardised input) is computed outside the firmware, in float64.

    Standardised inputs outside the input type's range (``ap_fixed<16,6>``: |z| < 32) would wrap
    around in the firmware; they are clipped to it first (as a trigger's input stage saturates),
    and the float reference score here is computed on the same clipped inputs.

    Args:
        config: a :class:`colliderlab.export.hls.HLSConfig` (``project_name`` ``anomaly_ae``
            unless set); ignored when ``handle`` (a compiled :class:`~colliderlab.export.hls.HLSHandle`)
            is given.
    Returns:
        ``{"float": (N,), "emulated": (N,), "clipped_fraction", "handle"}``.
    """
    from colliderlab.export import hls

    x = _features(x, model.config.n_features)
    with torch.no_grad():
        z = model.standardise(torch.from_numpy(x)).double().numpy()  # (N, F)
    if handle is None:
        config = config or hls.HLSConfig(project_name="anomaly_ae")
        handle = hls.convert(hls_network(model), (model.config.n_features,), config)
    limit = _input_range(handle.config.precision)
    clipped = np.abs(z) > limit
    zc = np.clip(z, -limit, limit).astype(np.float32)
    net = hls_network(model)
    with torch.no_grad():
        rec_float = net(torch.from_numpy(zc)).double().numpy()
    rec_emul = hls.emulate(handle, zc)  # (N, F)
    zd = zc.astype(np.float64)
    return {
        "float": ((rec_float - zd) ** 2).mean(1),
        "emulated": ((rec_emul - zd) ** 2).mean(1),
        "clipped_fraction": float(clipped.any(1).mean()),
        "handle": handle,
    }


def compare_scores(float_scores: np.ndarray, emulated_scores: np.ndarray, rel_tolerance: float = 0.05) -> dict[str, float]:
    """How an emulated (fixed-point) anomaly score follows the float one on the same events.

    Returns Pearson and Spearman correlations, the fraction of events within ``rel_tolerance``
    (relative to the float score, or absolute below the float scores' median / 10), the median and
    maximum absolute differences.
    """
    from scipy import stats

    f = np.asarray(float_scores, np.float64).reshape(-1)
    e = np.asarray(emulated_scores, np.float64).reshape(-1)
    if f.shape != e.shape or len(f) < 2:
        raise ValueError(f"need two equal-length score arrays of >= 2 events, got {f.shape} and {e.shape}")
    floor = max(float(np.median(np.abs(f))) / 10.0, 1e-12)
    diff = np.abs(e - f)
    return {
        "n_events": int(len(f)),
        "pearson": float(stats.pearsonr(f, e)[0]),
        "spearman": float(stats.spearmanr(f, e)[0]),
        "fraction_within_tolerance": float((diff <= rel_tolerance * np.maximum(np.abs(f), floor)).mean()),
        "rel_tolerance": float(rel_tolerance),
        "median_abs_diff": float(np.median(diff)),
        "max_abs_diff": float(diff.max()),
    }


def save_scorer(model: AnomalyScorer, path: str | os.PathLike) -> Path:
    """Save as ``PATH.safetensors`` + ``PATH.json`` (any suffix of ``path`` replaced;
    :func:`colliderlab.train.checkpoint.save_model`); returns the ``.safetensors`` path."""
    from colliderlab.train.checkpoint import save_model

    return save_model(model, path)


def load_scorer(path: str | os.PathLike) -> AnomalyScorer:
    """Inverse of :func:`save_scorer` (nothing is unpickled)."""
    from colliderlab.train.checkpoint import load_model

    return load_model(path)
