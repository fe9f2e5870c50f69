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

from colliderlab.physics.detector.cards import (
    CARDS,
    BTagCard,
    CaloResolution,
    CalorimeterCard,
    DetectorCard,
    EfficiencyMap,
    ImpactParameterResolution,
    IsolationCard,
    PtResolution,
    TrackEfficiency,
    TrackerCard,
    TrackResolution,
    card_from_dict,
    card_to_dict,
    load_card,
)
from colliderlab.physics.detector.objects import (
    btag_jets,
    hadron_flavour,
    jet_flavour,
    lepton_isolation,
    missing_pt,
)
from colliderlab.physics.detector.response import (
    INPUT_FIELDS,
    apply_detector,
)

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
