"""How close generated calorimeter showers are to simulated ones (CaloChallenge-style metrics).

* :func:`shower_observables` - per shower: energy per layer, deposited over incident energy,
  energy-weighted centroids and widths in x and y per layer, depth centroid and width, sparsity
  per layer (the high-level features of the CaloChallenge 2022 evaluation, arXiv:2410.21611).
* :func:`wasserstein1` and :func:`separation_power` per observable; the separation power is
  ``1/2 sum_i (h1_i - h2_i)^2 / (h1_i + h2_i)`` of unit-area histograms on common bins (0 for
  identical, 1 for disjoint distributions).
* :func:`fpd` and :func:`kpd` - Frechet and kernel physics distances on high-level features
  (Kansal et al., arXiv:2211.10295): FPD extrapolated to infinite sample size, KPD as the
  unbiased MMD^2 with the polynomial kernel ``(x.y/d + 1)^4``, median over batches.
* :func:`classifier_auc` - the fixed evaluation classifier's two-sample AUC (its recipe is
  :class:`EvalClassifierConfig`, written down once and never tuned per generator).

Every comparison first zero-suppresses both samples at the same readout threshold
(:data:`MIN_ENERGY`, :func:`zero_suppress`), as the CaloChallenge evaluation does with its
"minimal readout per voxel" (0.5 keV / 0.033 for its datasets 2 and 3): a cell reading 1e-12 of
the incident energy is not a measurement, and counting it in the sparsity would compare
numerical dust, not showers.

Showers are flat voxel vectors ``(N, n_cells)`` in layer-major order; a :class:`CaloLayout` says
which slice is which layer, its (h, w) grid, cell centres and depth.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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


MIN_ENERGY = 1.0e-4
"""Readout threshold of the evaluation, GeV of visible energy per cell (0.1 MeV: about 0.6 MeV of
deposited energy in the Pb/LAr ECAL, well below a LAr cell's electronic noise). It removes 0.04%
of the visible energy of 1-100 GeV photons in the calogan geometry (0.1% at 1-2 GeV)."""


def zero_suppress(showers: np.ndarray, min_energy: float = MIN_ENERGY) -> np.ndarray:
    """Cells at or below ``min_energy`` set to 0 (a copy). (N, n_cells) -> (N, n_cells)."""
    s = np.asarray(showers)
    return np.where(s > min_energy, s, np.zeros((), s.dtype))


@dataclass(frozen=True)
class LayerLayout:
    """One readout layer: ``shape`` (rows, columns), the cell centres along the row axis
    ``rows`` (n_rows,) and the column axis ``cols`` (n_cols,) in mm, the depth ``z`` of the layer
    centre, and which detector axis each grid axis runs along (names the observables)."""

    name: str
    shape: tuple[int, int]
    rows: tuple[float, ...]
    cols: tuple[float, ...]
    z: float
    row_axis: str = "y"
    col_axis: str = "x"

    @property
    def n_cells(self) -> int:
        return self.shape[0] * self.shape[1]


@dataclass(frozen=True)
class CaloLayout:
    """The layers of a geometry in the order of the flat voxel vector (layer-major, then row-major
    within a layer). :func:`layout_of` builds one from a simulator geometry."""

    layers: tuple[LayerLayout, ...]
    name: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        return sum(layer.n_cells for layer in self.layers)

    def slices(self) -> list[slice]:
        out, start = [], 0
        for layer in self.layers:
            out.append(slice(start, start + layer.n_cells))
            start += layer.n_cells
        return out

    def split(self, showers: np.ndarray) -> list[np.ndarray]:
        """(N, n_cells) -> per layer (N, h, w)."""
        showers = np.asarray(showers)
        if showers.ndim != 2 or showers.shape[1] != self.n_cells:
            raise ValueError(f"showers must have shape (N, {self.n_cells}) for layout {self.name!r}, "
                             f"got {showers.shape}")
        return [showers[:, s].reshape(len(showers), *layer.shape) for s, layer in zip(self.slices(), self.layers, strict=True)]


def layout_of(geometry: Any) -> CaloLayout:
    """The :class:`CaloLayout` of a :class:`colliderlab.physics.calo.CaloGeometry` (or its name):
    grid rows run along x and columns along y, centred on the shower axis; ``z`` is the depth of
    each layer's centre in mm."""
    from colliderlab.physics.calo import get_geometry

    g = get_geometry(geometry)
    layers = []
    for k, layer in enumerate(g.layers):
        (nr, nc), (dx, dy) = layer.shape, layer.cell
        rows = tuple(float(v) for v in (np.arange(nr) + 0.5 - nr / 2) * dx)
        cols = tuple(float(v) for v in (np.arange(nc) + 0.5 - nc / 2) * dy)
        z = 0.5 * float(g.boundaries[k] + g.boundaries[k + 1])
        layers.append(LayerLayout(str(k), (nr, nc), rows, cols, z, row_axis="x", col_axis="y"))
    return CaloLayout(tuple(layers), name=g.name)


def _check_finite(name: str, x: np.ndarray) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise ValueError(f"{name} has {int(bad.sum())} non-finite values (first at index {tuple(int(i) for i in idx)})")


def shower_observables(
    showers: np.ndarray,
    incident_energy: np.ndarray,
    layout: CaloLayout,
    *,
    threshold: float = 0.0,
) -> dict[str, np.ndarray]:
    """High-level observables of every shower.

    Args:
        showers: (N, n_cells) deposited energies (any unit, the same as ``incident_energy``).
        incident_energy: (N,).
        threshold: a cell counts as hit when its energy is above this (sparsity).
    Returns:
        ``{name: (N,)}``: ``e_<layer>``, ``e_ratio`` (total deposited / incident),
        ``cx_<layer>``, ``cy_<layer>``, ``wx_<layer>``, ``wy_<layer>`` (energy-weighted centroid
        and width along the layer's axes, 0 for an empty layer), ``depth_centroid``, ``depth_width`` and
        ``sparsity_<layer>`` (fraction of cells hit).
    """
    showers = np.asarray(showers, np.float64)
    inc = np.asarray(incident_energy, np.float64).reshape(-1)
    if len(inc) != len(showers):
        raise ValueError(f"incident_energy has {len(inc)} entries for {len(showers)} showers")
    _check_finite("showers", showers)
    _check_finite("incident_energy", inc)
    out: dict[str, np.ndarray] = {}
    e_layers, depths = [], []
    for layer, cells in zip(layout.layers, layout.split(showers), strict=True):
        e = cells.sum(axis=(1, 2))  # (N,)
        safe = np.where(e > 0, e, 1.0)
        e_col = cells.sum(axis=1)  # (N, n_cols) energy per column
        e_row = cells.sum(axis=2)  # (N, n_rows) energy per row
        empty = e <= 0
        for axis, e_line, pos in ((layer.col_axis, e_col, layer.cols), (layer.row_axis, e_row, layer.rows)):
            p = np.asarray(pos, np.float64)
            c = e_line @ p / safe
            w = np.sqrt(np.maximum(e_line @ (p * p) / safe - c * c, 0.0))
            out[f"c{axis}_{layer.name}"] = np.where(empty, 0.0, c)
            out[f"w{axis}_{layer.name}"] = np.where(empty, 0.0, w)
        out[f"e_{layer.name}"] = e
        out[f"sparsity_{layer.name}"] = (cells > threshold).reshape(len(cells), -1).mean(1)
        e_layers.append(e)
        depths.append(layer.z)
    e_all = np.stack(e_layers, 1)  # (N, L)
    tot = e_all.sum(1)
    z = np.asarray(depths)
    safe = np.where(tot > 0, tot, 1.0)
    dc = e_all @ z / safe
    out["e_ratio"] = tot / np.where(inc > 0, inc, 1.0)
    out["depth_centroid"] = np.where(tot > 0, dc, 0.0)
    out["depth_width"] = np.where(tot > 0, np.sqrt(np.maximum(e_all @ (z * z) / safe - dc * dc, 0.0)), 0.0)
    return out


def wasserstein1(a: np.ndarray, b: np.ndarray) -> float:
    """1-D Wasserstein-1 distance between two samples (0 for identical samples)."""
    from scipy.stats import wasserstein_distance

    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    _check_finite("a", a)
    _check_finite("b", b)
    return float(wasserstein_distance(a, b))


def separation_power(reference: np.ndarray, other: np.ndarray, bins: int | np.ndarray = 50) -> float:
    """``1/2 sum (h1 - h2)^2 / (h1 + h2)`` of unit-sum histograms on common bins.

    With an integer ``bins`` the edges span the 0.1-99.9% quantiles of ``reference`` (values
    outside go to the end bins). 0 for identical, 1 for non-overlapping distributions.
    """
    r, o = np.asarray(reference, np.float64).reshape(-1), np.asarray(other, np.float64).reshape(-1)
    _check_finite("reference", r)
    _check_finite("other", o)
    if isinstance(bins, int):
        lo, hi = np.quantile(r, [0.001, 0.999])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
    else:
        edges = np.asarray(bins, np.float64)
    h1 = np.histogram(np.clip(r, edges[0], edges[-1]), edges)[0].astype(np.float64)
    h2 = np.histogram(np.clip(o, edges[0], edges[-1]), edges)[0].astype(np.float64)
    h1 /= max(h1.sum(), 1.0)
    h2 /= max(h2.sum(), 1.0)
    s = h1 + h2
    nz = s > 0
    return float(0.5 * np.sum((h1[nz] - h2[nz]) ** 2 / s[nz]))


def compare_observables(
    reference: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """W1 and separation power for every observable both sides have: ``{name: {w1, separation}}``."""
    return {k: {"w1": wasserstein1(reference[k], other[k]), "separation": separation_power(reference[k], other[k])}
            for k in reference if k in other}


def _frechet(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    from scipy import linalg

    covmean = np.real(linalg.sqrtm(s1 @ s2))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def _features(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, F), got {x.shape}")
    _check_finite(name, x)
    return x


def fpd(
    real: np.ndarray,
    gen: np.ndarray,
    *,
    min_samples: int = 2000,
    max_samples: int = 20000,
    num_points: int = 10,
    seed: int = 0,
) -> tuple[float, float]:
    """Frechet physics distance extrapolated to infinite N (arXiv:2211.10295).

    Features are standardised with ``real``'s mean and std. The Frechet distance is computed on
    random subsets of sizes from ``min_samples`` to ``max_samples`` (at most the available
    showers), fitted linearly in 1/N, and the intercept is returned with its standard error.

    Args:
        real, gen: (N, F) high-level features.
    Returns:
        (FPD, error).
    """
    real, gen = _features(real, "real"), _features(gen, "gen")
    mu, sd = real.mean(0), real.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    real, gen = (real - mu) / sd, (gen - mu) / sd
    rng = np.random.default_rng(seed)
    n_max = min(max_samples, len(real), len(gen))
    n_min = min(min_samples, n_max)
    sizes = np.unique(np.linspace(n_min, n_max, num_points).astype(int))
    vals = []
    for n in sizes:
        a = real[rng.choice(len(real), n, replace=False)]
        b = gen[rng.choice(len(gen), n, replace=False)]
        vals.append(_frechet(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)))
    vals = np.asarray(vals)
    if len(sizes) < 2:
        return float(vals[0]), float("nan")
    if len(sizes) > 2:
        coef, cov = np.polyfit(1.0 / sizes, vals, 1, cov=True)
        return float(coef[1]), float(np.sqrt(cov[1, 1]))
    return float(np.polyfit(1.0 / sizes, vals, 1)[1]), float("nan")


def _mmd_poly_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 4) -> float:
    d = x.shape[1]
    kxx = (x @ x.T / d + 1.0) ** degree
    kyy = (y @ y.T / d + 1.0) ** degree
    kxy = (x @ y.T / d + 1.0) ** degree
    m, n = len(x), len(y)
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


def kpd(
    real: np.ndarray, gen: np.ndarray, *, num_batches: int = 10, batch_size: int = 5000, seed: int = 0
) -> tuple[float, float]:
    """Kernel physics distance (arXiv:2211.10295): unbiased MMD^2 with the kernel
    ``(x.y/d + 1)^4`` on standardised features, median and half the interquartile range over
    ``num_batches`` random batches. Returns (KPD, spread)."""
    real, gen = _features(real, "real"), _features(gen, "gen")
    mu, sd = real.mean(0), real.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    real, gen = (real - mu) / sd, (gen - mu) / sd
    rng = np.random.default_rng(seed)
    bs = min(batch_size, len(real), len(gen))
    vals = [
        _mmd_poly_unbiased(real[rng.choice(len(real), bs, replace=False)], gen[rng.choice(len(gen), bs, replace=False)])
        for _ in range(num_batches)
    ]
    q25, q50, q75 = np.quantile(vals, [0.25, 0.5, 0.75])
    return float(q50), float(0.5 * (q75 - q25))


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

