"""A Delphes-like parametric detector, vectorised over whole batches of events.

Generator-level final-state particles go in; particle-flow-like candidates come out:

* **Tracks.** Charged particles inside the tracker acceptance are reconstructed with an
  efficiency binned in (|eta|, pT) and get a log-normal relative pT smearing of width
  ``sigma(pT)/pT = sqrt(a^2 + (b pT)^2)`` per |eta| region, as in the Delphes cards
  (``MomentumSmearing`` also draws log-normally: the pT stays positive, the mean is kept and
  the standard deviation of ``pT_reco / pT_true`` is exactly ``sigma(pT)/pT``). The direction is
  kept and the energy is recomputed with the particle's mass. Electrons and muons keep their
  flavour with an identification efficiency (binned in |eta|, pT), otherwise they become
  charged hadrons; the muon identification map's last |eta| edge is the muon-system acceptance.
* **Impact parameters.** Straight-line extrapolation of the true production vertex
  ``(vx, vy, vz)`` (mm, primary vertex at the origin) to the beam line::

      d0 = (vx * py - vy * px) / pT                       # signed: z-component of (v x p) / pT
      dz = vz - (vx * px + vy * py) * pz / pT^2           # z at the point of closest approach

  plus Gaussian resolution terms ``sigma = sqrt(a^2 + (b / pT)^2)`` micrometres. The magnetic
  field is not modelled (no helix), so displaced tracks have ``|d0|`` equal to the distance of
  their straight line from the beam.
* **Calorimeters.** Photons and electrons deposit their energy in the ECAL, all other
  particles except muons (and neutrinos, which are ignored) in the HCAL. Deposited are the
  neutral particles, the charged particles outside the tracker or lost to inefficiency and,
  when ``card.charged_in_calo`` is set, the tracked charged particles too: then the energy of
  the tracks pointing at a cell is subtracted from its measured energy (Delphes' energy-flow
  ``SimpleCalorimeter``), so calorimeter fluctuations leave neutral candidates behind.
  Deposits are summed per event on a uniform (eta, phi) grid, each cell is smeared with
  ``sigma/E = a/sqrt(E) (+) b/E (+) c`` (Gaussian, negative energies clipped to zero) and kept
  when its (track-subtracted) energy passes ``energy_min``; a cell with tracks pointing at it
  must in addition exceed the tracks' energy by ``significance_min * sigma`` (particle flow
  creates a neutral only for a significant excess; Delphes applies the significance cut to
  every tower, which removes e.g. all CMS-like HCAL neutrals below ~9 GeV).
  A surviving ECAL cell becomes a massless PHOTON, an HCAL cell a massless NEUTRAL_HADRON, at
  the cell centre (as Delphes towers). A calorimeter without cells (``cell_eta: null``) keeps
  each deposit as its own candidate with the particle's four-momentum scaled by the smearing.
  Charged particles are not bent by a magnetic field on their way to the calorimeter.
* **Muons** never deposit calorimeter energy; a muon outside the tracker is lost, a tracked
  muon outside the muon system (or not identified) becomes a charged hadron.

Cards (``ideal``, ``atlas-like``, ``cms-like``) are frozen dataclasses read from YAML shipped in
``colliderlab/physics/cards``; the YAML files cite where their numbers come from. The ``ideal``
card passes every particle through unchanged (exact four-momentum, d0/dz without resolution).

Everything is computed on flat numpy arrays of all particles in the batch; calorimeter cells
are built with one ``np.unique`` over an integer (event, ieta, iphi) key per calorimeter.
Reference: J. de Favereau et al., "DELPHES 3", JHEP 02 (2014) 057, arXiv:1307.6346.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import yaml

from colliderlab import kinematics as kin
from colliderlab.jets import ParticleID, pid_from_pdg

__all__ = [
    "CARDS",
    "EfficiencyMap",
    "PtResolution",
    "ImpactParameterResolution",
    "CaloResolution",
    "TrackEfficiency",
    "TrackResolution",
    "TrackerCard",
    "CalorimeterCard",
    "DetectorCard",
    "load_card",
    "card_from_dict",
    "card_to_dict",
    "apply_detector",
    "INPUT_FIELDS",
    "IsolationCard",
    "BTagCard",
    "lepton_isolation",
    "missing_pt",
    "hadron_flavour",
    "jet_flavour",
    "btag_jets",
]

CARDS: tuple[str, ...] = ("ideal", "atlas-like", "cms-like")
INPUT_FIELDS: tuple[str, ...] = ("px", "py", "pz", "E", "pdg", "charge", "vx", "vy", "vz")

_TINY = 1e-12
_NEUTRINOS = (12, 14, 16)


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
    then to C hadrons, with pT above ``hadron_pt_min`` (see :func:`jet_flavour`), as Delphes'
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


class _CardKeyError(ValueError):
    """A problem at one key of a card mapping; ``key`` is its dotted path."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _convert(tp: Any, value: Any, key: str) -> Any:
    """Convert a YAML value to the annotated field type ``tp`` (dataclass, tuple, scalar, optional)."""
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = (a for a in args if a is not type(None))
        return _convert(inner, value, key)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _CardKeyError(key, f"expected a list, got {value!r}")
        (inner, _) = typing.get_args(tp)
        return tuple(_convert(inner, v, f"{key}[{i}]") for i, v in enumerate(value))
    if tp is float:
        if isinstance(value, str):  # PyYAML reads '1e-4' (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _CardKeyError(key, f"expected a number, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _CardKeyError(key, f"expected an integer, got {value!r}")
    if tp is bool or tp is str:
        if isinstance(value, tp):
            return value
        raise _CardKeyError(key, f"expected a {tp.__name__}, got {value!r}")
    raise TypeError(f"unsupported card field type {tp!r}")  # pragma: no cover - programming error


def _build(cls: type, data: Any, key: str) -> Any:
    """Build dataclass ``cls`` from a mapping, refusing unknown and missing keys."""
    where = key or "top level"
    if not isinstance(data, dict):
        raise _CardKeyError(where, f"expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for k in data:
        if k not in names:
            raise _CardKeyError(
                f"{key}.{k}" if key else str(k),
                f"unknown key (valid keys here: {', '.join(names)})",
            )
    kwargs = {}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in names:
        sub = f"{key}.{name}" if key else name
        if name not in data:
            f = fields[name]
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                continue  # optional key: the dataclass default applies
            raise _CardKeyError(sub, "missing key")
        kwargs[name] = _convert(hints[name], data[name], sub)
    try:
        return cls(**kwargs)
    except _CardKeyError:
        raise
    except ValueError as err:
        raise _CardKeyError(where, str(err)) from None


def card_from_dict(data: dict[str, Any], source: str = "<dict>") -> DetectorCard:
    """Build a :class:`DetectorCard` from a mapping (a parsed YAML card or :func:`card_to_dict`'s output).

    Raises:
        ValueError: naming ``source`` and the dotted key, for an unknown, missing or invalid key.
    """
    try:
        return _build(DetectorCard, data, "")
    except _CardKeyError as err:
        raise ValueError(f"detector card {source}: key '{err.key}': {err.message}") from None


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


# ---------------------------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------------------------


@dataclass
class _Flat:
    """Flat candidate columns of one detector part; ``evt`` says which event each belongs to."""

    evt: np.ndarray  # (n,) int64
    p4: np.ndarray  # (n, 4) float64 (E, px, py, pz)
    charge: np.ndarray  # (n,) int8
    pid: np.ndarray  # (n,) int8
    d0: np.ndarray  # (n,) float32, mm
    dz: np.ndarray  # (n,) float32, mm


def _lognormal_factor(sigma: np.ndarray, z: np.ndarray) -> np.ndarray:
    """exp(mu + s z) with mean 1 and standard deviation ``sigma``; exactly 1 where sigma == 0."""
    s2 = np.log1p(sigma * sigma)
    return np.exp(np.sqrt(s2) * z - 0.5 * s2)


def _tracks(
    card: DetectorCard,
    evt: np.ndarray,
    p4: np.ndarray,
    pt: np.ndarray,
    abs_eta: np.ndarray,
    pdg_abs: np.ndarray,
    charge: np.ndarray,
    vtx: np.ndarray,
    rng: np.random.Generator,
) -> tuple[_Flat, np.ndarray]:
    """Reconstruct tracks from charged particles. Returns the tracks and the tracked mask (n,)."""
    tracker = card.tracker
    n = len(evt)
    is_e, is_mu = pdg_abs == 11, pdg_abs == 13
    eff = np.zeros(n)
    res = np.zeros(n)
    for mask, emap, rmap in (
        (~is_e & ~is_mu, tracker.efficiency.charged_hadron, tracker.resolution.charged_hadron),
        (is_e, tracker.efficiency.electron, tracker.resolution.electron),
        (is_mu, tracker.efficiency.muon, tracker.resolution.muon),
    ):
        eff[mask] = emap(pt[mask], abs_eta[mask])
        res[mask] = rmap(pt[mask], abs_eta[mask])
    candidate = (charge != 0) & (abs_eta < tracker.eta_max)
    tracked = candidate & (rng.random(n) < eff)

    idx = np.flatnonzero(tracked)
    t_p4, t_pt, t_eta = p4[idx], pt[idx], abs_eta[idx]
    # pT smearing: scale the three-momentum, recompute E with the mass (E^2 - p^2 + s^2 p^2).
    scale = _lognormal_factor(res[idx], rng.standard_normal(len(idx)))
    p2 = np.sum(t_p4[:, 1:] ** 2, axis=1)
    out_p4 = np.empty_like(t_p4)
    out_p4[:, 1:] = t_p4[:, 1:] * scale[:, None]
    out_p4[:, 0] = np.sqrt(np.maximum(t_p4[:, 0] ** 2 + (scale * scale - 1.0) * p2, 0.0))

    # Identification: electrons and muons not identified become charged hadrons.
    pid = pid_from_pdg(pdg_abs[idx], charge[idx])
    id_eff = np.where(
        pdg_abs[idx] == 11,
        card.electron_id(t_pt, t_eta),
        np.where(pdg_abs[idx] == 13, card.muon_id(t_pt, t_eta), 1.0),
    )
    lost_id = rng.random(len(idx)) >= id_eff
    pid[lost_id & ((pid == ParticleID.ELECTRON) | (pid == ParticleID.MUON))] = (
        ParticleID.CHARGED_HADRON
    )

    # Impact parameters from the true production vertex, straight line to the beam line.
    vx, vy, vz = vtx[idx, 0], vtx[idx, 1], vtx[idx, 2]
    px, py, pz = t_p4[:, 1], t_p4[:, 2], t_p4[:, 3]
    pt_safe = np.maximum(t_pt, _TINY)
    d0 = (vx * py - vy * px) / pt_safe
    dz = vz - (vx * px + vy * py) * pz / pt_safe**2
    d0 = d0 + tracker.d0_resolution.sigma_mm(t_pt) * rng.standard_normal(len(idx))
    dz = dz + tracker.dz_resolution.sigma_mm(t_pt) * rng.standard_normal(len(idx))

    flat = _Flat(
        evt=evt[idx],
        p4=out_p4,
        charge=np.rint(charge[idx]).astype(np.int8),
        pid=pid.astype(np.int8),
        d0=d0.astype(np.float32),
        dz=dz.astype(np.float32),
    )
    return flat, tracked


def _calorimeter(
    calo: CalorimeterCard,
    pid: ParticleID,
    evt: np.ndarray,
    p4: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    e_track: np.ndarray,
    rng: np.random.Generator,
) -> _Flat:
    """Sum deposits into cells, smear, subtract track energy, threshold; one candidate per cell.

    Inputs are the deposits of this calorimeter (already inside its acceptance): event index
    (n,), four-momenta (n, 4), eta and phi (n,), and the reconstructed track energy to subtract
    (n,; 0 for untracked particles). Returns massless candidates at the cell centres.
    """
    energy = p4[:, 0]
    if calo.cell_eta is None:
        e_true, e_trk, cell_eta, cell_evt = energy, e_track, eta, evt
    else:
        deta, nphi, dphi = calo.cell_eta, int(calo.cell_phi_count), calo.cell_phi
        offset = math.ceil(calo.eta_max / deta)
        neta = 2 * offset
        ieta = np.clip(np.floor(eta / deta).astype(np.int64) + offset, 0, neta - 1)
        iphi = np.floor((phi + np.pi) / dphi).astype(np.int64) % nphi
        key = (evt * neta + ieta) * nphi + iphi
        cells, inverse = np.unique(key, return_inverse=True)
        e_true = np.bincount(inverse, weights=energy, minlength=len(cells))
        e_trk = np.bincount(inverse, weights=e_track, minlength=len(cells))
        cell_evt = cells // (neta * nphi)
        cell_eta = ((cells // nphi) % neta - offset + 0.5) * deta
        cell_phi = -np.pi + (cells % nphi + 0.5) * dphi

    abs_eta = np.abs(cell_eta)
    e_meas = e_true + calo.resolution.sigma(e_true, abs_eta) * rng.standard_normal(len(e_true))
    e_meas = np.maximum(e_meas, 0.0)
    e_neutral = e_meas - e_trk
    sigma_meas = calo.resolution.sigma(e_meas, abs_eta)
    significant = (e_trk == 0) | (e_neutral >= calo.significance_min * sigma_meas)
    keep = (e_neutral > 0) & (e_neutral >= calo.energy_min) & significant

    if calo.cell_eta is None:
        # No cells: the particle's own four-momentum, scaled by the measured/true energy.
        ratio = e_neutral[keep] / np.maximum(e_true[keep], _TINY)
        out_p4 = p4[keep] * ratio[:, None]
    else:
        e_k, eta_k = e_neutral[keep], cell_eta[keep]
        out_p4 = kin.from_ptetaphim(e_k / np.cosh(eta_k), eta_k, cell_phi[keep], 0.0)
    n = int(keep.sum())
    return _Flat(
        evt=cell_evt[keep],
        p4=out_p4,
        charge=np.zeros(n, np.int8),
        pid=np.full(n, pid, np.int8),
        d0=np.zeros(n, np.float32),
        dz=np.zeros(n, np.float32),
    )


def apply_detector(particles: ak.Array, card: DetectorCard, rng: np.random.Generator) -> ak.Array:
    """Turn final-state particles into particle-flow-like candidates with a parametric detector.

    Args:
        particles: events, each a list of final-state particles with fields ``px, py, pz, E``
            (GeV), ``pdg`` (PDG id), ``charge`` (e) and ``vx, vy, vz`` (true production vertex,
            mm; primary vertex at the origin). Neutrinos are ignored if present.
        card: the detector (see :func:`load_card`).
        rng: source of all randomness; the same seed gives the same output.

    Returns:
        Events, each a list of candidates (not pT-ordered) with fields ``px, py, pz, E``
        (float64, GeV), ``charge`` (int8), ``pid`` (int8, :class:`~colliderlab.jets.ParticleID`)
        and ``d0, dz`` (float32, mm; 0 for neutrals). Same number of events as ``particles``.
    """
    missing = [f for f in INPUT_FIELDS if f not in ak.fields(particles)]
    if missing:
        raise ValueError(
            f"apply_detector: particles lack the fields {missing} (need {list(INPUT_FIELDS)})"
        )
    counts = np.asarray(ak.num(particles, axis=1), dtype=np.int64)
    n_events = len(counts)
    col = ak.to_numpy(ak.flatten(particles[list(INPUT_FIELDS)], axis=1))  # structured (n,)
    evt = np.repeat(np.arange(n_events, dtype=np.int64), counts)

    pdg_abs = np.abs(col["pdg"].astype(np.int64))
    visible = ~np.isin(pdg_abs, _NEUTRINOS)
    evt, pdg_abs = evt[visible], pdg_abs[visible]
    col = col[visible]
    p4 = np.stack([col[f] for f in ("E", "px", "py", "pz")], axis=-1).astype(np.float64)  # (n, 4)
    vtx = np.stack([col[f] for f in ("vx", "vy", "vz")], axis=-1).astype(np.float64)  # (n, 3)
    charge = col["charge"].astype(np.float64)
    pt, eta, phi = kin.pt(p4), kin.eta(p4), kin.phi(p4)
    abs_eta = np.abs(eta)

    tracks, tracked = _tracks(card, evt, p4, pt, abs_eta, pdg_abs, charge, vtx, rng)

    # Calorimeter deposits: everything but muons; tracked particles only with energy flow on.
    e_track = np.zeros(len(evt))
    e_track[tracked] = tracks.p4[:, 0]
    deposits = (pdg_abs != 13) & (~tracked | card.charged_in_calo)
    is_em = (pdg_abs == 11) | (pdg_abs == 22)
    parts = [tracks]
    for calo, pid, in_calo in (
        (card.ecal, ParticleID.PHOTON, is_em),
        (card.hcal, ParticleID.NEUTRAL_HADRON, ~is_em),
    ):
        sel = np.flatnonzero(deposits & in_calo & (abs_eta < calo.eta_max))
        parts.append(
            _calorimeter(calo, pid, evt[sel], p4[sel], eta[sel], phi[sel], e_track[sel], rng)
        )

    all_evt = np.concatenate([p.evt for p in parts])
    order = np.argsort(all_evt, kind="stable")
    p4_out = np.concatenate([p.p4 for p in parts])[order]
    fields = {
        "px": p4_out[:, 1],
        "py": p4_out[:, 2],
        "pz": p4_out[:, 3],
        "E": p4_out[:, 0],
        "charge": np.concatenate([p.charge for p in parts])[order],
        "pid": np.concatenate([p.pid for p in parts])[order],
        "d0": np.concatenate([p.d0 for p in parts])[order],
        "dz": np.concatenate([p.dz for p in parts])[order],
    }
    offsets = np.zeros(n_events + 1, np.int64)
    np.cumsum(np.bincount(all_evt, minlength=n_events), out=offsets[1:])
    record = ak.contents.RecordArray(
        [ak.contents.NumpyArray(np.ascontiguousarray(v)) for v in fields.values()], list(fields)
    )
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), record))


# ---------------------------------------------------------------------------------------------
# Event-level objects: lepton isolation, missing transverse momentum, b-tagging
# ---------------------------------------------------------------------------------------------


def _pairs_by_event(a_evt: np.ndarray, b_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (a, b) pair of the same event, b running over ``b_offsets[e]:b_offsets[e+1]``.

    a_evt: (A,) event of each a; b_offsets: (E+1,) first b of each event. Returns (P,), (P,).
    """
    starts = b_offsets[a_evt]
    counts = b_offsets[a_evt + 1] - starts  # (A,)
    ia = np.repeat(np.arange(len(a_evt)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    ib = np.repeat(starts, counts) + np.arange(int(counts.sum())) - first
    return ia, ib


def lepton_isolation(
    cands: ak.Array, lepton_index: np.ndarray, card: IsolationCard
) -> dict[str, np.ndarray]:
    """Relative isolation of chosen candidates against all the other candidates of their event.

    Args:
        cands: (E, var) candidates of :func:`apply_detector` (``px, py, pz, E, charge, pid``).
        lepton_index: (L,) indices into ``ak.flatten(cands)`` of the candidates to isolate.
        card: cone, the pT threshold of the summed candidates and the cut.

    Returns:
        ``charged`` (charged hadrons and other leptons), ``neutral`` (neutral hadrons),
        ``photon`` and ``total`` pT sums inside the cone divided by the candidate's pT, each
        (L,) float64, and ``isolated`` (L,) bool (``total < card.rel_max``).
    """
    lepton_index = np.asarray(lepton_index, np.int64)
    counts = np.asarray(ak.num(cands, axis=1), np.int64)
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat = ak.flatten(cands[["px", "py", "pz", "E", "charge", "pid"]], axis=1)
    p4 = np.stack(
        [ak.to_numpy(flat[f]).astype(np.float64) for f in ("E", "px", "py", "pz")], axis=-1
    )
    pt, eta, phi = kin.pt(p4), kin.eta(p4), kin.phi(p4)
    charge, pid = ak.to_numpy(flat.charge), ak.to_numpy(flat.pid)

    lep_evt = np.searchsorted(offsets, lepton_index, side="right") - 1
    il, ic = _pairs_by_event(lep_evt, offsets)  # (P,), (P,)
    li = lepton_index[il]
    near = (ic != li) & (pt[ic] > card.pt_min)
    near &= kin.delta_r(eta[ic], phi[ic], eta[li], phi[li]) < card.cone
    n = len(lepton_index)
    lep_pt = np.maximum(pt[lepton_index], _TINY)

    def cone_sum(mask: np.ndarray) -> np.ndarray:
        return np.bincount(il[mask], weights=pt[ic][mask], minlength=n) / lep_pt

    out = {
        "charged": cone_sum(near & (charge[ic] != 0)),
        "neutral": cone_sum(near & (charge[ic] == 0) & (pid[ic] != ParticleID.PHOTON)),
        "photon": cone_sum(near & (pid[ic] == ParticleID.PHOTON)),
    }
    out["total"] = out["charged"] + out["neutral"] + out["photon"]
    out["isolated"] = out["total"] < card.rel_max
    return out


def missing_pt(cands: ak.Array) -> np.ndarray:
    """Missing transverse momentum: minus the vector sum of all reconstructed candidates.

    (E, var) candidates -> (E, 2) float64 (px, py) in GeV. Particle-flow MET: every candidate
    after the detector (tracks, calorimeter neutrals, leptons) enters, so neutrinos, particles
    outside the acceptance, inefficiencies and mismeasurements all show up.
    """
    mpx = -np.asarray(ak.sum(cands.px, axis=1), np.float64)
    mpy = -np.asarray(ak.sum(cands.py, axis=1), np.float64)
    return np.stack([mpx, mpy], axis=-1)


def hadron_flavour(pdg: np.ndarray) -> np.ndarray:
    """Heaviest quark flavour of hadrons from their PDG ids: 5 (B hadrons), 4 (C hadrons) or 0.

    Mesons ``n q1 q2 j`` (3 digits) and baryons ``q1 q2 q3 j`` (4 digits); quarkonia count as
    their flavour (J/psi -> 4, Upsilon -> 5). Quarks, leptons and bosons (|id| < 100) and ids
    beyond 10000 give 0. (n,) -> (n,) int8
    """
    a = np.abs(np.asarray(pdg, np.int64))
    hadron = (a > 100) & (a < 10000)
    d2, d3 = (a // 100) % 10, (a // 1000) % 10
    is_b = hadron & ((d2 == 5) | (d3 == 5))
    is_c = hadron & ~is_b & ((d2 == 4) | (d3 == 4))
    return np.where(is_b, 5, np.where(is_c, 4, 0)).astype(np.int8)


def jet_flavour(
    jet_p4: np.ndarray,
    jet_event: np.ndarray,
    hadron_p4: np.ndarray,
    hadron_event: np.ndarray,
    hadron_flav: np.ndarray,
    n_events: int,
    card: BTagCard,
) -> np.ndarray:
    """Truth flavour of jets by Delta R matching to heavy-flavour hadrons of their event.

    A jet is b (5) when a B hadron with pT > ``card.hadron_pt_min`` lies within ``card.match_r``
    (eta-phi) of its axis, else c (4) for a C hadron, else light (0).

    Args:
        jet_p4: (J, 4); jet_event: (J,) event of each jet; hadron_p4: (H, 4); hadron_event: (H,)
        event of each hadron (sorted); hadron_flav: (H,) 4 or 5; n_events: number of events.

    Returns:
        (J,) int8.
    """
    keep = (kin.pt(hadron_p4) > card.hadron_pt_min) & (hadron_flav > 0)
    h_p4, h_evt, h_flav = hadron_p4[keep], hadron_event[keep], hadron_flav[keep]
    order = np.argsort(h_evt, kind="stable")
    h_p4, h_evt, h_flav = h_p4[order], h_evt[order], h_flav[order]
    offsets = np.zeros(n_events + 1, np.int64)
    np.cumsum(np.bincount(h_evt, minlength=n_events), out=offsets[1:])
    ij, ih = _pairs_by_event(np.asarray(jet_event, np.int64), offsets)
    dr = kin.delta_r(kin.eta(jet_p4[ij]), kin.phi(jet_p4[ij]), kin.eta(h_p4[ih]), kin.phi(h_p4[ih]))
    matched = dr < card.match_r
    flav = np.zeros(len(jet_p4), np.int8)
    np.maximum.at(flav, ij[matched], h_flav[ih][matched])  # b beats c
    return flav


def btag_jets(
    jet_pt: np.ndarray,
    jet_abs_eta: np.ndarray,
    flavour: np.ndarray,
    card: BTagCard,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw b-tags: probability ``card.b`` / ``card.c`` / ``card.light`` by truth flavour. (J,) -> (J,) bool"""
    eff = np.where(
        flavour == 5,
        card.b(jet_pt, jet_abs_eta),
        np.where(flavour == 4, card.c(jet_pt, jet_abs_eta), card.light(jet_pt, jet_abs_eta)),
    )
    return rng.random(len(jet_pt)) < eff
