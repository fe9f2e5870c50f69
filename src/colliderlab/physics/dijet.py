"""Dijet events for resonance searches: the LHC Olympics 2020 R&D recipe (arXiv:2101.08320).

Background: QCD 2 -> 2 at 13 TeV with pT-hat above 1.1 TeV. Signal: W' (3.5 TeV) -> X Y with
X (500 GeV) and Y (100 GeV) both -> q qbar, made with Pythia's W' -> W Z after moving the W mass
to m(X) and the Z mass to m(Y) (the R&D dataset's own trick). Final-state particles go through
the parametric detector, are clustered with anti-kT R = 1.0, and an event is kept when its
leading jet has pT above 1.2 TeV. Per event the two leading jets' four-momenta and
N-subjettiness tau_1..3 (arXiv:1011.2268, beta = 1, R0 = 1.0) are kept; the search features of
CWoLa hunting / ANODE / CATHODE (arXiv:1805.02664, 2001.04990, 2109.00546) follow from them:
m_JJ (conditioning only), the lighter jet's mass m_J1, Delta m_J = m_J2 - m_J1 and both tau_21.

One chunk (``DijetConfig.chunk_events`` events) depends only on (config, kind, chunk index).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import awkward as ak
import numpy as np

from colliderlab import kinematics as kin
from colliderlab.physics.variations import shower_settings
from colliderlab.physics.xsec import chunk_counts, snapshot

__all__ = ["DijetConfig", "DIJET_KINDS", "FEATURE_NAMES", "dijet_chunk", "dijet_features", "pythia_settings"]

DIJET_KINDS = ("qcd", "wprime")
# The four CATHODE inputs, in this column order; m_JJ conditions.
FEATURE_NAMES = ("mj1", "delta_mj", "tau21_j1", "tau21_j2")


@dataclass(frozen=True)
class DijetConfig:
    """Settings of a dijet sample (saved in the file's provenance).

    Attributes:
        sqrt_s: centre-of-mass energy (GeV).
        pthat_min: QCD pT-hat threshold (GeV); the W' is an s-channel resonance and needs none.
        jet_r: anti-kT radius; also N-subjettiness' R0.
        lead_pt_min: the leading jet's pT threshold (GeV): the event selection.
        mass_wprime, mass_x, mass_y: W', X (the W's stand-in) and Y (the Z's) masses (GeV).
        mpi: multiple parton interactions.
        detector: detector card (see :mod:`colliderlab.physics.detector`).
        n_particles: constituents kept per jet for N-subjettiness (hardest first).
        tau0_max: c*tau0 (mm) above which particles are left undecayed.
        seed: master seed.
        chunk_events: generated events per work unit.
        shower, variation: parton shower and generator variation (:mod:`colliderlab.physics.variations`).
    """

    sqrt_s: float = 13000.0
    pthat_min: float = 1100.0
    jet_r: float = 1.0
    lead_pt_min: float = 1200.0
    mass_wprime: float = 3500.0
    mass_x: float = 500.0
    mass_y: float = 100.0
    mpi: bool = True
    detector: str = "cms-like"
    n_particles: int = 300
    tau0_max: float | None = 10.0
    seed: int = 2020
    chunk_events: int = 250
    shower: str = "simple"
    variation: str = "nominal"

    def __post_init__(self) -> None:
        if self.mass_x + self.mass_y >= self.mass_wprime:
            raise ValueError(f"m(X) + m(Y) = {self.mass_x + self.mass_y} must be below m(W') = {self.mass_wprime}")
        if min(self.jet_r, self.lead_pt_min, self.n_particles, self.chunk_events) <= 0:
            raise ValueError("jet_r, lead_pt_min, n_particles and chunk_events must be positive")
        shower_settings(self.shower, self.variation)  # unknown names list the valid ones


def pythia_settings(kind: str, config: DijetConfig) -> tuple[str, ...]:
    """Pythia ``readString`` lines for ``kind`` ("qcd" or "wprime")."""
    common = [
        "Beams:idA = 2212",
        "Beams:idB = 2212",
        f"Beams:eCM = {config.sqrt_s}",
        f"PartonLevel:MPI = {'on' if config.mpi else 'off'}",
        *shower_settings(config.shower, config.variation),
    ]
    if config.tau0_max is not None:
        common += ["ParticleDecays:limitTau0 = on", f"ParticleDecays:tau0Max = {config.tau0_max}"]
    if kind == "qcd":
        return (*common, "HardQCD:all = on", f"PhaseSpace:pTHatMin = {config.pthat_min}")
    if kind == "wprime":
        return (
            *common,
            "NewGaugeBoson:ffbar2Wprime = on",
            "Wprime:coup2WZ = 1",  # the W' -> W Z coupling (default 0 in Pythia 8.3)
            f"34:m0 = {config.mass_wprime}",
            "34:onMode = off",
            "34:onIfMatch = 23 24",  # W' -> W Z, i.e. X Y
            f"24:m0 = {config.mass_x}",
            f"23:m0 = {config.mass_y}",
            "24:onMode = off",
            "24:onIfAny = 1 2 3 4 5",
            "23:onMode = off",
            "23:onIfAny = 1 2 3 4 5",
        )
    raise ValueError(f"unknown dijet kind {kind!r}; valid kinds: {', '.join(DIJET_KINDS)}")


def dijet_chunk(kind: str, config: DijetConfig, chunk: int) -> dict[str, np.ndarray]:
    """Generate one chunk and return its selected events.

    Returns:
        ``jet_p4`` (N, 2, 4) float64 (E, px, py, pz) of the two leading jets (pT order),
        ``tau`` (N, 2, 3) float64 N-subjettiness tau_1..3 of those jets,
        ``n_generated`` () int64 events generated, ``seconds`` (3,) pythia / detector / jets,
        ``xsec`` (a dict, not an array) Pythia's cross-section sums of the chunk
        (:func:`colliderlab.physics.xsec.chunk_counts`).
    """
    from colliderlab.physics.detector import apply_detector, load_card
    from colliderlab.physics.generator import _pack, _pythia, chunk_seed, final_state_particles
    from colliderlab.physics.substructure import nsubjettiness

    py = _pythia(pythia_settings(kind, config))
    py.rndm.init(chunk_seed(config.seed, f"dijet-{kind}", chunk))
    t0 = time.perf_counter()
    before = snapshot(py)
    events = py.nextBatch(config.chunk_events)
    xsec = chunk_counts(before, snapshot(py))
    particles = final_state_particles(events.prt, py)
    t1 = time.perf_counter()
    rng = np.random.default_rng(chunk_seed(config.seed, f"dijet-{kind}", chunk, "detector"))
    cands = apply_detector(particles, load_card(config.detector), rng)
    t2 = time.perf_counter()
    jet_p4, constituents = _two_leading_jets(cands, config)
    keep = kin.pt(jet_p4[:, 0]) > config.lead_pt_min  # (E,)
    jet_p4, constituents = jet_p4[keep], constituents[keep]
    n = len(jet_p4)
    flat_const = ak.flatten(constituents, axis=1)  # (2N, var): jet 0, jet 1 of each event
    packed = _pack(cands, jet_p4.reshape(-1, 4), flat_const, config.n_particles)
    tau = nsubjettiness(packed["p4"], packed["mask"], n_max=3, r0=config.jet_r).reshape(n, 2, 3)
    t3 = time.perf_counter()
    return {
        "jet_p4": jet_p4,
        "tau": tau,
        "n_generated": np.int64(len(particles)),
        "seconds": np.array([t1 - t0, t2 - t1, t3 - t2]),
        "xsec": xsec,
    }


def _two_leading_jets(cands: ak.Array, config: DijetConfig) -> tuple[np.ndarray, ak.Array]:
    """Anti-kT jets of every event; the two leading ones (zeros when an event has fewer).

    Returns:
        jet_p4 (E, 2, 4) (E, px, py, pz) and constituents (E, 2, var) global indices into
        ``ak.flatten(cands)``.
    """
    import fastjet
    import vector

    from colliderlab.physics.clustering import cluster_sequence

    vector.register_awkward()
    vecs = ak.zip({"px": cands.px, "py": cands.py, "pz": cands.pz, "E": cands.E}, with_name="Momentum4D")
    cs = cluster_sequence(vecs, fastjet.JetDefinition(fastjet.antikt_algorithm, config.jet_r))
    ptmin = 20.0
    jets = cs.inclusive_jets(min_pt=ptmin)  # (E, var), pT-ordered by fastjet? sort to be sure
    index = cs.constituent_index(min_pt=ptmin)  # (E, var, var)
    order = ak.argsort(np.hypot(jets.px, jets.py), axis=1, ascending=False)
    jets, index = jets[order][:, :2], index[order][:, :2]
    padded = ak.fill_none(ak.pad_none(jets, 2, clip=True), {"px": 0.0, "py": 0.0, "pz": 0.0, "E": 0.0})
    jet_p4 = np.stack([ak.to_numpy(padded[f]) for f in ("E", "px", "py", "pz")], axis=-1)  # (E, 2, 4)
    offsets = np.r_[0, np.cumsum(ak.to_numpy(ak.num(cands)))[:-1]]
    index = ak.fill_none(ak.pad_none(index, 2, clip=True), [], axis=1)
    return jet_p4, index + offsets[:, None, None]


def dijet_features(jet_p4: np.ndarray, tau: np.ndarray) -> dict[str, np.ndarray]:
    """The search variables of each event.

    Args:
        jet_p4: (N, 2, 4) the two leading jets; tau: (N, 2, 3) their tau_1..3.

    Returns:
        ``mjj`` (dijet invariant mass), ``mj1`` (the lighter jet's mass), ``delta_mj``
        (m_J2 - m_J1 >= 0), ``tau21_j1``, ``tau21_j2`` (tau_2 / tau_1 of the lighter and the
        heavier jet; 0 when tau_1 = 0), each (N,) float64, GeV.
    """
    jet_p4, tau = np.asarray(jet_p4, float), np.asarray(tau, float)
    if jet_p4.ndim != 3 or jet_p4.shape[1:] != (2, 4):
        raise ValueError(f"jet_p4 must have shape (N, 2, 4), got {jet_p4.shape}")
    if tau.shape != (len(jet_p4), 2, 3):
        raise ValueError(f"tau must have shape ({len(jet_p4)}, 2, 3), got {tau.shape}")
    m = kin.mass(jet_p4)  # (N, 2)
    light = np.argmin(m, axis=1)  # (N,)
    rows = np.arange(len(m))
    tau21 = np.divide(tau[..., 1], tau[..., 0], out=np.zeros(m.shape), where=tau[..., 0] > 0)
    return {
        "mjj": kin.mass(jet_p4.sum(axis=1)),
        "mj1": m[rows, light],
        "delta_mj": m[rows, 1 - light] - m[rows, light],
        "tau21_j1": tau21[rows, light],
        "tau21_j2": tau21[rows, 1 - light],
    }
