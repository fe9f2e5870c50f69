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

from colliderlab.physics.calo.em import (
    gflash_containment,
    gflash_mean_profile,
    pi0_decay,
)
from colliderlab.physics.calo.geometry import (
    CALO_GEOMETRIES,
    E_S_MEV,
    LEAD,
    LIQUID_ARGON,
    M_PI0,
    PARTICLES,
    PBWO4,
    PDG_IDS,
    SILICON,
    TUNGSTEN,
    CaloGeometry,
    Material,
    ReadoutLayer,
    coarsened_geometry,
    get_geometry,
    homogeneous_calorimeter,
    particle_id,
    sampling_calorimeter,
)
from colliderlab.physics.calo.showers import (
    CaloShowers,
    ShowerSpots,
    coarsen,
)
from colliderlab.physics.calo.simulation import (
    longitudinal_profile,
    radial_containment,
    shower_spots,
    simulate,
)

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
