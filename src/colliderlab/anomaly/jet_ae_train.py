"""Evaluation, training and plots of the jet autoencoders of :mod:`colliderlab.anomaly.jet_ae`
(which holds the models only, so that the model registry does not import the trainer or plots).

:func:`evaluate_jet_anomaly` reports the AUC and rejections per anomaly, the AUC of the jet mass as
a reference score and the score-mass correlation on the background; :func:`plot_mass_sculpting`
draws the mass sculpting of a score cut; :func:`train_jet_anomaly` trains a scorer on background
JetBatches and evaluates it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

__all__ = [
    "evaluate_jet_anomaly",
    "JetAnomalyResult",
    "train_jet_anomaly",
    "plot_mass_sculpting",
]


# --------------------------------------------------------------------------- evaluation
def _ranks(a: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), for Spearman's rho."""
    order = np.argsort(a, kind="mergesort")
    s = a[order]
    first = np.r_[True, s[1:] != s[:-1]]
    group = np.cumsum(first) - 1  # (n,) tie-group index in sorted order
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(a)]
    mean_rank = (starts + ends - 1) / 2.0
    r = np.empty(len(a), np.float64)
    r[order] = mean_rank[group]
    return r


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def evaluate_jet_anomaly(
    scores: Mapping[str, np.ndarray],
    masses: Mapping[str, np.ndarray],
    background: str = "qcd",
    signal_efficiencies: Sequence[float] = (0.3, 0.5),
) -> dict[str, Any]:
    """Anomaly metrics of per-jet scores: each non-background class against the background.

    Args:
        scores: class name -> (J_c,) anomaly scores (larger = more anomalous) of held-out jets.
        masses: class name -> (J_c,) jet masses in GeV (the same jets).
        background: the class the model was trained on.
        signal_efficiencies: where the background rejection 1/eps_B is read off.

    Returns:
        ``{"signals": {name: {"auc", "rejection@0.3", ..., "mass_auc"}}, "mass_correlation":
        {"pearson", "spearman"}}``; ``mass_auc`` is the AUC of the jet mass alone (a reference:
        an autoencoder that only learnt the mass would match it), and the correlations are those
        of the score with the jet mass on the background (mass sculpting when large).
    """
    from colliderlab.metrics import auc, rejection_at

    if background not in scores:
        raise KeyError(f"no scores for the background {background!r}; have {sorted(scores)}")
    bkg, bkg_m = np.asarray(scores[background], np.float64), np.asarray(masses[background], np.float64)
    out: dict[str, Any] = {"signals": {}, "n": {k: int(len(v)) for k, v in scores.items()}}
    for name, s in scores.items():
        if name == background:
            continue
        sig = np.asarray(s, np.float64)
        all_s = np.concatenate([sig, bkg])
        labels = np.r_[np.ones(len(sig)), np.zeros(len(bkg))]
        m = np.concatenate([np.asarray(masses[name], np.float64), bkg_m])
        row = {"auc": auc(all_s, labels)}
        for eff in signal_efficiencies:
            row[f"rejection@{eff:g}"] = rejection_at(all_s, labels, eff)
        row["mass_auc"] = auc(m, labels)
        out["signals"][name] = row
    out["mass_correlation"] = {"pearson": _pearson(bkg, bkg_m), "spearman": _pearson(_ranks(bkg), _ranks(bkg_m))}
    return out


@dataclass
class JetAnomalyResult:
    """What :func:`train_jet_anomaly` returns: the metrics of :func:`evaluate_jet_anomaly`, the
    per-class scores and jet masses (GeV) of the test jets, the trainer's history, the training
    time in seconds and the trained model."""

    metrics: dict[str, Any]
    scores: dict[str, np.ndarray]
    masses: dict[str, np.ndarray]
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    model: Any = None


def train_jet_anomaly(
    model: nn.Module,
    representation: Any,
    train: Any,
    tests: Mapping[str, Any],
    config: Any,
    *,
    val: Any | None = None,
    background: str = "qcd",
    run_dir: str | os.PathLike | None = None,
    signal_efficiencies: Sequence[float] = (0.3, 0.5),
) -> JetAnomalyResult:
    """Train a jet autoencoder on background jets only and score held-out jets of every class.

    Args:
        model: a reconstruction scorer (:class:`JetImageAE`, :class:`ParticleCloudAE`) built for
            ``representation``'s dims.
        representation: a representation config (``image``, ``particles``); a ``resolve`` step
            and the standardisation are fitted on ``train`` alone.
        train: :class:`~colliderlab.jets.JetBatch` of background (QCD) jets only.
        tests: class name -> held-out JetBatch; must include ``background``.
        config: :class:`~colliderlab.train.trainer.TrainerConfig`.
        val: optional background JetBatch for the validation loss (early stopping, best checkpoint).
        background: the name of the training class in ``tests``.
        run_dir: where the trainer writes its CSV and checkpoints (None: nowhere).
        signal_efficiencies: where the background rejection is read off.

    Returns:
        A :class:`JetAnomalyResult`; ``scores[name]`` is (J_name,) and ``metrics`` has AUC,
        rejections and the mass AUC per anomaly and the score-mass correlation on the background.
    """
    from colliderlab import kinematics as kin
    from colliderlab.data.dataset import ArrayDataset, Standardizer
    from colliderlab.train.checkpoint import checkpoint_exists, load_weights
    from colliderlab.train.trainer import Trainer

    if background not in tests:
        raise KeyError(f"tests must include the background {background!r}; got {sorted(tests)}")
    if hasattr(representation, "resolve"):
        representation = representation.resolve(train)
    arrays = representation.compute(train)
    std = Standardizer.fit(arrays, representation.standardize)

    def dataset(jets: Any) -> Any:
        a = std.apply(representation.compute(jets))
        return ArrayDataset(a, np.zeros(len(jets), np.int64), (background,))

    train_ds = ArrayDataset(std.apply(arrays), np.zeros(len(train), np.int64), (background,))
    trainer = Trainer(model, config, run_dir)
    t0 = time.perf_counter()
    res = trainer.fit(train_ds, dataset(val) if val is not None else None)
    seconds = time.perf_counter() - t0
    if run_dir is not None and val is not None and checkpoint_exists(Path(run_dir) / "checkpoint_best"):
        load_weights(model, Path(run_dir) / "checkpoint_best", trainer.device)
    scores = {name: trainer.predict(dataset(jets)).reshape(-1).astype(np.float64) for name, jets in tests.items()}
    masses = {name: kin.mass(np.asarray(jets.jet_p4, np.float64)) for name, jets in tests.items()}
    metrics = evaluate_jet_anomaly(scores, masses, background, signal_efficiencies)
    return JetAnomalyResult(metrics, scores, masses, res.history, seconds, model)


def plot_mass_sculpting(
    score: np.ndarray,
    mass: np.ndarray,
    out: str | os.PathLike,
    keep: Sequence[float] = (0.5, 0.1),
    title: str = "",
) -> Path:
    """Mass sculpting of an anomaly score on background jets: (left) the score against the jet
    mass, with the median score per mass bin; (right) the jet-mass distribution of all jets and of
    those passing score cuts that keep the fractions ``keep`` of them.

    Args:
        score: (J,) anomaly scores of background (QCD) jets.
        mass: (J,) their jet masses in GeV.
    """
    from colliderlab.plots import _figure, _save

    score, mass = np.asarray(score, np.float64), np.asarray(mass, np.float64)
    plt = _figure()
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(14, 6))
    fig.subplots_adjust(wspace=0.3)
    hi = float(np.quantile(mass, 0.995)) if len(mass) else 1.0
    edges = np.linspace(0.0, max(hi, 1.0), 31)
    ylo, yhi = (np.quantile(score, [0.005, 0.995]) if len(score) else (0.0, 1.0))
    a0.hist2d(mass, score, bins=[edges, np.linspace(ylo, yhi, 31)], cmap="Blues", cmin=1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    idx = np.digitize(mass, edges) - 1
    med = [np.median(score[idx == i]) if (idx == i).sum() >= 5 else np.nan for i in range(len(centres))]
    a0.plot(centres, med, "o-", color="tab:red", label="median score")
    m = evaluate_jet_anomaly({"bkg": score}, {"bkg": mass}, "bkg")["mass_correlation"]
    a0.set_title(f"Pearson {m['pearson']:.2f}, Spearman {m['spearman']:.2f}", fontsize=14)
    a0.set_xlabel("jet mass [GeV]")
    a0.set_ylabel("anomaly score")
    a0.legend(fontsize=12)
    a1.hist(mass, bins=edges, histtype="step", lw=2, density=True, label="all")
    for frac in keep:
        cut = np.quantile(score, 1.0 - frac)
        a1.hist(mass[score >= cut], bins=edges, histtype="step", lw=2, density=True,
                label=f"score cut keeping {frac:.0%}")
    a1.set_xlabel("jet mass [GeV]")
    a1.set_ylabel("density")
    a1.legend(fontsize=12)
    if title:
        fig.suptitle(title, fontsize=14)
    return _save(fig, out)
