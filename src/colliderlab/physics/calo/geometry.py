"""Calorimeter geometries: materials (effective media of sampling calorimeters), readout layers,
the named geometries of :data:`CALO_GEOMETRIES` and particle ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

__all__ = ["E_S_MEV", "M_PI0", "PARTICLES", "PDG_IDS", "Material", "LEAD", "LIQUID_ARGON", "TUNGSTEN", "SILICON", "PBWO4", "ReadoutLayer", "CaloGeometry", "sampling_calorimeter", "homogeneous_calorimeter", "CALO_GEOMETRIES", "get_geometry", "coarsened_geometry", "particle_id"]


E_S_MEV = 21.2052  # scale energy sqrt(4 pi / alpha) m_e c^2, MeV (PDG Moliere radius)
M_PI0 = 0.134977  # GeV
PDG_IDS: dict[str, int] = {"e-": 11, "e+": -11, "gamma": 22, "pi0": 111, "pi+": 211, "pi-": -211}
PARTICLES = tuple(PDG_IDS)
_NAMES = {v: k for k, v in PDG_IDS.items()}


# --------------------------------------------------------------------------------------------
# Materials and geometries
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Material:
    """A pure material or compound (PDG "Atomic and Nuclear Properties" values).

    Attributes: ``Z``, ``A`` (g/mol; effective for compounds), ``density`` (g/cm^3),
    ``X0`` and ``lambda_I`` (radiation and nuclear interaction lengths, g/cm^2) and ``dedx``
    (minimum ionisation, MeV cm^2/g).
    """

    name: str
    Z: float
    A: float
    density: float
    X0: float
    lambda_I: float
    dedx: float

    @property
    def critical_energy(self) -> float:
        """E_c = 2.66 (X0 Z / A)^1.1 MeV (X0 in g/cm^2; hep-ex/0001020)."""
        return 2.66 * (self.X0 * self.Z / self.A) ** 1.1


LEAD = Material("Pb", 82.0, 207.2, 11.35, 6.37, 199.6, 1.122)
# density 1.390 g/cm^3 as in the CaloGAN Geant4 set-up (PDG: 1.396)
LIQUID_ARGON = Material("LAr", 18.0, 39.948, 1.390, 19.55, 119.7, 1.508)
TUNGSTEN = Material("W", 74.0, 183.84, 19.3, 6.76, 191.9, 1.145)
SILICON = Material("Si", 14.0, 28.0855, 2.329, 21.82, 108.4, 1.664)
# PbWO4 (CMS crystals, 8.28 g/cm^3); Z, A: mass-weighted over Pb, W, O (w = 0.455, 0.404, 0.141)
PBWO4 = Material("PbWO4", 68.4, 170.9, 8.28, 7.39, 168.3, 1.229)


@dataclass(frozen=True)
class ReadoutLayer:
    """One longitudinal readout layer: ``thickness`` (mm), ``shape`` (rows along x, columns
    along y) and ``cell`` size (dx, dy) in mm; the grid is centred on x = y = 0."""

    thickness: float
    shape: tuple[int, int]
    cell: tuple[float, float]

    @property
    def n_cells(self) -> int:
        return self.shape[0] * self.shape[1]


@dataclass(frozen=True)
class CaloGeometry:
    """A calorimeter: effective material constants and readout layers (see module docstring).

    Attributes:
        name: geometry name.
        layers: readout layers, front to back.
        X0, moliere_radius, interaction_length: effective lengths, mm.
        critical_energy: effective E_c, MeV.
        Z, A: effective atomic number and mass.
        dedx: mean minimum-ionisation loss of the medium, MeV/mm.
        sampling_fraction: visible / deposited energy for electrons (f_s; 1 if homogeneous).
        e_mip: e/mip ratio (f_s = e_mip * f_mip).
        stochastic: stochastic term a of sigma/E = a/sqrt(E/GeV).
        noise: Gaussian noise per cell, GeV (0: none); cells below ``noise_threshold * noise``
            are zeroed when noise is on.
        e_over_h: e/h (non-compensation) for the hadronic part of pion showers.
        fem_e0, fem_k: <f_em> = 1 - (E/fem_e0)^(fem_k - 1), fem_e0 in GeV.
        fem_concentration: Beta concentration of the event-by-event f_em.
        description: where the numbers come from.
    """

    name: str
    layers: tuple[ReadoutLayer, ...]
    X0: float
    moliere_radius: float
    critical_energy: float
    Z: float
    A: float
    interaction_length: float
    dedx: float
    sampling_fraction: float
    e_mip: float
    stochastic: float
    noise: float = 0.0
    noise_threshold: float = 2.0
    e_over_h: float = 1.5
    fem_e0: float = 1.0
    fem_k: float = 0.82
    fem_concentration: float = 10.0
    description: str = field(default="", compare=False)

    # -- derived quantities ------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def depth(self) -> float:
        """Total depth, mm."""
        return float(sum(layer.thickness for layer in self.layers))

    @property
    def mip_fraction(self) -> float:
        """MIP sampling fraction f_mip = f_s / (e/mip)."""
        return self.sampling_fraction / self.e_mip

    @property
    def layer_shapes(self) -> tuple[tuple[int, int], ...]:
        return tuple(tuple(layer.shape) for layer in self.layers)

    @property
    def n_cells(self) -> int:
        return sum(layer.n_cells for layer in self.layers)

    @cached_property
    def layer_offsets(self) -> np.ndarray:
        """(n_layers + 1,) start of each layer in the flat voxel vector (and the total)."""
        return np.concatenate([[0], np.cumsum([layer.n_cells for layer in self.layers])])

    @cached_property
    def boundaries(self) -> np.ndarray:
        """(n_layers + 1,) depths of the layer boundaries, mm (0 = front face)."""
        return np.concatenate([[0.0], np.cumsum([layer.thickness for layer in self.layers])])

    def layer_slice(self, k: int) -> slice:
        """The voxels of layer ``k`` in the flat vector."""
        if not 0 <= k < self.n_layers:
            raise IndexError(f"layer {k} out of range for {self.name!r} ({self.n_layers} layers)")
        return slice(int(self.layer_offsets[k]), int(self.layer_offsets[k + 1]))

    def layer_index(self, z: np.ndarray) -> np.ndarray:
        """Readout layer of depths ``z`` (mm), shape as ``z``; -1 in front of or behind the
        calorimeter."""
        z = np.asarray(z, dtype=float)
        k = np.searchsorted(self.boundaries, z, side="right") - 1
        return np.where((z >= 0) & (z < self.depth), k, -1)

    def cell_index(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Flat voxel index of points (x, y, z) in mm, shape as the inputs (int64).

        ``index = layer_offset[layer] + row * n_columns[layer] + column`` with row along x and
        column along y, counted from the -x/-y edge of the (centred) grid; -1 where the point
        is outside the calorimeter depth or outside its layer's grid.
        """
        return self._locate(np.asarray(x, float), np.asarray(y, float), np.asarray(z, float))[1]

    @cached_property
    def _tables(self) -> tuple[np.ndarray, ...]:
        rows = np.array([layer.shape[0] for layer in self.layers])
        cols = np.array([layer.shape[1] for layer in self.layers])
        dx = np.array([layer.cell[0] for layer in self.layers], float)
        dy = np.array([layer.cell[1] for layer in self.layers], float)
        return rows, cols, dx, dy, -0.5 * rows * dx, -0.5 * cols * dy

    def _locate(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(layer, flat cell) of points; layer -1 outside in depth, cell -1 outside the grid."""
        rows, cols, dx, dy, x0, y0 = self._tables
        layer = self.layer_index(z)
        k = np.maximum(layer, 0)
        row = np.floor((x - x0[k]) / dx[k]).astype(np.int64)
        col = np.floor((y - y0[k]) / dy[k]).astype(np.int64)
        inside = (layer >= 0) & (row >= 0) & (row < rows[k]) & (col >= 0) & (col < cols[k])
        cell = self.layer_offsets[k] + row * cols[k] + col
        return layer, np.where(inside, cell, -1)


def sampling_calorimeter(
    name: str,
    absorber: Material,
    d_absorber: float,
    active: Material,
    d_active: float,
    layers: Sequence[ReadoutLayer],
    *,
    stochastic: float,
    **kwargs,
) -> CaloGeometry:
    """A sampling calorimeter of repeated (absorber ``d_absorber`` mm + active ``d_active`` mm)
    cells, as an effective medium with the PDG / Grindhammer-Peters mixing rules (module
    docstring). ``kwargs`` go to :class:`CaloGeometry` (noise, e_over_h, description, ...)."""
    mats = (absorber, active)
    d = np.array([d_absorber, d_active], float)
    rho = np.array([m.density for m in mats])
    mass = d * rho
    w = mass / mass.sum()
    rho_eff = mass.sum() / d.sum()
    x0_g = 1.0 / sum(wi / m.X0 for wi, m in zip(w, mats, strict=True))
    lam_g = 1.0 / sum(wi / m.lambda_I for wi, m in zip(w, mats, strict=True))
    e_c = x0_g * sum(wi * m.critical_energy / m.X0 for wi, m in zip(w, mats, strict=True))
    x0_mm = 10.0 * x0_g / rho_eff
    loss = mass * np.array([m.dedx for m in mats])  # MIP loss per layer: rho d dE/dx
    f_mip = loss[1] / loss.sum()
    e_mip = 1.0 / (1.0 + 0.007 * (absorber.Z - active.Z))
    return CaloGeometry(
        name=name,
        layers=tuple(layers),
        X0=x0_mm,
        moliere_radius=E_S_MEV * x0_mm / e_c,
        critical_energy=e_c,
        Z=float(np.dot(w, [m.Z for m in mats])),
        A=float(np.dot(w, [m.A for m in mats])),
        interaction_length=10.0 * lam_g / rho_eff,
        dedx=float(loss.sum() / d.sum() / 10.0),
        sampling_fraction=float(e_mip * f_mip),
        e_mip=float(e_mip),
        stochastic=stochastic,
        **kwargs,
    )


def homogeneous_calorimeter(
    name: str,
    material: Material,
    layers: Sequence[ReadoutLayer],
    *,
    stochastic: float,
    X0: float | None = None,
    moliere_radius: float | None = None,
    **kwargs,
) -> CaloGeometry:
    """A homogeneous (fully active) calorimeter; ``X0`` / ``moliere_radius`` (mm) override the
    values derived from ``material`` (E_c then follows as E_s X0 / R_M)."""
    x0 = X0 if X0 is not None else 10.0 * material.X0 / material.density
    if moliere_radius is None:
        e_c = material.critical_energy
        moliere_radius = E_S_MEV * x0 / e_c
    else:
        e_c = E_S_MEV * x0 / moliere_radius
    return CaloGeometry(
        name=name,
        layers=tuple(layers),
        X0=x0,
        moliere_radius=moliere_radius,
        critical_energy=e_c,
        Z=material.Z,
        A=material.A,
        interaction_length=10.0 * material.lambda_I / material.density,
        dedx=material.dedx * material.density / 10.0,
        sampling_fraction=1.0,
        e_mip=1.0,
        stochastic=stochastic,
        **kwargs,
    )


def _named_geometries() -> dict[str, CaloGeometry]:
    calogan = sampling_calorimeter(
        "calogan",
        LEAD,
        2.0,
        LIQUID_ARGON,
        4.0,
        (
            ReadoutLayer(90.0, (3, 96), (160.0, 5.0)),
            ReadoutLayer(347.0, (12, 12), (40.0, 40.0)),
            ReadoutLayer(43.0, (12, 6), (40.0, 80.0)),
        ),
        stochastic=0.10,
        e_over_h=1.5,
        description=(
            "CaloGAN ECAL (arXiv:1705.02355): 80 x (2 mm Pb + 4 mm LAr), readout layers 90/347/43 "
            "mm, 480 x 480 mm grids; a = 10%/sqrt(E) (ATLAS LAr EM design, CERN/LHCC 96-41; "
            "2.7% sqrt(d_LAr[mm]/f_mip) = 10.8%, Fabjan & Gianotti RMP 75 (2003) 1243)"
        ),
    )
    # LCD (arXiv:1912.06794) cut-out of the CLIC ECAL: 25 layers of W + Si with 5.1 x 5.1 mm
    # pads; CLIC has 17 x 2.4 mm + 8 x 4.8 mm W (23 X0); here 25 equal layers of 3.168 mm W
    # (same total W) + 0.5 mm Si.
    lcd = sampling_calorimeter(
        "lcd",
        TUNGSTEN,
        3.168,
        SILICON,
        0.5,
        tuple(ReadoutLayer(3.668, (25, 25), (5.1, 5.1)) for _ in range(25)),
        stochastic=0.165,
        e_over_h=1.5,
        description=(
            "LCD/CLIC W-Si ECAL cube (arXiv:1912.06794; CLIC CDR arXiv:1202.5940): 25x25x25 cells "
            "of 5.1 x 5.1 mm, 25 uniform layers of 3.168 mm W + 0.5 mm Si (22.7 X0); a = 16.5% "
            "(CALICE SiW ECAL, arXiv:0811.2354)"
        ),
    )
    cms = homogeneous_calorimeter(
        "cms",
        PBWO4,
        (ReadoutLayer(25.8 * 8.9, (5, 5), (22.0, 22.0)),),
        stochastic=0.028,
        X0=8.9,
        moliere_radius=22.0,
        e_over_h=2.0,
        description=(
            "CMS-like PbWO4 crystals (JINST 3 (2008) S08004): 5x5 crystals of 22 mm, 25.8 X0 "
            "(230 mm), X0 = 8.9 mm, R_M = 22 mm; a = 2.8% (test beam, JINST 2 (2007) P04004); "
            "noise ~0.04 GeV/crystal if enabled"
        ),
    )
    # The fine LCD cube read out at coarser granularity (same material, same showers): the
    # granularity study of issue #5. Cell sizes in Moliere radii (lcd: R_M = 10.5 mm) follow the
    # detectors they imitate.
    lcd_atlas = coarsened_geometry(lcd, "lcd-atlas", (
        (0, 5, (1, 8)),    # front: strips, fine in x (5.1 mm), 40.8 mm in y (ATLAS strips 0.003 x 0.1)
        (5, 22, (2, 2)),   # middle: 10.2 mm squares, ~1 R_M (ATLAS middle 0.025 x 0.025)
        (22, 25, (4, 2)),  # back: 20.4 x 10.2 mm (ATLAS back 0.05 x 0.025)
    ), "ATLAS-like readout of the LCD cube: 3 longitudinal layers (4.6 / 15.6 / 2.7 X0), strips "
       "in front, ~1 R_M cells in the middle, coarse back")
    lcd_cms = coarsened_geometry(lcd, "lcd-cms", ((0, 25, (2, 2)),),
                                 "CMS-like readout of the LCD cube: one longitudinal layer (crystals), "
                                 "~1 R_M cells (CMS: 22 mm crystals, R_M = 22 mm)")
    return {g.name: g for g in (calogan, lcd, cms, lcd_atlas, lcd_cms)}


def coarsened_geometry(
    fine: CaloGeometry, name: str, groups: Sequence[tuple[int, int, tuple[int, int]]], description: str = ""
) -> CaloGeometry:
    """``fine`` with layers ``[start, stop)`` summed into one readout layer each and cells merged
    ``(fx, fy)`` at a time laterally (grids grow to cover the fine grid). Same material."""
    layers = []
    for start, stop, (fx, fy) in groups:
        base = fine.layers[start]
        nr, nc = -(-base.shape[0] // fx), -(-base.shape[1] // fy)
        thickness = sum(layer.thickness for layer in fine.layers[start:stop])
        layers.append(ReadoutLayer(thickness, (nr, nc), (base.cell[0] * fx, base.cell[1] * fy)))
    return replace(fine, name=name, layers=tuple(layers), description=description or f"{fine.name}, coarsened")


CALO_GEOMETRIES: dict[str, CaloGeometry] = _named_geometries()


def get_geometry(geometry: str | CaloGeometry) -> CaloGeometry:
    """Resolve a geometry name (listing the valid ones when unknown) or pass a config through."""
    if isinstance(geometry, CaloGeometry):
        return geometry
    try:
        return CALO_GEOMETRIES[geometry]
    except KeyError:
        raise ValueError(
            f"unknown calorimeter geometry {geometry!r}; valid: {sorted(CALO_GEOMETRIES)}"
        ) from None


def particle_id(particle: str | int) -> int:
    """PDG id of a particle name (``e-, e+, gamma, pi0, pi+, pi-``) or a supported PDG id."""
    if isinstance(particle, str):
        if particle not in PDG_IDS:
            raise ValueError(f"unknown particle {particle!r}; valid: {list(PARTICLES)}")
        return PDG_IDS[particle]
    pid = int(particle)
    if pid not in _NAMES:
        raise ValueError(f"unsupported PDG id {pid}; valid: {PDG_IDS}")
    return pid
