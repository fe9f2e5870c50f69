"""Detector cards: the frozen dataclasses of a parametric detector (efficiency maps, tracker and
calorimeter resolutions, isolation, b-tagging), and their YAML loading with key-by-key checks."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from colliderlab.configs import ConfigError, from_dict

__all__ = ["CARDS", "EfficiencyMap", "PtResolution", "ImpactParameterResolution", "CaloResolution", "TrackEfficiency", "TrackResolution", "TrackerCard", "CalorimeterCard", "DetectorCard", "load_card", "card_from_dict", "card_to_dict", "IsolationCard", "BTagCard"]


CARDS: tuple[str, ...] = ("ideal", "atlas-like", "cms-like")
_TINY = 1e-12


# ---------------------------------------------------------------------------------------------
# Card dataclasses
# ---------------------------------------------------------------------------------------------


def _check_edges(edges: tuple[float, ...], what: str, min_len: int = 2) -> None:
    if len(edges) < min_len:
        raise ValueError(f"{what} needs at least {min_len} entries, got {len(edges)}")
    if any(b <= a for a, b in zip(edges[:-1], edges[1:], strict=False)):
        raise ValueError(f"{what} must be strictly increasing, got {list(edges)}")
    if edges[0] < 0:
        raise ValueError(f"{what} must be non-negative, got {list(edges)}")


def _check_lengths(n: int, what: str, **columns: tuple[float, ...]) -> None:
    for name, col in columns.items():
        if len(col) != n:
            raise ValueError(f"{name} needs one entry per {what} ({n}), got {len(col)}")
        if any(v < 0 for v in col):
            raise ValueError(f"{name} must be non-negative, got {list(col)}")


def _region(edges: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    """Index of the bin of ``edges`` holding each ``x`` (``[lo, hi)``), or -1 outside."""
    i = np.searchsorted(np.asarray(edges, float), x, side="right") - 1
    return np.where((i >= 0) & (i < len(edges) - 1), i, -1)


def _lookup(table: tuple[float, ...], index: np.ndarray) -> np.ndarray:
    """``table[index]`` with 0 where ``index == -1``."""
    arr = np.asarray(table, float)
    return np.where(index >= 0, arr[np.maximum(index, 0)], 0.0)


@dataclass(frozen=True)
class EfficiencyMap:
    """An efficiency binned in |eta| and pT.

    ``values[i][j]`` applies to ``eta_edges[i] <= |eta| < eta_edges[i+1]`` and
    ``pt_edges[j] <= pT < pt_edges[j+1]`` (GeV); the last pT bin is open-ended. The efficiency is
    0 below ``pt_edges[0]`` and outside the |eta| edges.
    """

    eta_edges: tuple[float, ...]
    pt_edges: tuple[float, ...]
    values: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        _check_edges(self.eta_edges, "eta_edges")
        _check_edges(self.pt_edges, "pt_edges", min_len=1)
        if len(self.values) != len(self.eta_edges) - 1:
            raise ValueError(
                f"values needs one row per |eta| bin ({len(self.eta_edges) - 1}), got {len(self.values)}"
            )
        for row in self.values:
            if len(row) != len(self.pt_edges) or any(not 0.0 <= v <= 1.0 for v in row):
                raise ValueError(
                    f"each row of values needs {len(self.pt_edges)} efficiencies in [0, 1], got {list(row)}"
                )

    def __call__(self, pt: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
        """Efficiency for each (pT, |eta|). (n,), (n,) -> (n,)"""
        ie = _region(self.eta_edges, abs_eta)
        ip = np.searchsorted(np.asarray(self.pt_edges, float), pt, side="right") - 1
        table = np.asarray(self.values, float)
        ok = (ie >= 0) & (ip >= 0)
        return np.where(ok, table[np.maximum(ie, 0), np.maximum(ip, 0)], 0.0)


@dataclass(frozen=True)
class PtResolution:
    """Relative track pT resolution ``sigma(pT)/pT = sqrt(constant^2 + (slope * pT)^2)`` per |eta| region.

    ``constant[i]`` (dimensionless) and ``slope[i]`` (1/GeV) apply to
    ``eta_edges[i] <= |eta| < eta_edges[i+1]``; zero outside.
    """

    eta_edges: tuple[float, ...]
    constant: tuple[float, ...]
    slope: tuple[float, ...]

    def __post_init__(self) -> None:
        _check_edges(self.eta_edges, "eta_edges")
        _check_lengths(
            len(self.eta_edges) - 1, "|eta| region", constant=self.constant, slope=self.slope
        )

    def __call__(self, pt: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
        """sigma(pT)/pT for each (pT, |eta|). (n,), (n,) -> (n,)"""
        i = _region(self.eta_edges, abs_eta)
        return np.hypot(_lookup(self.constant, i), _lookup(self.slope, i) * pt)


@dataclass(frozen=True)
class ImpactParameterResolution:
    """Impact-parameter resolution ``sigma = sqrt(constant_um^2 + (slope_um_gev / pT)^2)`` micrometres."""

    constant_um: float
    slope_um_gev: float

    def __post_init__(self) -> None:
        if self.constant_um < 0 or self.slope_um_gev < 0:
            raise ValueError(f"impact-parameter resolution terms must be non-negative, got {self}")

    def sigma_mm(self, pt: np.ndarray) -> np.ndarray:
        """Resolution in mm for tracks of transverse momentum ``pt`` (GeV). (n,) -> (n,)"""
        return 1e-3 * np.hypot(self.constant_um, self.slope_um_gev / np.maximum(pt, _TINY))


@dataclass(frozen=True)
class CaloResolution:
    """Calorimeter energy resolution ``sigma/E = stochastic/sqrt(E) (+) noise/E (+) constant``.

    Terms in quadrature per |eta| region: ``stochastic`` in sqrt(GeV), ``noise`` in GeV,
    ``constant`` dimensionless; ``sigma = sqrt(stochastic^2 E + noise^2 + constant^2 E^2)``.
    """

    eta_edges: tuple[float, ...]
    stochastic: tuple[float, ...]
    noise: tuple[float, ...]
    constant: tuple[float, ...]

    def __post_init__(self) -> None:
        _check_edges(self.eta_edges, "eta_edges")
        n = len(self.eta_edges) - 1
        _check_lengths(
            n, "|eta| region", stochastic=self.stochastic, noise=self.noise, constant=self.constant
        )

    def sigma(self, energy: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
        """Absolute resolution in GeV at ``energy`` (GeV). (n,), (n,) -> (n,)"""
        i = _region(self.eta_edges, abs_eta)
        e = np.maximum(energy, 0.0)
        a, b, c = _lookup(self.stochastic, i), _lookup(self.noise, i), _lookup(self.constant, i)
        return np.sqrt(a * a * e + b * b + (c * e) ** 2)


@dataclass(frozen=True)
class TrackEfficiency:
    """Tracking efficiencies per particle class."""

    charged_hadron: EfficiencyMap
    electron: EfficiencyMap
    muon: EfficiencyMap


@dataclass(frozen=True)
class TrackResolution:
    """Relative pT resolutions per particle class."""

    charged_hadron: PtResolution
    electron: PtResolution
    muon: PtResolution


@dataclass(frozen=True)
class TrackerCard:
    """Inner tracker: acceptance ``|eta| < eta_max``, efficiencies, pT and impact-parameter resolutions."""

    eta_max: float
    efficiency: TrackEfficiency
    resolution: TrackResolution
    d0_resolution: ImpactParameterResolution
    dz_resolution: ImpactParameterResolution

    def __post_init__(self) -> None:
        if not self.eta_max > 0:
            raise ValueError(f"eta_max must be positive, got {self.eta_max}")


@dataclass(frozen=True)
class CalorimeterCard:
    """One calorimeter (ECAL or HCAL).

    Attributes:
        eta_max: acceptance ``|eta| < eta_max``.
        cell_eta: cell size in eta; ``None`` for no cells (each deposit is its own candidate).
        cell_phi_count: number of cells in phi, each ``2 pi / cell_phi_count`` wide (``None``
            together with ``cell_eta``).
        resolution: energy resolution of a cell.
        energy_min: GeV, cells whose (track-subtracted) energy is below are dropped.
        significance_min: cells with tracks pointing at them are dropped unless their energy
            exceeds the tracks' by ``significance_min * sigma(E_cell)`` (Delphes'
            ``EnergySignificanceMin``, here applied to the excess over tracks only).
    """

    eta_max: float
    cell_eta: float | None
    cell_phi_count: int | None
    resolution: CaloResolution
    energy_min: float
    significance_min: float

    def __post_init__(self) -> None:
        if not self.eta_max > 0:
            raise ValueError(f"eta_max must be positive, got {self.eta_max}")
        if (self.cell_eta is None) != (self.cell_phi_count is None):
            raise ValueError("cell_eta and cell_phi_count must both be set or both be null")
        if self.cell_eta is not None:
            if not self.cell_eta > 0 or not math.isfinite(self.eta_max):
                raise ValueError(
                    f"cells need cell_eta > 0 and a finite eta_max, got {self.cell_eta}, {self.eta_max}"
                )
            if self.cell_phi_count is None or self.cell_phi_count < 1:
                raise ValueError(
                    f"cell_phi_count must be a positive integer, got {self.cell_phi_count}"
                )
        if self.energy_min < 0 or self.significance_min < 0:
            raise ValueError("energy_min and significance_min must be non-negative")

    @property
    def cell_phi(self) -> float | None:
        """Cell size in phi (radians), or None without cells."""
        return None if self.cell_phi_count is None else 2 * math.pi / self.cell_phi_count


@dataclass(frozen=True)
class IsolationCard:
    """Lepton isolation: the pT sum of the other candidates in a cone, relative to the lepton's pT.

    ``I_rel = sum_{i != l, Delta R(i, l) < cone, pT_i > pt_min} pT_i / pT_l`` (Delphes'
    ``Isolation`` module with ``DeltaRMax = cone``, ``PTMin = pt_min``, ``PTRatioMax = rel_max``);
    a lepton is isolated when ``I_rel < rel_max``.
    """

    cone: float = 0.3
    pt_min: float = 0.5
    rel_max: float = 0.15

    def __post_init__(self) -> None:
        if not self.cone > 0 or self.pt_min < 0 or not self.rel_max > 0:
            raise ValueError(f"isolation needs cone > 0, pt_min >= 0 and rel_max > 0, got {self}")


def _flat_map(value: float, eta_max: float = 2.5) -> EfficiencyMap:
    return EfficiencyMap(eta_edges=(0.0, eta_max), pt_edges=(0.0,), values=((value,),))


@dataclass(frozen=True)
class BTagCard:
    """b-tagging: tag probabilities of jets by truth flavour (b, c, light), binned in |eta| and pT.

    The truth flavour comes from Delta R matching (``match_r``) of the jet axis to B hadrons,
    then to C hadrons, with pT above ``hadron_pt_min`` (see :func:`~colliderlab.physics.detector.objects.jet_flavour`), as Delphes'
    ``BTagging`` module does with partons. The default maps (used when a card has no ``btag``
    key) are flat 70% / 20% / 1% within |eta| < 2.5.
    """

    match_r: float = 0.4
    hadron_pt_min: float = 5.0
    b: EfficiencyMap = dataclasses.field(default_factory=lambda: _flat_map(0.70))
    c: EfficiencyMap = dataclasses.field(default_factory=lambda: _flat_map(0.20))
    light: EfficiencyMap = dataclasses.field(default_factory=lambda: _flat_map(0.01))

    def __post_init__(self) -> None:
        if not self.match_r > 0 or self.hadron_pt_min < 0:
            raise ValueError(
                f"btag needs match_r > 0 and hadron_pt_min >= 0, got {self.match_r}, {self.hadron_pt_min}"
            )


@dataclass(frozen=True)
class DetectorCard:
    """A complete detector description.

    Attributes:
        name: card name (``ideal``, ``atlas-like``, ...).
        description: one paragraph: what the card models and where its numbers come from.
        charged_in_calo: tracked charged particles also deposit their energy in the
            calorimeters and the tracks' energy is subtracted cell by cell (energy flow);
            ``False`` means a perfect removal of the tracked charged energy.
        tracker: inner-tracker settings.
        ecal: electromagnetic calorimeter (photons, electrons).
        hcal: hadronic calorimeter (all other particles except muons).
        electron_id: identification efficiency of tracked electrons (else charged hadrons).
        muon_id: identification efficiency of tracked muons (else charged hadrons); its last
            |eta| edge is the muon-system acceptance.
        isolation: lepton isolation cone and cut (optional key, default cone 0.3, I_rel < 0.15).
        btag: b-tagging efficiency and mistag maps (optional key, default flat 70/20/1%).
    """

    name: str
    description: str
    charged_in_calo: bool
    tracker: TrackerCard
    ecal: CalorimeterCard
    hcal: CalorimeterCard
    electron_id: EfficiencyMap
    muon_id: EfficiencyMap
    isolation: IsolationCard = dataclasses.field(default_factory=IsolationCard)
    btag: BTagCard = dataclasses.field(default_factory=BTagCard)


# ---------------------------------------------------------------------------------------------
# Loading and provenance
# ---------------------------------------------------------------------------------------------


def card_from_dict(data: dict[str, Any], source: str = "<dict>") -> DetectorCard:
    """Build a :class:`DetectorCard` from a mapping (a parsed YAML card or :func:`card_to_dict`'s output).

    Raises:
        ValueError: naming ``source`` and the dotted key, for an unknown, missing or invalid key.
    """
    try:  # every scalar type-checked; integers become floats in float fields
        return from_dict(DetectorCard, data, strict=True)
    except ConfigError as err:
        raise ValueError(f"detector card {source}: key '{err.key or 'top level'}': {err.message}") from None


def _builtin_path(name: str) -> Any:
    return resources.files("colliderlab.physics").joinpath("cards", f"{name}.yaml")


def load_card(card: str | os.PathLike | DetectorCard) -> DetectorCard:
    """Resolve a detector card: a built-in name (see :data:`CARDS`), a YAML file path, or a card.

    Raises:
        ValueError: for an unknown name (listing the valid ones), or a YAML file with an
            unknown, missing or invalid key (naming the file and the key).
        FileNotFoundError: for a path that does not exist.
    """
    if isinstance(card, DetectorCard):
        return card
    if isinstance(card, str) and card in CARDS:
        source, text = f"'{card}' (built-in)", _builtin_path(card).read_text(encoding="utf-8")
    else:
        path = Path(card)
        looks_like_path = (
            path.suffix in (".yaml", ".yml") or len(path.parts) > 1 or not isinstance(card, str)
        )
        if not looks_like_path and not path.exists():
            raise ValueError(
                f"unknown detector card {str(card)!r}; valid names: {', '.join(CARDS)} (or a path to a YAML card)"
            )
        if not path.is_file():
            raise FileNotFoundError(f"detector card file {str(path)!r} does not exist")
        source, text = f"file {str(path)!r}", path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"detector card {source}: not valid YAML: {err}") from None
    return card_from_dict(data, source)


def card_to_dict(card: DetectorCard) -> dict[str, Any]:
    """A plain nested dict of the card (lists, floats, strings; YAML/JSON-ready) for provenance.

    ``card_from_dict(card_to_dict(card)) == card``.
    """

    def plain(x: Any) -> Any:
        if dataclasses.is_dataclass(x):
            return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
        if isinstance(x, tuple):
            return [plain(v) for v in x]
        return x

    return plain(card)
