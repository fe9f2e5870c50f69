"""Reconstruction, on the parametric detector's candidates (:mod:`colliderlab.physics.detector`):
identified electrons and muons with pT > 10 GeV and |eta| < 2.5, isolated when their relative
isolation (cone 0.3, the card's ``isolation``) is below the card's cut; anti-kT R = 0.4 jets of
all the other candidates with pT > 30 GeV and |eta| < 2.4, b-tagged with the card's maps from
their B/C-hadron-matched truth flavour; particle-flow MET (minus the vector sum of all
candidates). The trigger: at least one isolated identified e or mu with pT > 23 GeV.

High-level features (:data:`FEATURE_NAMES`), the list of arXiv:1811.10276 section 2 as we read
it, plus the lepton's eta. The "trigger lepton" is the leading isolated lepton:

======================  ===================================================================
``lep_pt``, ``lep_eta``  trigger lepton pT (GeV) and eta
``lep_charge``           its charge (+-1)
``lep_is_ele``           1 for an electron, 0 for a muon
``lep_iso_ch``           its isolation from charged candidates (relative, cone 0.3)
``lep_iso_neu``          ... from neutral hadrons
``lep_iso_gamma``        ... from photons
``ht``                   scalar pT sum of the jets
``n_jets``               number of jets
``m_jets``               invariant mass of all jets together
``n_bjets``              number of b-tagged jets
``met_par``              MET component along the trigger lepton's pT
``met_perp``             MET component perpendicular to it (signed)
``mt``                   transverse mass of the trigger lepton and MET
``n_mu``, ``m_mu``       number of isolated muons, their combined invariant mass
``pt_mu``                magnitude of their vector pT sum
``n_ele``, ``m_ele``     the same for isolated electrons
``pt_ele``
``n_charged``            number of charged candidates (tracks)
``n_neutral``            number of neutral-hadron candidates
``n_photon``             number of photon candidates
======================  ===================================================================

Vectorised over the events of a chunk (numpy/awkward, FastJet on the whole chunk at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from colliderlab import kinematics as kin
from colliderlab.jets import ParticleID
from colliderlab.physics.sm_events.config import FEATURE_NAMES, EventConfig

__all__ = ["reconstruct_events"]


def _flat_p4(arr: ak.Array) -> np.ndarray:
    """(E, var) records with px, py, pz, E -> (n, 4) float64 (E, px, py, pz)."""
    return np.stack(
        [ak.to_numpy(ak.flatten(arr[f])).astype(np.float64) for f in ("E", "px", "py", "pz")],
        axis=-1,
    )


def _pad(evt: np.ndarray, key: np.ndarray, values: np.ndarray, n_events: int, k: int) -> np.ndarray:
    """Scatter per-object rows into (n_events, k, C), ordered by decreasing ``key`` in each event.

    evt: (n,) event of each object; key: (n,); values: (n, C). Extra objects are dropped.
    """
    out = np.zeros((n_events, k, values.shape[1]), np.float32)
    if len(evt) == 0:
        return out
    order = np.lexsort((-key, evt))
    evt_s = evt[order]
    counts = np.bincount(evt_s, minlength=n_events)
    rank = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    keep = rank < k
    out[evt_s[keep], rank[keep]] = values[order][keep]
    return out


def _sum_mass_pt(
    evt: np.ndarray, p4: np.ndarray, n_events: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per event: the number of objects, the invariant mass and |pT| of their four-momentum sum."""
    total = np.zeros((n_events, 4))
    np.add.at(total, evt, p4)
    n = np.bincount(evt, minlength=n_events)
    return n, kin.mass(total), kin.pt(total)


@dataclass
class _Candidates:
    """A chunk's detector candidates, flattened: ``evt`` (n,) event of each, ``p4`` (n, 4)
    (E, px, py, pz), ``pid``, ``charge``, ``pt``, ``eta``, ``phi`` (n,)."""

    cands: ak.Array
    n_events: int
    counts: np.ndarray
    evt: np.ndarray
    p4: np.ndarray
    pid: np.ndarray
    charge: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray


def _flatten(cands: ak.Array) -> _Candidates:
    n_events = len(cands)
    counts = np.asarray(ak.num(cands, axis=1), np.int64)
    evt = np.repeat(np.arange(n_events), counts)
    p4 = _flat_p4(cands)  # (n, 4)
    pid = ak.to_numpy(ak.flatten(cands.pid)).astype(np.int64)
    charge = ak.to_numpy(ak.flatten(cands.charge)).astype(np.float64)
    pt, eta, phi = kin.pt(p4), kin.eta(p4), kin.phi(p4)
    return _Candidates(cands, n_events, counts, evt, p4, pid, charge, pt, eta, phi)


@dataclass
class _Leptons:
    """The isolated identified leptons: ``idx`` (L,) into the flat candidates, their ``iso``
    dict, ``evt``, ``pt``, ``is_e``, ``is_mu`` (L,); per event, ``has`` (E,) a trigger lepton
    and ``li`` (E,) its index into ``idx`` (0 where none)."""

    idx: np.ndarray
    iso: dict[str, np.ndarray]
    evt: np.ndarray
    pt: np.ndarray
    is_e: np.ndarray
    is_mu: np.ndarray
    has: np.ndarray
    li: np.ndarray


def _leptons(c: _Candidates, config: EventConfig, card: Any) -> tuple[_Leptons, dict[str, np.ndarray]]:
    """Identified, in-acceptance, isolated leptons; returns them and the padded ``electrons``,
    ``muons`` and the ``triggered`` flags."""
    from colliderlab.physics.detector import lepton_isolation

    lep_idx = np.flatnonzero(
        ((c.pid == ParticleID.ELECTRON) | (c.pid == ParticleID.MUON))
        & (c.pt > config.lepton_pt_min)
        & (np.abs(c.eta) < config.lepton_eta_max)
    )
    iso = lepton_isolation(c.cands, lep_idx, card.isolation)
    good = iso["isolated"]
    lep_idx = lep_idx[good]
    iso = {k: v[good] for k, v in iso.items()}
    l_evt, l_pt, l_pid = c.evt[lep_idx], c.pt[lep_idx], c.pid[lep_idx]
    l_rows = np.stack([l_pt, c.eta[lep_idx], c.phi[lep_idx], c.charge[lep_idx], iso["total"]], axis=-1)
    is_e, is_mu = l_pid == ParticleID.ELECTRON, l_pid == ParticleID.MUON
    out = {
        "electrons": _pad(l_evt[is_e], l_pt[is_e], l_rows[is_e], c.n_events, config.max_electrons),
        "muons": _pad(l_evt[is_mu], l_pt[is_mu], l_rows[is_mu], c.n_events, config.max_muons),
        "triggered": np.zeros(c.n_events, bool),
    }
    out["triggered"][l_evt[l_pt > config.trigger_pt]] = True

    # The trigger lepton: the leading isolated lepton of each event (index into lep_idx, -1 if none).
    lead = np.full(c.n_events, -1)
    if len(lep_idx):
        order = np.lexsort((-l_pt, l_evt))
        first = np.r_[True, l_evt[order][1:] != l_evt[order][:-1]]
        lead[l_evt[order][first]] = order[first]
    return _Leptons(lep_idx, iso, l_evt, l_pt, is_e, is_mu, lead >= 0, np.maximum(lead, 0)), out


def _jets(c: _Candidates, lep_idx: np.ndarray, config: EventConfig) -> tuple[np.ndarray, ...]:
    """Anti-kT jets of every candidate except the isolated leptons, in the jet acceptance:
    ``j_evt`` (J,), ``j_p4`` (J, 4), ``j_pt`` and ``j_eta`` (J,)."""
    import fastjet
    import vector

    from colliderlab.physics.clustering import cluster_sequence

    not_lep = np.ones(len(c.p4), bool)
    not_lep[lep_idx] = False
    jet_in = c.cands[ak.unflatten(not_lep, c.counts)]
    vector.register_awkward()
    vecs = ak.zip(
        {"px": jet_in.px, "py": jet_in.py, "pz": jet_in.pz, "E": jet_in.E}, with_name="Momentum4D"
    )
    cs = cluster_sequence(
        vecs, fastjet.JetDefinition(fastjet.antikt_algorithm, config.jet_r)
    )
    jets = cs.inclusive_jets(min_pt=config.jet_pt_min)
    j_evt = np.repeat(np.arange(c.n_events), np.asarray(ak.num(jets), np.int64))
    j_p4 = _flat_p4(jets).reshape(-1, 4)
    j_pt, j_eta = kin.pt(j_p4), kin.eta(j_p4)
    sel = (j_pt > config.jet_pt_min) & (np.abs(j_eta) < config.jet_eta_max)
    return j_evt[sel], j_p4[sel], j_pt[sel], j_eta[sel]


def _btags(
    jets: tuple[np.ndarray, ...], prt: ak.Array, n_events: int, card: Any, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Truth flavour from B/C hadrons anywhere in the record, then b-tags of ``jets`` (as
    :func:`_jets` returns them): ``flav``, ``tag`` (J,)."""
    from colliderlab.physics.detector import btag_jets, hadron_flavour, jet_flavour

    j_evt, j_p4, j_pt, j_eta = jets
    flat_prt = ak.flatten(prt)
    h_flav = hadron_flavour(ak.to_numpy(flat_prt.id))
    heavy = np.flatnonzero(h_flav > 0)
    h_evt = np.repeat(np.arange(n_events), np.asarray(ak.num(prt), np.int64))[heavy]
    h_p4 = np.stack(
        [ak.to_numpy(getattr(flat_prt.p, c))[heavy] for c in ("e", "px", "py", "pz")], axis=-1
    )
    flav = jet_flavour(
        j_p4, j_evt, h_p4.astype(np.float64), h_evt, h_flav[heavy], n_events, card.btag
    )
    return flav, btag_jets(j_pt, np.abs(j_eta), flav, card.btag, rng)


def _features(
    c: _Candidates, lep: _Leptons, jets: tuple[np.ndarray, ...], tag: np.ndarray, met_xy: np.ndarray
) -> np.ndarray:
    """(E, F) float32 :data:`FEATURE_NAMES` of every event."""
    n_events, lep_idx, has, li = c.n_events, lep.idx, lep.has, lep.li
    j_evt, j_p4, j_pt, _ = jets
    met = np.hypot(met_xy[:, 0], met_xy[:, 1])
    n_j, m_j, _ = _sum_mass_pt(j_evt, j_p4, n_events)
    ht = np.bincount(j_evt, weights=j_pt, minlength=n_events)
    n_b = np.bincount(j_evt, weights=tag.astype(float), minlength=n_events)
    l_p4 = c.p4[lep_idx]
    n_mu, m_mu, pt_mu = _sum_mass_pt(lep.evt[lep.is_mu], l_p4[lep.is_mu], n_events)
    n_e, m_e, pt_e = _sum_mass_pt(lep.evt[lep.is_e], l_p4[lep.is_e], n_events)
    lead_pt = np.where(has, lep.pt[li] if len(lep_idx) else 0.0, 0.0)
    lead_phi = np.where(has, c.phi[lep_idx][li] if len(lep_idx) else 0.0, 0.0)
    ux, uy = np.cos(lead_phi), np.sin(lead_phi)
    met_par = np.where(has, met_xy[:, 0] * ux + met_xy[:, 1] * uy, 0.0)
    met_perp = np.where(has, ux * met_xy[:, 1] - uy * met_xy[:, 0], 0.0)
    mt = np.sqrt(np.maximum(2.0 * lead_pt * (met - met_par), 0.0))  # 2 pT MET (1 - cos dphi)

    def lead_of(x: np.ndarray) -> np.ndarray:
        return np.where(has, x[li], 0.0) if len(lep_idx) else np.zeros(n_events)

    feats = {
        "lep_pt": lead_pt,
        "lep_eta": lead_of(c.eta[lep_idx]),
        "lep_charge": lead_of(c.charge[lep_idx]),
        "lep_is_ele": lead_of(lep.is_e.astype(float)),
        "lep_iso_ch": lead_of(lep.iso["charged"]),
        "lep_iso_neu": lead_of(lep.iso["neutral"]),
        "lep_iso_gamma": lead_of(lep.iso["photon"]),
        "ht": ht,
        "n_jets": n_j,
        "m_jets": np.where(n_j > 0, m_j, 0.0),
        "n_bjets": n_b,
        "met_par": met_par,
        "met_perp": met_perp,
        "mt": mt,
        "n_mu": n_mu,
        "m_mu": m_mu,
        "pt_mu": pt_mu,
        "n_ele": n_e,
        "m_ele": m_e,
        "pt_ele": pt_e,
        "n_charged": np.bincount(c.evt[c.charge != 0], minlength=n_events),
        "n_neutral": np.bincount(c.evt[c.pid == ParticleID.NEUTRAL_HADRON], minlength=n_events),
        "n_photon": np.bincount(c.evt[c.pid == ParticleID.PHOTON], minlength=n_events),
    }
    return np.stack([np.asarray(feats[k], np.float64) for k in FEATURE_NAMES], axis=-1).astype(
        np.float32
    )


def reconstruct_events(
    cands: ak.Array, prt: ak.Array, config: EventConfig, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Leptons, jets, b-tags, MET, the trigger decision and the features of every event.

    Args:
        cands: (E, var) detector candidates (:func:`~colliderlab.physics.detector.apply_detector`).
        prt: (E, var) the same events' Pythia records (for B/C hadrons).
        config: selection settings; ``config.detector`` gives the isolation and b-tag maps.
        rng: b-tag draws.

    Returns:
        ``triggered`` (E,) bool, ``features`` (E, F) float32 (:data:`FEATURE_NAMES`),
        ``electrons``/``muons`` (E, max, 5) float32 (:data:`LEPTON_FIELDS`, isolated, pT order),
        ``jets`` (E, max_jets, 6) float32 (:data:`JET_FIELDS`), ``met`` (E, 2) float32 (MET, phi).
    """
    from colliderlab.physics.detector import load_card, missing_pt

    card = load_card(config.detector)
    c = _flatten(cands)
    lep, out = _leptons(c, config, card)
    jets = _jets(c, lep.idx, config)
    flav, tag = _btags(jets, prt, c.n_events, card, rng)
    j_evt, j_p4, j_pt, j_eta = jets
    j_rows = np.stack([j_pt, j_eta, kin.phi(j_p4), kin.mass(j_p4), tag, flav], axis=-1)
    met_xy = missing_pt(cands)  # (E, 2)
    met = np.hypot(met_xy[:, 0], met_xy[:, 1])
    return {
        "triggered": out["triggered"],
        "features": _features(c, lep, jets, tag, met_xy),
        "electrons": out["electrons"],
        "muons": out["muons"],
        "jets": _pad(j_evt, j_pt, j_rows, c.n_events, config.max_jets),
        "met": np.stack([met, np.arctan2(met_xy[:, 1], met_xy[:, 0])], axis=-1).astype(np.float32),
    }
