"""A vectorised parametric calorimeter shower simulator (GFlash-style EM showers, hadron showers).

Showers are sums of *energy spots* placed in 3-D and summed into the cells of a readout
geometry (a CaloChallenge-style flat voxel vector). Everything is numpy over all spots of a
chunk of showers; the only Python loops run over chunks of showers.

Geometry and materials
----------------------
A :class:`CaloGeometry` is a frozen dataclass with the effective material constants and the
readout layers; named ones live in :data:`CALO_GEOMETRIES` (``calogan``, ``lcd``, ``cms``).
Sampling calorimeters are treated as one homogeneous *effective medium*, with the mixing
rules of the PDG review "Passage of particles through matter" (R.L. Workman et al., PTEP
2022 083C01: radiation length and Moliere radius of mixtures) and of Grindhammer & Peters
(hep-ex/0001020, sampling calorimeters), for layers of thickness d_i, density rho_i and mass
fractions w_i = rho_i d_i / sum_j rho_j d_j::

    1/X0_eff  = sum_i w_i / X0_i                 (X0 in g/cm^2; length = X0_eff / rho_eff)
    1/lam_eff = sum_i w_i / lam_i                (nuclear interaction length, same rule)
    E_c,eff   = X0_eff * sum_i w_i E_c,i / X0_i  (E_c,i = 2.66 (X0_i Z_i / A_i)^1.1 MeV)
    R_M,eff   = E_s X0_eff / E_c,eff             (E_s = 21.2052 MeV; = PDG's mixture rule)
    Z_eff     = sum_i w_i Z_i,  A_eff = sum_i w_i A_i
    f_mip     = rho_a d_a S_a / sum_i rho_i d_i S_i    (S = dE/dx_min in MeV cm^2/g)
    e/mip     = 1 / (1 + 0.007 (Z_passive - Z_active)) (hep-ex/0001020, after Wigmans)
    f_s       = (e/mip) f_mip                          (electron sampling fraction)

Material constants are the PDG "Atomic and Nuclear Properties" values. Coordinates: the
calorimeter front face is the plane z = 0, depth z grows inward (mm); readout cells are
centred on x = y = 0. A cell grid has ``rows`` along x and ``columns`` along y (as the CaloGAN
Geant4 code numbers its cells, ``index = xbin * n_y + ybin``). The flat voxel vector is
layer-major: ``[layer 0 (rows x cols, row-major), layer 1, ...]``.

Electromagnetic showers (Grindhammer-Peters / GFlash, hep-ex/0001020; Geant4
``GVFlashHomoShowerTuning``)
----------------------------------------------------------------------------------------
Per shower of energy E (GeV), y = E / E_c: correlated Gaussian (ln T, ln alpha) with the
means, widths and correlation of the homogeneous parametrisation; the energy profile is the
gamma density ``(1/E) dE/dt = (beta t)^(alpha-1) beta e^(-beta t) / Gamma(alpha)`` in t =
depth/X0 with T = (alpha - 1)/beta. N_s = 93 ln(Z) E^0.876 spots are drawn from the *spot*
profile (T_s = T (0.698 + 0.00212 Z), alpha_s = alpha (0.639 + 0.00334 Z)) as in GFlash, and
each spot carries the energy of the *energy* profile through the self-normalised weight
``w ~ f_E(t) / f_S(t)`` (GFlash deposits the energy-profile integral of a step over the spots of
that step; the weight is the same thing in the limit of small steps). Spots get a radial
distance from the two-component profile (core R_C, tail R_T, weight p; units of R_M, functions
of tau = t/T of the shower) by inverse transform ``r = R sqrt(u / (1 - u))``, and a uniform
azimuth around the shower axis. Electrons and positrons start at the impact point; photons
after an exponential conversion depth of mean 9/7 X0. A pi0 decays isotropically in its rest
frame into two photons (m_pi0 = 134.977 MeV) a distance ``decay_distance`` in front of the
calorimeter (1.5 m: an ATLAS/CMS-like barrel radius), so both photons reach the face at
points separated by ``decay_distance * opening angle`` and shower along their own directions.
For very soft sub-showers (ln y < 3, i.e. below ~0.2 GeV) the profile parameters are those
of ln y = 3 (the parametrisation is not defined there).

Sampling fluctuations
---------------------
Visible energy = f_s x response x deposited energy x g. The fluctuation g is drawn *per spot*:
``g_i ~ Gamma(k, 1/k)`` with ``k = sum_i e_i^2 / (a^2 sum_i e_i)`` per particle (e_i the spot
energies in GeV), so the visible energy of a fully contained shower of energy E has mean
f_s E and relative width exactly a/sqrt(E), while each cell and layer fluctuates with its own
share (sampling fluctuations are local, as in a real sampling calorimeter). With ``a = 0`` the
visible energy is never above f_s E (EM) or f_mip E (any particle). Optional Gaussian
electronic noise per cell (``noise``, GeV) with zero suppression below
``noise_threshold * noise``.

Charged pions
-------------
* First inelastic interaction at a depth drawn from an exponential in the nuclear interaction
  length lambda_I of the medium; before it (and for a pion that does not interact in the
  calorimeter: punch-through) the pion is a MIP track depositing dE/dx_min along the axis.
* At the interaction the remaining energy E' splits into an electromagnetic fraction f_em
  drawn event by event from a Beta distribution of mean ``<f_em> = 1 - (E'/E0)^(k-1)``
  (E0 = 1 GeV, k = 0.82; Gabriel, Groom, Job, Mokhov, Stevenson, NIM A338 (1994) 336; Groom,
  NIM A572 (2007) 633) and concentration ``fem_concentration`` (10: sigma(f_em) = 0.15 at
  f_em = 0.5; a modelling choice).
* The EM part is a GFlash shower of energy f_em E' started at the interaction point.
* The hadronic part (1 - f_em) E' follows the hadronic term of Bock et al. (NIM 186 (1981)
  533; as quoted in Fabjan & Gianotti, Rev. Mod. Phys. 75 (2003) 1243): a gamma profile in
  x = depth/lambda_I of shape a = 0.6165 + 0.3183 ln E' and rate d = 0.9099 - 0.0237 ln E'
  (E' in GeV), with a lateral profile of the same two-component form as the EM one in units
  of lambda_I: core radius 0.1 lambda_I and halo radius 0.3 lambda_I with equal weights (about
  95 % of the energy within 1 lambda_I; a modelling choice after Wigmans, *Calorimetry*, OUP
  2017). Its visible response is ``v_h ~ Beta`` of mean h/e = 1/(e/h) (non-compensation;
  e/h per geometry) and relative width 0.3/sqrt(E_h/GeV) (nuclear binding-energy losses), so
  pions respond below electrons and fluctuate more.
* pi- and pi+ are simulated identically, as are e- and e+.
* Approximations: the EM part is one shower at the first interaction (real pi0s are made all
  through the cascade, so these pion showers are somewhat too narrow and early); the nuclear
  interaction length of protons is used for pions (lambda_pi is ~10-20 % longer); the MIP
  track has no Landau tail beyond the sampling fluctuation; tracks are straight (no field).

Everything is approximate: this is a fast parametric simulator with physical behaviour
(resolution, containment, profiles, pi0 opening angles, e/pi, punch-through), not Geant4.

References: G. Grindhammer, S. Peters, hep-ex/0001020; G. Grindhammer, M. Rudowicz, S. Peters,
NIM A290 (1990) 469; M. Paganini, L. de Oliveira, B. Nachman (CaloGAN), arXiv:1705.02355;
D. Belayneh et al. (LCD calorimeter), arXiv:1912.06794; CMS ECAL, JINST 3 (2008) S08004.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

__all__ = [
    "E_S_MEV",
    "M_PI0",
    "PARTICLES",
    "PDG_IDS",
    "Material",
    "LEAD",
    "LIQUID_ARGON",
    "TUNGSTEN",
    "SILICON",
    "PBWO4",
    "ReadoutLayer",
    "CaloGeometry",
    "sampling_calorimeter",
    "homogeneous_calorimeter",
    "CALO_GEOMETRIES",
    "get_geometry",
    "coarsened_geometry",
    "coarsen",
    "particle_id",
    "CaloShowers",
    "ShowerSpots",
    "simulate",
    "shower_spots",
    "pi0_decay",
    "longitudinal_profile",
    "radial_containment",
    "gflash_mean_profile",
    "gflash_containment",
]

E_S_MEV = 21.2052  # scale energy sqrt(4 pi / alpha) m_e c^2, MeV (PDG Moliere radius)
M_PI0 = 0.134977  # GeV
PDG_IDS: dict[str, int] = {"e-": 11, "e+": -11, "gamma": 22, "pi0": 111, "pi+": 211, "pi-": -211}
PARTICLES = tuple(PDG_IDS)
_NAMES = {v: k for k, v in PDG_IDS.items()}

_LNY_MIN = 3.0  # GFlash parameters frozen below ln(E/E_c) = 3
_HAD_CORE, _HAD_HALO, _HAD_CORE_WEIGHT = 0.1, 0.3, 0.5  # hadronic lateral profile, lambda_I
_HAD_INTRINSIC = 0.3  # relative width of the hadronic visible fraction at 1 GeV
_MAX_CELL_VALUES = 4_000_000  # showers-per-chunk x cells bound (memory of the bincount)


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


def coarsen(showers: CaloShowers, target: str | CaloGeometry) -> CaloShowers:
    """Read simulated showers out with a coarser geometry of the same material.

    Every fine cell's centre is assigned to the target cell containing it (one sparse matrix,
    applied to all showers at once); energy outside the target grid goes to ``overflow``.
    (N, n_fine) -> (N, n_target).
    """
    from scipy import sparse

    fine, tgt = get_geometry(showers.geometry), get_geometry(target)
    xs, ys, zs = [], [], []
    for k, layer in enumerate(fine.layers):
        (nr, nc), (dx, dy) = layer.shape, layer.cell
        r, c = np.meshgrid(np.arange(nr), np.arange(nc), indexing="ij")  # row-major, as the voxels
        xs.append(((r + 0.5 - nr / 2) * dx).ravel())
        ys.append(((c + 0.5 - nc / 2) * dy).ravel())
        zs.append(np.full(nr * nc, 0.5 * (fine.boundaries[k] + fine.boundaries[k + 1])))
    x, y, z = (np.concatenate(v) for v in (xs, ys, zs))
    layer_t, cell_t = tgt._locate(x, y, z)
    inside = cell_t >= 0
    if (layer_t < 0).any():
        raise ValueError(f"{tgt.name!r} is not as deep as {fine.name!r}: it cannot read its showers out")
    n_fine = len(x)
    m = sparse.csr_matrix((np.ones(int(inside.sum())), (np.flatnonzero(inside), cell_t[inside])),
                          shape=(n_fine, tgt.n_cells))
    cells = np.asarray(showers.showers, np.float64)
    coarse = np.asarray(m.T.dot(cells.T).T, np.float32)  # (N, n_target)
    out_m = sparse.csr_matrix((np.ones(int((~inside).sum())), (np.flatnonzero(~inside), layer_t[~inside])),
                              shape=(n_fine, tgt.n_layers))
    overflow = np.asarray(out_m.T.dot(cells.T).T, np.float64)
    if showers.overflow is not None:  # the fine layers' own overflow goes to their target layer
        mids = 0.5 * (fine.boundaries[:-1] + fine.boundaries[1:])
        for k, t in enumerate(tgt.layer_index(mids)):  # loop over layers
            overflow[:, t] += showers.overflow[:, k]
    overflow = overflow.astype(np.float32)
    return CaloShowers(showers.incident_energy, coarse, showers.particle, showers.angle, tgt.name,
                       tgt.layer_shapes, overflow)


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


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------
@dataclass
class CaloShowers:
    """Simulated (or read) showers in a flat voxel layout.

    Attributes:
        incident_energy: (N,) float64, GeV.
        showers: (N, n_cells) float32 visible energy per cell, GeV, layer-major.
        particle: (N,) int32 PDG ids (0: unknown).
        angle: (N,) float32 incidence angle of the shower axis, rad.
        geometry: geometry name.
        layer_shapes: (rows, columns) per layer; looked up from ``geometry`` when None.
        overflow: (N, n_layers) float32 visible energy outside each layer's grid, GeV.
    """

    incident_energy: np.ndarray
    showers: np.ndarray
    particle: np.ndarray
    angle: np.ndarray
    geometry: str
    layer_shapes: tuple[tuple[int, int], ...] | None = None
    overflow: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.layer_shapes is None and self.geometry in CALO_GEOMETRIES:
            self.layer_shapes = CALO_GEOMETRIES[self.geometry].layer_shapes
        if self.layer_shapes is not None:
            self.layer_shapes = tuple((int(a), int(b)) for a, b in self.layer_shapes)
            n_cells = sum(a * b for a, b in self.layer_shapes)
            if self.showers.shape[1] != n_cells:
                raise ValueError(
                    f"showers has {self.showers.shape[1]} cells, layer_shapes "
                    f"{self.layer_shapes} need {n_cells}"
                )

    def __len__(self) -> int:
        return len(self.incident_energy)

    @property
    def n_layers(self) -> int:
        if self.layer_shapes is None:
            raise ValueError(f"layer layout of geometry {self.geometry!r} unknown (layer_shapes)")
        return len(self.layer_shapes)

    @property
    def particle_names(self) -> np.ndarray:
        """(N,) particle names ('unknown' for id 0)."""
        ids, inverse = np.unique(self.particle, return_inverse=True)
        return np.array([_NAMES.get(int(i), "unknown") for i in ids])[inverse.reshape(-1)]

    def _offsets(self) -> np.ndarray:
        if self.layer_shapes is None:
            raise ValueError(f"layer layout of geometry {self.geometry!r} unknown (layer_shapes)")
        return np.concatenate([[0], np.cumsum([a * b for a, b in self.layer_shapes])])

    def layer(self, k: int) -> np.ndarray:
        """(N, rows, columns) image of layer ``k``."""
        off = self._offsets()
        if not 0 <= k < len(off) - 1:
            raise IndexError(f"layer {k} out of range ({len(off) - 1} layers)")
        return self.showers[:, off[k] : off[k + 1]].reshape(len(self), *self.layer_shapes[k])

    def layer_energies(self) -> np.ndarray:
        """(N, n_layers) visible energy per layer (grid only), GeV."""
        off = self._offsets()
        return np.add.reduceat(self.showers, off[:-1], axis=1, dtype=np.float64)

    def total_energy(self, overflow: bool = True) -> np.ndarray:
        """(N,) total visible energy, GeV (with the overflow when ``overflow`` and present)."""
        total = self.showers.sum(axis=1, dtype=np.float64)
        if overflow and self.overflow is not None:
            total += self.overflow.sum(axis=1, dtype=np.float64)
        return total

    def __getitem__(self, idx) -> CaloShowers:
        if isinstance(idx, int | np.integer):
            idx = slice(int(idx), int(idx) + 1 or None)
        return CaloShowers(
            self.incident_energy[idx],
            self.showers[idx],
            self.particle[idx],
            self.angle[idx],
            self.geometry,
            self.layer_shapes,
            None if self.overflow is None else self.overflow[idx],
        )

    @classmethod
    def concatenate(cls, items: Sequence[CaloShowers]) -> CaloShowers:
        """Concatenate showers of one geometry."""
        if not items:
            raise ValueError("nothing to concatenate")
        first = items[0]
        for it in items[1:]:
            if it.geometry != first.geometry or it.layer_shapes != first.layer_shapes:
                raise ValueError(
                    f"cannot concatenate geometries {first.geometry!r} and {it.geometry!r}"
                )
        has_ov = all(it.overflow is not None for it in items)
        return cls(
            np.concatenate([it.incident_energy for it in items]),
            np.concatenate([it.showers for it in items]),
            np.concatenate([it.particle for it in items]),
            np.concatenate([it.angle for it in items]),
            first.geometry,
            first.layer_shapes,
            np.concatenate([it.overflow for it in items]) if has_ov else None,
        )


@dataclass
class ShowerSpots:
    """All energy spots of ``n_events`` showers (for validation and custom readouts).

    Attributes (M spots):
        event: (M,) int64 shower index.
        x, y, z: (M,) float64 position, mm (z = depth from the front face).
        deposit: (M,) energy released by the spot, GeV (incl. invisible nuclear losses).
        energy: (M,) visible energy (sampling fraction, response, fluctuations), GeV.
        t: (M,) depth along the spot's sub-shower axis from the sub-shower start, X0.
        r: (M,) distance from the sub-shower axis, Moliere radii.
        component: (M,) int8: 0 electromagnetic, 1 hadronic, 2 MIP track.
        incident_energy, angle: (n_events,) GeV, rad.
    """

    event: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    deposit: np.ndarray
    energy: np.ndarray
    t: np.ndarray
    r: np.ndarray
    component: np.ndarray
    incident_energy: np.ndarray
    angle: np.ndarray

    @property
    def n_events(self) -> int:
        return len(self.incident_energy)


# --------------------------------------------------------------------------------------------
# GFlash parametrisation
# --------------------------------------------------------------------------------------------
def _gflash_longitudinal(
    energy: np.ndarray, geom: CaloGeometry, z1: np.ndarray, z2: np.ndarray
) -> tuple[np.ndarray, ...]:
    """(T, alpha, beta, T_s, alpha_s, beta_s) of showers of ``energy`` (GeV) for standard
    normal draws ``z1, z2`` (broadcasting). hep-ex/0001020, homogeneous media."""
    y = np.maximum(np.asarray(energy, float) * 1e3 / geom.critical_energy, math.exp(_LNY_MIN))
    lny = np.log(y)
    mu_t = np.log(lny - 0.812)
    sig_t = 1.0 / (-1.4 + 1.26 * lny)
    mu_a = np.log(0.81 + (0.458 + 2.26 / geom.Z) * lny)
    sig_a = 1.0 / (-0.58 + 0.86 * lny)
    rho = 0.705 - 0.023 * lny
    T = np.exp(mu_t + sig_t * z1)
    alpha = np.maximum(np.exp(mu_a + sig_a * (rho * z1 + np.sqrt(1.0 - rho**2) * z2)), 1.1)
    beta = (alpha - 1.0) / T
    T_s = T * (0.698 + 0.00212 * geom.Z)
    alpha_s = np.maximum(alpha * (0.639 + 0.00334 * geom.Z), 1.05)
    beta_s = (alpha_s - 1.0) / T_s
    return T, alpha, beta, T_s, alpha_s, beta_s


def _gflash_radial(
    tau: np.ndarray, log_e: np.ndarray, Z: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Core radius R_C, tail radius R_T (R_M) and core weight p at tau = t/T for showers of
    ln(E/GeV) ``log_e`` (hep-ex/0001020); tau is capped at 30 (far tail)."""
    tau = np.minimum(tau, 30.0)
    r_c = np.maximum((0.0251 + 0.00319 * log_e) + (0.1162 - 0.000381 * Z) * tau, 1e-3)
    k1, k2, k3, k4 = 0.659 - 0.00309 * Z, 0.645, -2.59, 0.3585 + 0.0412 * log_e
    r_t = k1 * (np.exp(k3 * (tau - k2)) + np.exp(k4 * (tau - k2)))
    p1, p2, p3 = 2.632 - 0.00094 * Z, 0.401 + 0.00187 * Z, 1.313 - 0.0686 * log_e
    arg = (p2 - tau) / p3
    p = np.clip(p1 * np.exp(arg - np.exp(arg)), 0.0, 1.0)
    return r_c, r_t, p


def _n_spots(energy: np.ndarray, Z: float) -> np.ndarray:
    """N_s = 93 ln(Z) E^0.876 (E in GeV), at least 1."""
    return np.maximum(1, np.rint(93.0 * math.log(Z) * np.maximum(energy, 0.0) ** 0.876)).astype(
        np.int64
    )


def _lgamma(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.lgamma, otypes=[float])(x)


def _quadrature(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2-D Gauss-Hermite nodes (z1, z2) and weights for the standard bivariate normal."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    z1, z2 = np.meshgrid(x, x, indexing="ij")
    return z1.ravel(), z2.ravel(), np.outer(w, w).ravel()


def gflash_mean_profile(
    geometry: str | CaloGeometry, energy: float, edges: np.ndarray, n_quad: int = 24
) -> np.ndarray:
    """Expected mean longitudinal profile of EM showers of ``energy`` GeV: the fraction of the
    energy in each bin of ``edges`` (X0 from the shower start; (B+1,) -> (B,)), i.e. the gamma
    density averaged over the correlated (ln T, ln alpha) distribution of the parametrisation
    (Gauss-Hermite quadrature; 16 sub-points per bin)."""
    geom = get_geometry(geometry)
    edges = np.asarray(edges, float)
    z1, z2, wq = _quadrature(n_quad)
    _, alpha, beta, *_ = _gflash_longitudinal(np.full_like(z1, energy), geom, z1, z2)
    sub = (np.arange(16) + 0.5) / 16
    t = (edges[:-1, None] + np.diff(edges)[:, None] * sub).ravel()  # (B*16,)
    log_pdf = (
        (alpha[:, None] - 1) * np.log(beta[:, None] * t)
        + np.log(beta[:, None])
        - beta[:, None] * t
        - _lgamma(alpha)[:, None]
    )
    mean_pdf = wq @ np.exp(log_pdf)  # (B*16,)
    return mean_pdf.reshape(-1, 16).mean(axis=1) * np.diff(edges)


def gflash_containment(
    geometry: str | CaloGeometry, energy: float, radii: np.ndarray, n_quad: int = 16
) -> np.ndarray:
    """Expected fraction of the energy of EM showers of ``energy`` GeV within ``radii``
    (Moliere radii) of the shower axis: the integral r^2/(r^2+R^2) of the two-component radial
    profile, weighted by the energy profile and averaged over (ln T, ln alpha)."""
    geom = get_geometry(geometry)
    radii = np.atleast_1d(np.asarray(radii, float))
    z1, z2, wq = _quadrature(n_quad)
    T, alpha, beta, *_ = _gflash_longitudinal(np.full_like(z1, energy), geom, z1, z2)
    # integrate in u = beta t (dimensionless), midpoint rule
    du = 0.01
    u = np.arange(0.5 * du, 80.0, du)
    pdf = np.exp((alpha[:, None] - 1) * np.log(u) - u - _lgamma(alpha)[:, None]) * du  # (Q, U)
    tau = u[None, :] / (beta * T)[:, None]
    r_c, r_t, p = _gflash_radial(tau, math.log(energy), geom.Z)
    out = []
    for r in radii:  # few radii
        frac = p * r**2 / (r**2 + r_c**2) + (1 - p) * r**2 / (r**2 + r_t**2)
        out.append(wq @ (pdf * frac).sum(axis=1) / (wq @ pdf.sum(axis=1)))
    return np.array(out)


# --------------------------------------------------------------------------------------------
# Spot generation
# --------------------------------------------------------------------------------------------
@dataclass
class _Spots:
    event: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    deposit: np.ndarray
    response: np.ndarray
    t: np.ndarray
    r: np.ndarray
    component: np.ndarray

    @classmethod
    def concatenate(cls, parts: list[_Spots]) -> _Spots:
        return cls(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(cls))
        )


def _basis(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors (m, 3) orthogonal to the unit vectors ``axis`` (m, 3) and each other."""
    ref = np.where(np.abs(axis[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    e1 = ref - np.sum(ref * axis, axis=1, keepdims=True) * axis
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    return e1, np.cross(axis, e1)


def _place(
    start: np.ndarray,
    axis: np.ndarray,
    owner: np.ndarray,
    s: np.ndarray,
    r: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (mm) of spots at distance ``s`` along and ``r`` off the axis of their owners
    (uniform azimuth)."""
    e1, e2 = _basis(axis)
    psi = rng.uniform(0.0, 2.0 * np.pi, s.size)
    c, sn = r * np.cos(psi), r * np.sin(psi)
    return tuple(
        start[owner, i] + s * axis[owner, i] + c * e1[owner, i] + sn * e2[owner, i]
        for i in range(3)
    )


def _em_spots(
    geom: CaloGeometry,
    energy: np.ndarray,
    start: np.ndarray,
    axis: np.ndarray,
    event: np.ndarray,
    rng: np.random.Generator,
) -> _Spots:
    """GFlash spots of EM sub-showers of ``energy`` (m,) GeV starting at ``start`` (m, 3) mm
    along unit ``axis`` (m, 3), belonging to showers ``event`` (m,)."""
    m = energy.size
    if m == 0:
        z = np.zeros(0)
        return _Spots(np.zeros(0, np.int64), z, z, z, z, z, z, z, np.zeros(0, np.int8))
    z1, z2 = rng.standard_normal((2, m))
    T, alpha, beta, _, alpha_s, beta_s = _gflash_longitudinal(energy, geom, z1, z2)
    ns = _n_spots(energy, geom.Z)
    owner = np.repeat(np.arange(m), ns)
    first = np.cumsum(ns) - ns
    t = rng.standard_gamma(alpha_s[owner]) / beta_s[owner]  # X0, spot profile
    np.maximum(t, 1e-9, out=t)
    # self-normalised weights f_E(t) / f_S(t) -> the energy profile
    lw = (alpha - alpha_s)[owner] * np.log(t) - (beta - beta_s)[owner] * t
    lw -= np.maximum.reduceat(lw, first)[owner]
    w = np.exp(lw)
    deposit = (energy / np.add.reduceat(w, first))[owner] * w
    del lw, w
    log_e = np.log(np.maximum(energy, 1e-6))
    r_c, r_t, p = _gflash_radial(t / T[owner], log_e[owner], geom.Z)
    u = rng.random(t.size) * (1.0 - 1e-6)
    r = np.where(rng.random(t.size) < p, r_c, r_t) * np.sqrt(u / (1.0 - u))  # R_M
    x, y, z = _place(start, axis, owner, t * geom.X0, r * geom.moliere_radius, rng)
    n = t.size
    return _Spots(event[owner], x, y, z, deposit, np.ones(n), t, r, np.zeros(n, np.int8))


def _photon_spots(
    geom: CaloGeometry,
    energy: np.ndarray,
    entry: np.ndarray,
    axis: np.ndarray,
    event: np.ndarray,
    rng: np.random.Generator,
) -> _Spots:
    """Photons entering at ``entry`` (m, 3): convert after Exp(9/7 X0), then shower."""
    s_conv = rng.exponential(9.0 / 7.0 * geom.X0, energy.size)
    return _em_spots(geom, energy, entry + s_conv[:, None] * axis, axis, event, rng)


def pi0_decay(
    energy: np.ndarray, rng: np.random.Generator, axis: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """pi0 -> gamma gamma, isotropic in the rest frame, boosted along ``axis``.

    Args:
        energy: (n,) pi0 energies, GeV (>= m_pi0).
        rng: random generator.
        axis: (n, 3) unit flight directions (default +z).

    Returns:
        photon energies (n, 2), GeV, and unit directions (n, 2, 3).
    """
    energy = np.asarray(energy, float)
    n = energy.size
    if np.any(energy < M_PI0):
        raise ValueError(f"pi0 energy below its mass {M_PI0} GeV")
    axis = np.tile([0.0, 0.0, 1.0], (n, 1)) if axis is None else np.asarray(axis, float)
    gamma = energy / M_PI0
    one_minus_beta = 1.0 / (gamma**2 * (1.0 + np.sqrt(1.0 - 1.0 / gamma**2)))
    beta = 1.0 - one_minus_beta
    cos_t = rng.uniform(-1.0, 1.0, n)
    sin_t = np.sqrt(1.0 - cos_t**2)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    half = 0.5 * M_PI0
    sign = np.array([1.0, -1.0])  # photon 2 is back to back in the rest frame
    c = cos_t[:, None] * sign  # (n, 2)
    # E = gamma m/2 (1 + beta c), written to avoid the cancellation at c -> -1
    e_ph = gamma[:, None] * half * ((1.0 + c) - one_minus_beta[:, None] * c)
    p_par = gamma[:, None] * half * (c + beta[:, None])
    p_perp = half * sin_t[:, None] * sign
    e1, e2 = _basis(axis)
    direc = (
        p_par[..., None] * axis[:, None, :]
        + (p_perp * np.cos(phi)[:, None])[..., None] * e1[:, None, :]
        + (p_perp * np.sin(phi)[:, None])[..., None] * e2[:, None, :]
    )
    direc /= np.linalg.norm(direc, axis=2, keepdims=True)
    return e_ph, direc


def _pion_spots(
    geom: CaloGeometry,
    energy: np.ndarray,
    origin: np.ndarray,
    axis: np.ndarray,
    rng: np.random.Generator,
) -> list[_Spots]:
    n = energy.size
    events = np.arange(n)
    dedx = geom.dedx * 1e-3  # GeV/mm
    s_int = rng.exponential(geom.interaction_length, n)
    s_exit = geom.depth / axis[:, 2]
    track = np.minimum(np.minimum(s_int, s_exit), energy / dedx)
    e_track = dedx * track
    parts = []
    # MIP track: n_tr spots at the midpoints of equal steps along the axis
    n_tr = int(
        np.clip(math.ceil(geom.depth / (0.25 * min(la.thickness for la in geom.layers))), 4, 200)
    )
    frac = (np.arange(n_tr) + 0.5) / n_tr
    owner = np.repeat(events, n_tr)
    s = (track[:, None] * frac).ravel()
    x, y, z = _place(origin, axis, owner, s, np.zeros_like(s), rng)
    k = owner.size
    parts.append(
        _Spots(
            owner,
            x,
            y,
            z,
            np.repeat(e_track / n_tr, n_tr),
            np.full(k, 1.0 / geom.e_mip),
            s / geom.X0,
            np.zeros(k),
            np.full(k, 2, np.int8),
        )
    )
    shower = np.flatnonzero((s_int < s_exit) & (energy - e_track > 1e-6))
    if shower.size == 0:
        return parts
    e_sh = energy[shower] - e_track[shower]
    start = origin[shower] + s_int[shower, None] * axis[shower]
    ax = axis[shower]
    # electromagnetic fraction (Groom / Gabriel et al.), Beta fluctuations
    mean_fem = np.clip(1.0 - (e_sh / geom.fem_e0) ** (geom.fem_k - 1.0), 0.02, 0.98)
    kappa = geom.fem_concentration
    f_em = rng.beta(mean_fem * kappa, (1.0 - mean_fem) * kappa)
    e_em, e_had = f_em * e_sh, (1.0 - f_em) * e_sh
    parts.append(_em_spots(geom, e_em, start, ax, shower, rng))
    # hadronic part: Bock et al. gamma profile in lambda_I, wide two-component lateral profile
    h = 1.0 / geom.e_over_h
    if h < 1.0:  # Beta: the visible fraction stays below 1
        conc = np.maximum((1.0 - h) * e_had / (h * _HAD_INTRINSIC**2) - 1.0, 1.0)
        v_h = rng.beta(h * conc, (1.0 - h) * conc)
    else:  # compensating (e/h = 1) or over-compensating calorimeter: Gamma around h
        k = np.maximum(e_had, 1e-6) / _HAD_INTRINSIC**2
        v_h = h * rng.standard_gamma(k) / k
    log_e = np.log(e_sh)
    shape = np.maximum(0.6165 + 0.3183 * log_e, 0.2)
    rate = 0.9099 - 0.0237 * log_e
    nh = _n_spots(e_had, geom.Z)
    owner = np.repeat(np.arange(shower.size), nh)
    lam = geom.interaction_length
    s = rng.standard_gamma(shape[owner]) / rate[owner] * lam
    u = rng.random(s.size) * (1.0 - 1e-6)
    radius = np.where(rng.random(s.size) < _HAD_CORE_WEIGHT, _HAD_CORE, _HAD_HALO) * lam
    r = radius * np.sqrt(u / (1.0 - u))
    x, y, z = _place(start, ax, owner, s, r, rng)
    parts.append(
        _Spots(
            shower[owner],
            x,
            y,
            z,
            (e_had / nh)[owner],
            v_h[owner],
            s / geom.X0,
            r / geom.moliere_radius,
            np.ones(s.size, np.int8),
        )
    )
    return parts


def _event_spots(
    geom: CaloGeometry,
    pid: int,
    energy: np.ndarray,
    angle: np.ndarray,
    impact: np.ndarray,
    decay_distance: float,
    rng: np.random.Generator,
) -> _Spots:
    """All spots of showers of one particle type; incidence tilted by ``angle`` in y-z."""
    n = energy.size
    axis = np.column_stack([np.zeros(n), np.sin(angle), np.cos(angle)])
    origin = np.column_stack([impact, np.zeros(n)])
    events = np.arange(n)
    if abs(pid) == 11:
        parts = [_em_spots(geom, energy, origin, axis, events, rng)]
    elif pid == 22:
        parts = [_photon_spots(geom, energy, origin, axis, events, rng)]
    elif pid == 111:
        e_ph, direc = pi0_decay(energy, rng, axis)
        owner = np.repeat(events, 2)
        d = direc.reshape(-1, 3)
        vertex = origin - (decay_distance / axis[:, 2])[:, None] * axis  # z = -decay_distance
        entry = vertex[owner] + (decay_distance / np.maximum(d[:, 2], 1e-9))[:, None] * d
        ok = d[:, 2] > 1e-6  # photons flying away from the calorimeter are lost
        parts = [_photon_spots(geom, e_ph.ravel()[ok], entry[ok], d[ok], owner[ok], rng)]
    else:
        parts = _pion_spots(geom, energy, origin, axis, rng)
    return _Spots.concatenate(parts)


def _visible(geom: CaloGeometry, spots: _Spots, n: int, rng: np.random.Generator) -> np.ndarray:
    """Visible energy per spot with spot-level sampling fluctuations (module docstring)."""
    vis = geom.sampling_fraction * spots.response * spots.deposit
    a = geom.stochastic
    if a > 0 and spots.deposit.size:
        s1 = np.bincount(spots.event, spots.deposit, minlength=n)
        s2 = np.bincount(spots.event, spots.deposit**2, minlength=n)
        k = np.where(s1 > 0, s2 / (a**2 * np.maximum(s1, 1e-300)), 1.0)
        k_spot = k[spots.event]
        vis *= rng.standard_gamma(k_spot) / k_spot
    return vis


def _deposit(
    geom: CaloGeometry, spots: _Spots, vis: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sum spots into (n, n_cells) cells and (n, n_layers) lateral overflow (float64)."""
    layer, cell = geom._locate(spots.x, spots.y, spots.z)
    inside = cell >= 0
    n_cells, n_layers = geom.n_cells, geom.n_layers
    cells = np.bincount(
        spots.event[inside] * n_cells + cell[inside], vis[inside], minlength=n * n_cells
    ).reshape(n, n_cells)
    out = ~inside & (layer >= 0)
    overflow = np.bincount(
        spots.event[out] * n_layers + layer[out], vis[out], minlength=n * n_layers
    ).reshape(n, n_layers)
    if geom.noise > 0:
        cells += rng.normal(0.0, geom.noise, cells.shape)
        cells[cells < geom.noise_threshold * geom.noise] = 0.0
    return cells, overflow


# --------------------------------------------------------------------------------------------
# Public simulation API
# --------------------------------------------------------------------------------------------
def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _draw_energy(energy, n: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(energy, tuple | list) and len(energy) == 2:
        lo, hi = float(energy[0]), float(energy[1])
        if not 0 < lo <= hi:
            raise ValueError(f"energy range must satisfy 0 < lo <= hi, got {energy}")
        e = np.exp(rng.uniform(math.log(lo), math.log(hi), n))
    elif np.ndim(energy) == 0:
        e = np.full(n, float(energy))
    else:
        e = np.asarray(energy, float)
        if e.shape != (n,):
            raise ValueError(f"energy array has shape {e.shape}, expected ({n},)")
    if not np.all(np.isfinite(e)) or np.any(e <= 0):
        raise ValueError("energies must be finite and > 0 GeV")
    return e


def _draw_angle(angle, n: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(angle, tuple | list) and len(angle) == 2:
        a = rng.uniform(float(angle[0]), float(angle[1]), n)
    elif np.ndim(angle) == 0:
        a = np.full(n, float(angle))
    else:
        a = np.asarray(angle, float)
        if a.shape != (n,):
            raise ValueError(f"angle array has shape {a.shape}, expected ({n},)")
    if np.any(np.abs(a) >= 1.4):
        raise ValueError("incidence angles must satisfy |angle| < 1.4 rad")
    return a


def _impact(impact, n: int) -> np.ndarray:
    imp = np.asarray(impact, float)
    if imp.shape == (2,):
        return np.broadcast_to(imp, (n, 2))
    if imp.shape != (n, 2):
        raise ValueError(f"impact has shape {imp.shape}, expected (2,) or ({n}, 2)")
    return imp


def _chunks(geom: CaloGeometry, energy: np.ndarray, max_spots: int) -> list[tuple[int, int]]:
    """Shower ranges with about ``max_spots`` spots and a bounded cell array each."""
    est = np.cumsum(1.1 * _n_spots(energy, geom.Z) + 200.0)
    max_events = max(1, _MAX_CELL_VALUES // geom.n_cells)
    bounds, a = [], 0
    while a < energy.size:
        b = int(np.searchsorted(est, (est[a - 1] if a else 0.0) + max_spots, side="right"))
        b = min(max(b, a + 1), a + max_events, energy.size)
        bounds.append((a, b))
        a = b
    return bounds


def _draw_showers(geometry, particle, n: int, energy, angle, impact, rng):
    """Resolve the arguments shared by :func:`shower_spots` and :func:`simulate` and draw the
    incident energies (n,), angles (n,) and impact points (n, 2)."""
    geom, pid, rng = get_geometry(geometry), particle_id(particle), _as_rng(rng)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    e = _draw_energy(energy, n, rng)
    ang = _draw_angle(angle, n, rng)
    return geom, pid, rng, e, ang, _impact(impact, n)


def _spots_and_visible(geom, pid, e, ang, imp, decay_distance, rng) -> tuple[_Spots, np.ndarray]:
    """The spots of len(e) showers and their visible energies (sampling fluctuations)."""
    sp = _event_spots(geom, pid, e, ang, imp, decay_distance, rng)
    return sp, _visible(geom, sp, len(e), rng)


def shower_spots(
    geometry: str | CaloGeometry,
    particle: str | int,
    n: int,
    *,
    energy=(1.0, 100.0),
    angle=0.0,
    impact=(0.0, 0.0),
    decay_distance: float = 1500.0,
    rng: np.random.Generator | int | None = None,
) -> ShowerSpots:
    """The energy spots of ``n`` showers (one chunk; keep ``n`` moderate). Arguments as
    :func:`simulate`; see :class:`ShowerSpots` for the fields."""
    geom, pid, rng, e, ang, imp = _draw_showers(geometry, particle, n, energy, angle, impact, rng)
    sp, vis = _spots_and_visible(geom, pid, e, ang, imp, decay_distance, rng)
    return ShowerSpots(
        sp.event, sp.x, sp.y, sp.z, sp.deposit, vis, sp.t, sp.r, sp.component, e, ang
    )


def simulate(
    geometry: str | CaloGeometry,
    particle: str | int,
    n: int,
    *,
    energy=(1.0, 100.0),
    angle=0.0,
    impact=(0.0, 0.0),
    decay_distance: float = 1500.0,
    rng: np.random.Generator | int | None = None,
    max_spots: int = 400_000,
) -> CaloShowers:
    """Simulate ``n`` showers of one particle type in a calorimeter.

    Args:
        geometry: a :class:`CaloGeometry` or a name in :data:`CALO_GEOMETRIES`.
        particle: ``"e-", "e+", "gamma", "pi0", "pi+", "pi-"`` or the PDG id.
        n: number of showers.
        energy: ``(lo, hi)`` GeV drawn log-uniformly (default 1-100 GeV), a fixed value or an
            (n,) array.
        angle: incidence angle of the shower axis (rad, tilt in the y-z plane): a value,
            ``(lo, hi)`` drawn uniformly, or an (n,) array.
        impact: (x, y) impact point on the front face, mm, or an (n, 2) array.
        decay_distance: pi0 flight distance in front of the calorimeter, mm.
        rng: ``numpy.random.Generator`` (or a seed); same seed -> same showers.
        max_spots: about how many spots to hold in memory at once (showers are chunked).

    Returns:
        :class:`CaloShowers` with (n, n_cells) float32 visible energies in GeV and the
        (n, n_layers) lateral overflow.
    """
    geom, pid, rng, e, ang, imp = _draw_showers(geometry, particle, n, energy, angle, impact, rng)
    showers = np.zeros((n, geom.n_cells), np.float32)
    overflow = np.zeros((n, geom.n_layers), np.float32)
    for a, b in _chunks(geom, e, max_spots):
        sp, vis = _spots_and_visible(geom, pid, e[a:b], ang[a:b], imp[a:b], decay_distance, rng)
        showers[a:b], overflow[a:b] = _deposit(geom, sp, vis, b - a, rng)
    return CaloShowers(
        e,
        showers,
        np.full(n, pid, np.int32),
        ang.astype(np.float32),
        geom.name,
        geom.layer_shapes,
        overflow,
    )


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------
def longitudinal_profile(
    spots: ShowerSpots, edges: np.ndarray, *, weight: str = "deposit", component: int | None = 0
) -> np.ndarray:
    """Mean over showers of the fraction of each shower's energy in bins of spot depth ``t``
    (X0 from the sub-shower start); ``edges`` (B+1,) -> (B,). ``weight``: ``"deposit"`` or
    ``"energy"`` (visible); ``component``: only spots of that component (None: all)."""
    sel = slice(None) if component is None else spots.component == component
    t, ev, wgt = spots.t[sel], spots.event[sel], getattr(spots, weight)[sel]
    nb = len(edges) - 1
    b = np.searchsorted(edges, t, side="right") - 1
    ok = (b >= 0) & (b < nb)
    hist = np.bincount(ev[ok] * nb + b[ok], wgt[ok], minlength=spots.n_events * nb)
    total = np.bincount(ev, wgt, minlength=spots.n_events)
    keep = total > 0
    return (hist.reshape(-1, nb)[keep] / total[keep, None]).mean(axis=0)


def radial_containment(
    spots: ShowerSpots, radii: np.ndarray, *, weight: str = "deposit", component: int | None = 0
) -> np.ndarray:
    """Mean over showers of the fraction of each shower's energy within ``radii`` (Moliere
    radii) of its (sub-)shower axis; (R,) -> (R,)."""
    sel = slice(None) if component is None else spots.component == component
    r, ev, wgt = spots.r[sel], spots.event[sel], getattr(spots, weight)[sel]
    total = np.bincount(ev, wgt, minlength=spots.n_events)
    keep = total > 0
    out = []
    for rad in np.atleast_1d(radii):
        inside = np.bincount(ev, wgt * (r < rad), minlength=spots.n_events)
        out.append(np.mean(inside[keep] / total[keep]))
    return np.array(out)
