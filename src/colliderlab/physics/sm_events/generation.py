"""Pythia settings of every process, the generator-level lepton filter, and one chunk of triggered
events (see :mod:`colliderlab.physics.sm_events`)."""

from __future__ import annotations

import time

import awkward as ak
import numpy as np

from colliderlab.physics.sm_events.config import (
    FEATURE_NAMES,
    JET_FIELDS,
    LEPTON_FIELDS,
    EventConfig,
    check_process,
)
from colliderlab.physics.sm_events.reconstruction import reconstruct_events

__all__ = ["pythia_settings", "lepton_filter", "event_chunk"]


def pythia_settings(process: str, config: EventConfig) -> tuple[str, ...]:
    """Pythia ``readString`` lines for ``process`` (see the module docstring)."""
    check_process(process)
    common = (
        "Beams:idA = 2212",
        "Beams:idB = 2212",
        f"Beams:eCM = {config.sqrt_s}",
        f"PartonLevel:MPI = {'on' if config.mpi else 'off'}",
        "ParticleDecays:limitTau0 = on",
        f"ParticleDecays:tau0Max = {config.tau0_max}",
    )
    specific = {
        "w_lnu": ("WeakSingleBoson:ffbar2W = on", "24:onMode = off", "24:onIfAny = 11 13 15"),
        "z_ll": (
            "WeakSingleBoson:ffbar2gmZ = on",
            "PhaseSpace:mHatMin = 40.",
            "23:onMode = off",
            "23:onIfAny = 11 13 15",
        ),
        "ttbar": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
        "qcd": ("HardQCD:all = on", f"PhaseSpace:pTHatMin = {config.qcd_pthat_min}"),
        "a_4l": (
            "HiggsSM:gg2H = on",
            f"25:m0 = {config.mass_a}",
            "25:onMode = off",
            "25:onIfMatch = 23 23",
            "23:onMode = off",
            "23:onIfAny = 11 13",
        ),
        "lq_btau": (
            "LeptoQuark:all = on",
            f"LeptoQuark:kCoup = {config.lq_coupling}",
            f"42:m0 = {config.mass_lq}",
            "42:0:products = 5 -15",
            "42:chargeType = 2",
        ),
        "h0_tautau": (
            "HiggsSM:gg2H = on",
            f"25:m0 = {config.mass_h0}",
            "25:onMode = off",
            "25:onIfMatch = 15 -15",
        ),
        "hpm_taunu": (
            "Higgs:useBSM = on",
            "HiggsBSM:ffbar2H+H- = on",
            f"37:m0 = {config.mass_hpm}",
            "37:onMode = off",
            "37:onIfMatch = 15 16",
        ),
    }
    return common + specific[process]


def lepton_filter(prt: ak.Array, pt_min: float, eta_max: float) -> np.ndarray:
    """Generator-level filter: events with a final-state e or mu above ``pt_min`` within ``eta_max``.

    prt: (E, var) Pythia particle records -> (E,) bool.
    """
    a = np.abs(prt.id)
    px, py, pz = prt.p.px, prt.p.py, prt.p.pz
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-12))
    ok = (prt.status > 0) & ((a == 11) | (a == 13)) & (pt > pt_min) & (np.abs(eta) < eta_max)
    return np.asarray(ak.any(ok, axis=1), bool)


def _fresh_pythia(settings: tuple[str, ...]):
    """A new initialised Pythia (not cached: each chunk's ``sigmaGen`` is then its own estimate)."""
    from colliderlab.physics.generator import new_pythia

    return new_pythia(settings)


def event_chunk(process: str, config: EventConfig, chunk: int) -> dict[str, np.ndarray]:
    """Generate one chunk of ``config.chunk_events`` events and keep those that fire the trigger.

    Returns:
        ``features`` (M, F) float32, ``electrons``/``muons`` (M, max, 5), ``jets`` (M, max_jets, 6),
        ``met`` (M, 2) of the M triggered events; ``n_generated`` () int64 events Pythia made,
        ``n_filtered`` () int64 of them passing the generator-level filter (all, for
        processes without it), ``sigma_gen_mb`` () float64 Pythia's ``sigmaGen()`` of this
        chunk (mb) and ``seconds`` (3,) float64 pythia / detector / reconstruction.
    """
    from colliderlab.physics.detector import apply_detector, load_card
    from colliderlab.physics.generator import chunk_seed, final_state_particles

    check_process(process)
    py = _fresh_pythia(pythia_settings(process, config))
    py.rndm.init(chunk_seed(config.seed, f"events-{process}", chunk))
    t0 = time.perf_counter()
    prt = py.nextBatch(config.chunk_events).prt
    n_generated = len(prt)
    sigma_mb = float(py.infoPython().sigmaGen())
    if process in config.filter_processes:
        prt = prt[lepton_filter(prt, config.filter_pt, config.filter_eta)]
    n_filtered = len(prt)
    particles = final_state_particles(prt, py)
    t1 = time.perf_counter()
    rng = np.random.default_rng(chunk_seed(config.seed, f"events-{process}", chunk, "detector"))
    reco = _empty(config)
    t2 = time.perf_counter()
    if n_filtered:
        cands = apply_detector(particles, load_card(config.detector), rng)
        t2 = time.perf_counter()
        reco = reconstruct_events(cands, prt, config, rng)
    t3 = time.perf_counter()
    keep = reco.pop("triggered")
    out = {k: v[keep] for k, v in reco.items()}
    out.update(
        n_generated=np.int64(n_generated),
        n_filtered=np.int64(n_filtered),
        sigma_gen_mb=np.float64(sigma_mb),
        seconds=np.array([t1 - t0, t2 - t1, t3 - t2]),
    )
    return out


def _empty(config: EventConfig) -> dict[str, np.ndarray]:
    return {
        "triggered": np.zeros(0, bool),
        "features": np.zeros((0, len(FEATURE_NAMES)), np.float32),
        "electrons": np.zeros((0, config.max_electrons, len(LEPTON_FIELDS)), np.float32),
        "muons": np.zeros((0, config.max_muons, len(LEPTON_FIELDS)), np.float32),
        "jets": np.zeros((0, config.max_jets, len(JET_FIELDS)), np.float32),
        "met": np.zeros((0, 2), np.float32),
    }
