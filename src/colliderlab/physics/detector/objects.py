"""Event-level objects from the candidates: lepton isolation, missing transverse momentum, hadron and
jet flavour, b-tagging."""

from __future__ import annotations

import awkward as ak
import numpy as np

from colliderlab import kinematics as kin
from colliderlab.jets import ParticleID
from colliderlab.physics.detector.cards import _TINY, BTagCard, IsolationCard

__all__ = ["lepton_isolation", "missing_pt", "hadron_flavour", "jet_flavour", "btag_jets"]


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
