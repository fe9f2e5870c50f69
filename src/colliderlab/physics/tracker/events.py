"""Pythia 8 events for the tracker: a hard process plus Poisson pileup, each at its own vertex.

Every event is made by Pythia reseeded from (master seed, process, event index), so an event
never depends on which worker made it. Pythia decays K0S, Lambda and the other weakly decaying
hadrons itself (its default ``ParticleDecays:limitTau0 = off``) at displaced vertices drawn from
their lifetimes, which is where the tracker's V0 secondaries come from; charged pions and kaons
are stable, as they are on the tracker's scale. Vertices are spread by the card's beam spot.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from colliderlab.physics.generator import _pythia, chunk_seed, final_state_particles
from colliderlab.physics.tracker.card import BeamSpot

__all__ = ["TRACKER_PROCESSES", "event_particles"]

_BEAMS = ("Beams:idA = 2212", "Beams:idB = 2212")
TRACKER_PROCESSES: dict[str, tuple[str, ...]] = {
    "ttbar": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
    "minbias": ("SoftQCD:inelastic = on",),
    "zmumu": ("WeakSingleBoson:ffbar2gmZ = on", "WeakZ0:gmZmode = 2", "23:onMode = off", "23:onIfAny = 13"),
}
_FIELDS = ("px", "py", "pz", "E", "pdg", "charge", "vx", "vy", "vz")


def _settings(process: str, sqrt_s: float) -> tuple[str, ...]:
    if process not in TRACKER_PROCESSES:
        raise ValueError(f"unknown tracker process {process!r}; choose one of {', '.join(TRACKER_PROCESSES)}")
    return (*_BEAMS, f"Beams:eCM = {sqrt_s}", *TRACKER_PROCESSES[process])


def _one_batch(process: str, n: int, seed: int, sqrt_s: float) -> ak.Array:
    py = _pythia(_settings(process, sqrt_s))
    py.rndm.init(seed)
    return final_state_particles(py.nextBatch(n).prt, py)


def event_particles(process: str, index: int, seed: int, pileup_mu: float = 0.0,
                    beam_spot: BeamSpot | None = None, sqrt_s: float = 14000.0) -> dict[str, np.ndarray]:
    """The final-state particles of event ``index``: the hard process and its pileup.

    Args:
        process: a key of :data:`TRACKER_PROCESSES`.
        index: the event's index (with ``seed`` it fixes the event).
        seed: master seed.
        pileup_mu: mean of the Poisson number of soft-QCD inelastic events overlaid.
        beam_spot: Gaussian vertex spread (default :class:`BeamSpot`).
        sqrt_s: centre-of-mass energy (GeV).

    Returns:
        ``(P,)`` arrays ``px, py, pz, E`` (GeV), ``pdg``, ``charge`` (e), ``vx, vy, vz`` (mm, with
        the vertex spread) and ``subevent`` (0: the hard event, k >= 1: pileup event k).
        Neutrinos are dropped.
    """
    if pileup_mu < 0:
        raise ValueError(f"pileup_mu must be >= 0, got {pileup_mu}")
    spot = beam_spot or BeamSpot()
    rng = np.random.default_rng(chunk_seed(seed, f"tracker-{process}", index, "vertices"))
    parts = [_one_batch(process, 1, chunk_seed(seed, f"tracker-{process}", index), sqrt_s)]
    n_pu = int(rng.poisson(pileup_mu)) if pileup_mu > 0 else 0
    if n_pu:
        parts.append(_one_batch("minbias", n_pu, chunk_seed(seed, f"tracker-{process}", index, "pileup"), sqrt_s))
    out: dict[str, list[np.ndarray]] = {k: [] for k in (*_FIELDS, "subevent")}
    sub = 0
    for batch in parts:
        counts = ak.to_numpy(ak.num(batch))
        vertex = np.stack([rng.normal(0, spot.sigma_xy, len(counts)), rng.normal(0, spot.sigma_xy, len(counts)),
                           rng.normal(0, spot.sigma_z, len(counts))], axis=1)  # (events, 3)
        flat = ak.flatten(batch)
        for key in _FIELDS:
            out[key].append(ak.to_numpy(flat[key]))
        owner = np.repeat(np.arange(len(counts)), counts)
        for i, key in enumerate(("vx", "vy", "vz")):
            out[key][-1] = out[key][-1] + vertex[owner, i]
        out["subevent"].append(sub + owner)
        sub += len(counts)
    return {k: np.concatenate(v) for k, v in out.items()}
