"""Learnable representations of calorimeter showers (files written by ``colliderlab calo simulate``,
CaloChallenge or CaloGAN files).

Two kinds, read from :class:`colliderlab.physics.calo.CaloShowers`:

* ``calo`` - for generators and cell-level networks: ``x`` (N, n_cells) cell energies divided by
  the incident energy, ``cond`` (N, 2) = (log10(E_inc / GeV) - 1, incidence angle in rad), and
  ``energy`` (N, 1) the incident energy in GeV (a regression target);
* ``calo_features`` - shower-shape features for BDTs and dense nets, from what the calorimeter
  measures (never the true incident energy): the observables of
  :func:`colliderlab.features.showers.shower_observables` with layer energies as fractions of
  the visible energy, centroids and widths per layer, depth centroid and width, sparsity, the
  visible energy (GeV) and its log10; ``x`` (N, F).
Labels are particle types (``class_names`` from the particles present, e.g. ``("gamma", "pi0")``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from colliderlab.features.representations import register_representation

__all__ = ["CaloCellsConfig", "CaloFeaturesConfig", "calo_labels", "read_showers"]


def read_showers(path: Any, start: int = 0, stop: int | None = None) -> Any:
    """Showers of a CaloChallenge-layout file (``showers``, ``incident_energies``; also what
    ``colliderlab calo simulate`` writes) or a CaloGAN file (``layer_0..2``, ``energy``)."""
    from colliderlab.data.calo_io import read_calochallenge, read_calogan
    from colliderlab.data.h5 import open_hdf5

    with open_hdf5(path) as f:
        keys = set(f.keys())
    if {"showers", "incident_energies"} <= keys:
        return read_calochallenge(path, start=start, stop=stop)
    if {"layer_0", "layer_1", "layer_2", "energy"} <= keys:
        return read_calogan(path, start=start, stop=stop)
    raise ValueError(
        f"{path} is not a calorimeter file: expected datasets 'showers' and 'incident_energies' "
        f"(CaloChallenge) or 'layer_0', 'layer_1', 'layer_2', 'energy' (CaloGAN); it has {sorted(keys)}"
    )


def calo_labels(showers: Any) -> tuple[np.ndarray, tuple[str, ...]]:
    """(N,) int64 class index and the class names (particle names present, sorted)."""
    names = np.asarray(showers.particle_names)
    classes = tuple(sorted(set(names.tolist())))
    lut = {n: i for i, n in enumerate(classes)}
    return np.array([lut[n] for n in names], np.int64), classes


def _check(showers: Any, what: str) -> None:
    x = np.asarray(showers.showers)
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"{what}: shower {row} has a non-finite energy in cell {col}")
    e = np.asarray(showers.incident_energy)
    if (e <= 0).any() or not np.isfinite(e).all():
        i = int(np.flatnonzero(~(e > 0) | ~np.isfinite(e))[0])
        raise ValueError(f"{what}: shower {i} has incident energy {e[i]!r}; it must be positive")


NORMALIZE = ("incident", "deposited")


@register_representation
@dataclass(frozen=True)
class CaloCellsConfig:
    """Cell fractions and conditions. Arrays: ``x`` (N, n_cells), ``cond`` (N, 2), ``energy`` (N, 1).

    ``normalize = "incident"`` (generators: they are told the incident energy) divides the cells
    by E_inc and puts log10(E_inc) in ``cond``; ``"deposited"`` (classifiers, energy regression:
    only what the calorimeter measures) divides by the total visible energy and puts
    log10(E_visible) in ``cond``. ``geometry`` is taken from the file (its layer shapes feed
    cell-level CNNs). ``min_energy`` (GeV, default 0: off) is a readout threshold: cells at or
    below it read 0, as a calorimeter's zero suppression does (generators trained on
    zero-suppressed showers need not learn sub-threshold dust; the fidelity evaluation applies
    :data:`colliderlab.features.showers.MIN_ENERGY` to both samples).
    """

    kind: ClassVar[str] = "calo"
    source: ClassVar[str] = "calo"
    standardize: ClassVar[tuple[str, ...]] = ()
    normalize: str = "incident"
    geometry: str = ""
    min_energy: float = 0.0

    def __post_init__(self) -> None:
        if self.normalize not in NORMALIZE:
            raise ValueError(f"calo: normalize = {self.normalize!r}; valid: {', '.join(NORMALIZE)}")
        if not self.min_energy >= 0.0:
            raise ValueError(f"calo: min_energy = {self.min_energy!r} GeV must be >= 0")

    def resolve(self, showers: Any) -> CaloCellsConfig:
        return self if self.geometry else replace(self, geometry=str(showers.geometry))

    def compute(self, showers: Any) -> dict[str, np.ndarray]:
        _check(showers, "calo representation")
        e = np.asarray(showers.incident_energy, np.float64)
        cells = np.asarray(showers.showers, np.float64)
        if self.min_energy > 0.0:
            cells = np.where(cells > self.min_energy, cells, 0.0)  # the readout threshold
        scale = e if self.normalize == "incident" else np.maximum(cells.sum(1), 1e-6)
        x = (cells / scale[:, None]).astype(np.float32)  # (N, n_cells)
        cond = np.stack([np.log10(scale) - 1.0, np.asarray(showers.angle, np.float64)], 1).astype(np.float32)
        return {"x": x, "cond": cond, "energy": e[:, None].astype(np.float32)}

    def dims(self, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        out: dict[str, Any] = {"n_features": int(arrays["x"].shape[1]), "n_context": int(arrays["cond"].shape[1])}
        if self.geometry:
            from colliderlab.physics.calo import CALO_GEOMETRIES

            if self.geometry in CALO_GEOMETRIES:
                out["layer_shapes"] = CALO_GEOMETRIES[self.geometry].layer_shapes
        return out

    def feature_names(self) -> list[str]:
        return []

    def input_fields(self) -> frozenset[str]:
        """The :class:`~colliderlab.physics.calo.CaloShowers` fields read (showers, not jets)."""
        return frozenset(("showers", "incident_energy", "angle"))


@register_representation
@dataclass(frozen=True)
class CaloFeaturesConfig:
    """Shower-shape features. Arrays: ``x`` (N, F) in the order of :meth:`feature_names`."""

    kind: ClassVar[str] = "calo_features"
    source: ClassVar[str] = "calo"
    standardize: ClassVar[tuple[str, ...]] = ("x",)
    geometry: str = ""

    def _observables(self, showers: Any) -> dict[str, np.ndarray]:
        from colliderlab.features.showers import layout_of, shower_observables

        e_dep = np.maximum(np.asarray(showers.showers, np.float64).sum(1), 1e-6)
        obs = shower_observables(showers.showers, e_dep, layout_of(self.geometry or showers.geometry))
        obs.pop("e_ratio")  # = 1 here: only what the calorimeter measures, not the true energy
        for k in [k for k in obs if k.startswith("e_")]:
            obs[k] = obs[k] / e_dep  # layer energy fractions
        obs["log10_energy"] = np.log10(e_dep)  # the measured (visible) energy
        obs["visible_energy"] = e_dep  # GeV: what a linear calibration scales
        return obs

    def compute(self, showers: Any) -> dict[str, np.ndarray]:
        _check(showers, "calo_features representation")
        obs = self._observables(showers)
        return {"x": np.stack([obs[k] for k in sorted(obs)], 1).astype(np.float32)}

    def dims(self, arrays: dict[str, np.ndarray]) -> dict[str, int]:
        return {"n_features": int(arrays["x"].shape[1])}

    def input_fields(self) -> frozenset[str]:
        """The :class:`~colliderlab.physics.calo.CaloShowers` fields read: the cells only."""
        return frozenset(("showers",))

    def resolve(self, showers: Any) -> CaloFeaturesConfig:
        """Fix the geometry from the file, so other files are read with the same features."""
        return self if self.geometry else replace(self, geometry=str(showers.geometry))

    def feature_names(self) -> list[str]:
        """The columns of ``x`` (needs the geometry; set by :meth:`resolve`)."""
        if not self.geometry:
            return []
        from colliderlab.features.showers import layout_of, shower_observables

        layout = layout_of(self.geometry)
        keys = set(shower_observables(np.zeros((1, layout.n_cells)), np.ones(1), layout)) - {"e_ratio"}
        return sorted(keys | {"log10_energy", "visible_energy"})
