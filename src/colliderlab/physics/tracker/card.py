"""The silicon tracker card: solenoid field, beam spot, beam pipe, barrel layers and endcap disks
made of planar modules, sensor technology, material budget, efficiency and noise.

A card is a frozen dataclass read from YAML with :func:`colliderlab.configs.from_dict` (every
error names the key at fault). Lengths are in mm, the field in tesla, momenta in GeV. The default
card ``trackml-like`` follows the layout of the TrackML detector (arXiv:1904.06778, its Fig. 2):
a pixel barrel of four layers (r = 32-172 mm) and two pixel endcaps of seven disks, then a
short-strip and a long-strip section, each a barrel and two endcaps; volume ids 7-18 and even
layer ids as in the TrackML files.

A barrel layer is a polygon of ``n_phi`` flat staves whose faces lie at distance ``radius`` from
the beam axis, each stave cut into ``n_z`` modules; an endcap disk holds rings of ``n_phi``
trapezoidal modules in the plane ``z = +-|z|``. Pixel modules measure both local coordinates
(pitch ``pitch_u`` x ``pitch_v`` about 50 um); strip modules measure ``u`` only: a strip is
``pitch_v`` long and the hit's ``v`` is the strip's centre.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from colliderlab.configs import from_dict

__all__ = [
    "TRACKER_CARDS",
    "BarrelLayer",
    "Ring",
    "Volume",
    "SiliconTrackerCard",
    "load_tracker_card",
    "tracker_card_from_dict",
]

TRACKER_CARDS: tuple[str, ...] = ("trackml-like",)
TECHNOLOGIES = ("pixel", "strip")


@dataclass(frozen=True)
class BarrelLayer:
    """One barrel layer: ``n_phi`` staves at distance ``radius`` (mm) from the axis, covering
    ``|z| <= half_length``, each cut into ``n_z`` modules."""

    radius: float
    half_length: float
    n_phi: int
    n_z: int

    def __post_init__(self) -> None:
        if self.radius <= 0 or self.half_length <= 0:
            raise ValueError(f"radius and half_length must be positive, got {self.radius}, {self.half_length}")
        if self.n_phi < 3 or self.n_z < 1:
            raise ValueError(f"a barrel layer needs n_phi >= 3 and n_z >= 1, got {self.n_phi}, {self.n_z}")


@dataclass(frozen=True)
class Ring:
    """A ring of ``n_phi`` trapezoidal modules on an endcap disk, from ``r_min`` to ``r_max`` (mm,
    measured along each module's centre line)."""

    r_min: float
    r_max: float
    n_phi: int

    def __post_init__(self) -> None:
        if not 0 < self.r_min < self.r_max:
            raise ValueError(f"a ring needs 0 < r_min < r_max, got {self.r_min}, {self.r_max}")
        if self.n_phi < 3:
            raise ValueError(f"a ring needs n_phi >= 3, got {self.n_phi}")


@dataclass(frozen=True)
class Volume:
    """A group of layers of one kind and one technology, with the TrackML ``volume_id``.

    A barrel volume lists ``layers``; an endcap volume lists its disks' ``|z|`` in ``disks_z`` on
    the ``side`` (-1 or +1) of the detector, all disks sharing ``rings``. ``x0`` is each layer's
    material budget in radiation lengths at normal incidence (sensor, support and services),
    ``thickness`` the sensor thickness (mm), ``efficiency`` the probability that a crossing makes
    a hit.
    """

    id: int
    kind: str
    technology: str
    pitch_u: float
    pitch_v: float
    thickness: float
    x0: float
    efficiency: float = 1.0
    layers: tuple[BarrelLayer, ...] = ()
    side: int = 0
    disks_z: tuple[float, ...] = ()
    rings: tuple[Ring, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("barrel", "endcap"):
            raise ValueError(f"kind must be 'barrel' or 'endcap', got {self.kind!r}")
        if self.technology not in TECHNOLOGIES:
            raise ValueError(f"technology must be one of {', '.join(TECHNOLOGIES)}, got {self.technology!r}")
        if min(self.pitch_u, self.pitch_v, self.thickness) <= 0 or self.x0 < 0:
            raise ValueError("pitch_u, pitch_v and thickness must be positive and x0 non-negative")
        if not 0 <= self.efficiency <= 1:
            raise ValueError(f"efficiency must be in [0, 1], got {self.efficiency}")
        if self.kind == "barrel" and (self.disks_z or self.rings):
            raise ValueError(f"barrel volume {self.id} takes layers, not disks_z or rings")
        if self.kind == "endcap":
            if self.layers:
                raise ValueError(f"endcap volume {self.id} takes disks_z and rings, not layers")
            if self.side not in (-1, 1):
                raise ValueError(f"endcap volume {self.id} needs side -1 or +1, got {self.side}")
            if self.disks_z and not self.rings:
                raise ValueError(f"endcap volume {self.id} has disks but no rings")
            if any(z <= 0 for z in self.disks_z):
                raise ValueError(f"disks_z are distances |z| > 0, got {list(self.disks_z)}")

    @property
    def n_layers(self) -> int:
        return len(self.layers) if self.kind == "barrel" else len(self.disks_z)


@dataclass(frozen=True)
class BeamSpot:
    """Gaussian spread (mm) of the primary vertices."""

    sigma_xy: float = 0.015
    sigma_z: float = 55.0


@dataclass(frozen=True)
class BeamPipe:
    """A passive cylinder: material (radiation lengths) without hits."""

    radius: float = 25.0
    x0: float = 0.003


@dataclass(frozen=True)
class SiliconTrackerCard:
    """A whole tracker. ``envelope_radius``/``envelope_half_length`` bound the tracked volume:
    a particle leaving it is stopped. Particles below ``min_pt`` (GeV) are not propagated, and a
    particle stops after ``max_crossings`` surface crossings (loopers)."""

    name: str
    b_field: float = 2.0
    beam_spot: BeamSpot = field(default_factory=BeamSpot)
    beam_pipe: BeamPipe = field(default_factory=BeamPipe)
    envelope_radius: float = 1100.0
    envelope_half_length: float = 3100.0
    min_pt: float = 0.1
    max_crossings: int = 40
    noise_per_module: float = 0.0
    volumes: tuple[Volume, ...] = ()

    def __post_init__(self) -> None:
        if self.b_field <= 0:
            raise ValueError(f"b_field must be positive (tesla along +z), got {self.b_field}")
        if self.min_pt <= 0 or self.max_crossings < 1 or self.noise_per_module < 0:
            raise ValueError("min_pt must be positive, max_crossings >= 1 and noise_per_module >= 0")
        if not any(v.n_layers for v in self.volumes):
            raise ValueError(f"tracker card {self.name!r} has no layers: give at least one volume with "
                             "barrel layers or endcap disks")
        ids = [v.id for v in self.volumes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"volume ids must be unique, got {ids}")
        for v in self.volumes:
            for layer in v.layers:
                if layer.radius >= self.envelope_radius or layer.half_length > self.envelope_half_length:
                    raise ValueError(f"a layer of volume {v.id} lies outside the envelope")
            for ring in v.rings:
                if ring.r_max >= self.envelope_radius:
                    raise ValueError(f"a ring of volume {v.id} lies outside the envelope")
            if any(z >= self.envelope_half_length for z in v.disks_z):
                raise ValueError(f"a disk of volume {v.id} lies outside the envelope")


def tracker_card_from_dict(mapping: dict) -> SiliconTrackerCard:
    """A card from its mapping (YAML), every error naming the key at fault."""
    return from_dict(SiliconTrackerCard, mapping)


def load_tracker_card(name_or_path: str | os.PathLike) -> SiliconTrackerCard:
    """A built-in card by name (:data:`TRACKER_CARDS`) or a YAML file."""
    text: str
    if str(name_or_path) in TRACKER_CARDS:
        text = resources.files("colliderlab.physics.tracker").joinpath(f"cards/{name_or_path}.yaml").read_text()
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ValueError(f"unknown tracker card {str(name_or_path)!r}: not a file, and the built-in "
                             f"cards are {', '.join(TRACKER_CARDS)}")
        text = path.read_text()
    mapping = yaml.safe_load(text)
    if not isinstance(mapping, dict):
        raise ValueError(f"tracker card {str(name_or_path)!r} is not a mapping")
    return tracker_card_from_dict(mapping)
