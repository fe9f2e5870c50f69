"""The detector response: particles to reconstructed candidates (tracks with efficiencies and
resolutions, calorimeter deposits with their energy resolution), :func:`apply_detector`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import awkward as ak
import numpy as np

from colliderlab import kinematics as kin
from colliderlab.jets import ParticleID, pid_from_pdg
from colliderlab.physics.detector.cards import _TINY, CalorimeterCard, DetectorCard

__all__ = ["apply_detector", "INPUT_FIELDS"]


INPUT_FIELDS: tuple[str, ...] = ("px", "py", "pz", "E", "pdg", "charge", "vx", "vy", "vz")

_NEUTRINOS = (12, 14, 16)


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
