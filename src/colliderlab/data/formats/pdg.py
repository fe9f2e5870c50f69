"""PDG particle data for the formats that store PDG ids (EnergyFlow's quark/gluon jets)."""

from __future__ import annotations

import numpy as np

__all__ = ["pdg_mass", "pdg_charge"]

# Final-state particles (|PDG id|, mass in GeV, charge of the positive id in e), masses as in
# EnergyFlow's PARTICLE_MASSES (Pythia 8 particle data). The quark/gluon files contain photons,
# pi+-, K+-, K_L, n, p, e and mu; the rest covers other stable-particle settings.
_PDG_TABLE = np.array(
    [
        (11, 0.000511, -1),  # e-
        (12, 0.0, 0),  # nu_e
        (13, 0.10566, -1),  # mu-
        (14, 0.0, 0),  # nu_mu
        (16, 0.0, 0),  # nu_tau
        (22, 0.0, 0),  # photon
        (111, 0.13498, 0),  # pi0
        (130, 0.49761, 0),  # K_L
        (211, 0.13957, 1),  # pi+
        (310, 0.49761, 0),  # K_S
        (321, 0.49368, 1),  # K+
        (2112, 0.93957, 0),  # neutron
        (2212, 0.93827, 1),  # proton
        (3112, 1.19745, -1),  # Sigma-
        (3122, 1.11568, 0),  # Lambda
        (3222, 1.18937, 1),  # Sigma+
        (3312, 1.32171, -1),  # Xi-
        (3322, 1.31486, 0),  # Xi0
        (3334, 1.67245, -1),  # Omega-
    ]
)
_PDG_IDS = _PDG_TABLE[:, 0].astype(np.int64)
_PDG_MASSES = _PDG_TABLE[:, 1]
_PDG_CHARGES = _PDG_TABLE[:, 2].astype(np.int8)


def _pdg_mass_charge(pdg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masses (float64, GeV) and charges (int8, e) for PDG ids; unknown ids get 0 and 0."""
    pdg = np.rint(np.asarray(pdg, dtype=np.float64))
    a = np.abs(pdg).astype(np.int64)
    idx = np.clip(np.searchsorted(_PDG_IDS, a), 0, len(_PDG_IDS) - 1)
    known = _PDG_IDS[idx] == a
    mass = np.where(known, _PDG_MASSES[idx], 0.0)
    charge = (np.where(known, _PDG_CHARGES[idx], 0) * np.sign(pdg)).astype(np.int8)
    return mass, charge


def pdg_mass(pdg: np.ndarray) -> np.ndarray:
    """Mass in GeV of final-state particles from their PDG ids (any shape, float or int ids).

    Unknown ids (and 0, the padding) get mass 0, as EnergyFlow's ``pids2ms`` does.
    """
    return _pdg_mass_charge(pdg)[0]


def pdg_charge(pdg: np.ndarray) -> np.ndarray:
    """Electric charge (int8, units of e) of final-state particles from their PDG ids.

    The sign of the id flips the charge (-211 is a pi-, -11 an e+); unknown ids get 0.
    """
    return _pdg_mass_charge(pdg)[1]

