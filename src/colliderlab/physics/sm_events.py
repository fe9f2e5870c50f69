"""Event-level samples for anomaly detection: a Standard-Model cocktail behind a single-lepton trigger.

The setting of arXiv:1811.10276 (Cerri et al., "Variational autoencoders for new physics mining
at the Large Hadron Collider") and of the ADC2021 dataset (arXiv:2107.02157, Govorkova et al.,
Sci. Data 9 (2022) 118): 13 TeV proton collisions, events kept by a trigger asking for one
isolated electron or muon above 23 GeV, described by about twenty high-level features.

Processes (Pythia 8, MPI on, particles with c*tau0 > 10 mm left undecayed):

* ``w_lnu``: ``WeakSingleBoson:ffbar2W``, W -> e nu, mu nu, tau nu.
* ``z_ll``: ``WeakSingleBoson:ffbar2gmZ`` (full gamma*/Z interference, m_hat > 40 GeV),
  Z/gamma* -> e e, mu mu, tau tau.
* ``ttbar``: ``Top:gg2ttbar`` + ``Top:qqbar2ttbar``, inclusive decays.
* ``qcd``: ``HardQCD:all`` with ``PhaseSpace:pTHatMin`` (30 GeV), passed through a
  *generator-level lepton filter* before the detector: a final-state e or mu with pT above
  ``filter_pt`` (20 GeV) and |eta| < 2.5 in the event record. Its weight is
  sigma x filter efficiency. (The filter can be applied to other processes too, see
  :class:`EventConfig`; it is then part of their weight in the same way.)

Benchmark signals. The masses are those of ADC2021 (arXiv:2107.02157, section "BSM
processes"), which took its four signals from arXiv:1811.10276: a neutral scalar A (50 GeV)
-> 4 leptons, a leptoquark (80 GeV) -> b tau, a neutral scalar h0 (60 GeV) -> tau tau and a
charged scalar h+- (60 GeV) -> tau nu. Those samples were made with dedicated models; here
each is made with a standard Pythia process, as written out below (kinematics differ from the
papers' samples in production mode and spin correlations):

* ``a_4l``: the SM Higgs in gluon fusion (``HiggsSM:gg2H``) with ``25:m0 = 50`` and its
  decay forced to Z Z (off shell: Pythia samples both Z masses from their Breit-Wigner
  below threshold), each Z forced to e e or mu mu.
* ``lq_btau``: Pythia's leptoquark (``LeptoQuark:all``: pair production g g, q qbar -> LQ LQbar
  plus single production q g -> LQ l) with ``42:m0 = 80``, ``LeptoQuark:kCoup = 0.01`` and
  its (only) decay channel changed to b tau+ (``42:0:products = 5 -15``), the charge set to
  the matching +2/3 (``42:chargeType = 2``). Pythia takes the production couplings from that
  channel, so single production is b g -> LQ tau.
* ``h0_tautau``: ``HiggsSM:gg2H`` with ``25:m0 = 60``, decay forced to tau+ tau-.
* ``hpm_taunu``: pair production of the 2HDM charged Higgs through gamma*/Z
  (``HiggsBSM:ffbar2H+H-``, ``Higgs:useBSM = on``) with ``37:m0 = 60``, both forced to tau nu.

Reconstruction, on the parametric detector's candidates (:mod:`colliderlab.physics.detector`):
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

Everything after Pythia is vectorised over the events of a chunk (numpy/awkward, FastJet on
the whole chunk at once); one chunk depends only on (process, config, chunk index).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import awkward as ak
import numpy as np

from colliderlab import kinematics as kin
from colliderlab.jets import ParticleID

__all__ = [
    "SM_PROCESSES",
    "SIGNAL_PROCESSES",
    "PROCESSES",
    "FEATURE_NAMES",
    "LEPTON_FIELDS",
    "JET_FIELDS",
    "EventConfig",
    "check_process",
    "pythia_settings",
    "lepton_filter",
    "reconstruct_events",
    "event_chunk",
]

SM_PROCESSES: tuple[str, ...] = ("w_lnu", "z_ll", "ttbar", "qcd")
SIGNAL_PROCESSES: tuple[str, ...] = ("a_4l", "lq_btau", "h0_tautau", "hpm_taunu")
PROCESSES: tuple[str, ...] = SM_PROCESSES + SIGNAL_PROCESSES

FEATURE_NAMES: tuple[str, ...] = (
    "lep_pt", "lep_eta", "lep_charge", "lep_is_ele", "lep_iso_ch", "lep_iso_neu", "lep_iso_gamma",
    "ht", "n_jets", "m_jets", "n_bjets", "met_par", "met_perp", "mt",
    "n_mu", "m_mu", "pt_mu", "n_ele", "m_ele", "pt_ele", "n_charged", "n_neutral", "n_photon",
)  # fmt: skip
# Columns of the padded object arrays.
LEPTON_FIELDS: tuple[str, ...] = ("pt", "eta", "phi", "charge", "rel_iso")
JET_FIELDS: tuple[str, ...] = ("pt", "eta", "phi", "mass", "btag", "flavour")


@dataclass(frozen=True)
class EventConfig:
    """Settings of an event-level sample (saved in the file's provenance).

    Attributes:
        sqrt_s: centre-of-mass energy (GeV).
        detector: detector card (name or YAML path, see :mod:`colliderlab.physics.detector`).
        mpi: multiple parton interactions.
        tau0_max: c*tau0 (mm) above which particles are left undecayed.
        qcd_pthat_min: pT-hat threshold of the QCD sample (GeV).
        filter_processes: processes passed through the generator-level lepton filter.
        filter_pt, filter_eta: the filter: a final-state e or mu with pT > filter_pt and
            |eta| < filter_eta.
        lepton_pt_min, lepton_eta_max: reconstructed leptons kept (GeV; |eta|).
        trigger_pt: the single-lepton trigger threshold (GeV).
        jet_r, jet_pt_min, jet_eta_max: anti-kT jets.
        mass_a, mass_lq, mass_h0, mass_hpm: signal masses (GeV).
        lq_coupling: ``LeptoQuark:kCoup``.
        max_electrons, max_muons, max_jets: padding of the stored object arrays.
        seed: master seed.
        chunk_events: generated events per work unit.
    """

    sqrt_s: float = 13000.0
    detector: str = "cms-like"
    mpi: bool = True
    tau0_max: float = 10.0
    qcd_pthat_min: float = 30.0
    filter_processes: tuple[str, ...] = ("qcd",)
    filter_pt: float = 20.0
    filter_eta: float = 2.5
    lepton_pt_min: float = 10.0
    lepton_eta_max: float = 2.5
    trigger_pt: float = 23.0
    jet_r: float = 0.4
    jet_pt_min: float = 30.0
    jet_eta_max: float = 2.4
    mass_a: float = 50.0
    mass_lq: float = 80.0
    mass_h0: float = 60.0
    mass_hpm: float = 60.0
    lq_coupling: float = 0.01
    max_electrons: int = 4
    max_muons: int = 4
    max_jets: int = 10
    seed: int = 0
    chunk_events: int = 1000

    def __post_init__(self) -> None:
        object.__setattr__(self, "filter_processes", tuple(self.filter_processes))
        for p in self.filter_processes:
            check_process(p)
        if (
            min(self.jet_r, self.chunk_events, self.max_electrons, self.max_muons, self.max_jets)
            <= 0
        ):
            raise ValueError("jet_r, chunk_events and the max_* paddings must be positive")
        if self.trigger_pt < self.lepton_pt_min:
            raise ValueError(
                f"trigger_pt ({self.trigger_pt}) must be >= lepton_pt_min ({self.lepton_pt_min})"
            )


def check_process(process: str) -> str:
    """Return ``process`` if it is a known process name, else raise listing the valid ones."""
    if process not in PROCESSES:
        raise ValueError(
            f"unknown event process {process!r}; valid processes: {', '.join(PROCESSES)}"
        )
    return process


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
    import fastjet
    import vector

    from colliderlab.physics.clustering import cluster_sequence
    from colliderlab.physics.detector import (
        btag_jets,
        hadron_flavour,
        jet_flavour,
        lepton_isolation,
        load_card,
        missing_pt,
    )

    card = load_card(config.detector)
    n_events = len(cands)
    counts = np.asarray(ak.num(cands, axis=1), np.int64)
    evt = np.repeat(np.arange(n_events), counts)
    p4 = _flat_p4(cands)  # (n, 4)
    pid = ak.to_numpy(ak.flatten(cands.pid)).astype(np.int64)
    charge = ak.to_numpy(ak.flatten(cands.charge)).astype(np.float64)
    pt, eta, phi = kin.pt(p4), kin.eta(p4), kin.phi(p4)

    # Leptons: identified, in acceptance, isolated.
    lep_idx = np.flatnonzero(
        ((pid == ParticleID.ELECTRON) | (pid == ParticleID.MUON))
        & (pt > config.lepton_pt_min)
        & (np.abs(eta) < config.lepton_eta_max)
    )
    iso = lepton_isolation(cands, lep_idx, card.isolation)
    good = iso["isolated"]
    lep_idx = lep_idx[good]
    iso = {k: v[good] for k, v in iso.items()}
    l_evt, l_pt, l_pid = evt[lep_idx], pt[lep_idx], pid[lep_idx]
    l_rows = np.stack([l_pt, eta[lep_idx], phi[lep_idx], charge[lep_idx], iso["total"]], axis=-1)
    is_e, is_mu = l_pid == ParticleID.ELECTRON, l_pid == ParticleID.MUON
    electrons = _pad(l_evt[is_e], l_pt[is_e], l_rows[is_e], n_events, config.max_electrons)
    muons = _pad(l_evt[is_mu], l_pt[is_mu], l_rows[is_mu], n_events, config.max_muons)
    triggered = np.zeros(n_events, bool)
    triggered[l_evt[l_pt > config.trigger_pt]] = True

    # The trigger lepton: the leading isolated lepton of each event (index into lep_idx, -1 if none).
    lead = np.full(n_events, -1)
    if len(lep_idx):
        order = np.lexsort((-l_pt, l_evt))
        first = np.r_[True, l_evt[order][1:] != l_evt[order][:-1]]
        lead[l_evt[order][first]] = order[first]
    has = lead >= 0
    li = np.maximum(lead, 0)

    # Jets from every candidate except the isolated leptons.
    not_lep = np.ones(len(p4), bool)
    not_lep[lep_idx] = False
    jet_in = cands[ak.unflatten(not_lep, counts)]
    vector.register_awkward()
    vecs = ak.zip(
        {"px": jet_in.px, "py": jet_in.py, "pz": jet_in.pz, "E": jet_in.E}, with_name="Momentum4D"
    )
    cs = cluster_sequence(
        vecs, fastjet.JetDefinition(fastjet.antikt_algorithm, config.jet_r)
    )
    jets = cs.inclusive_jets(min_pt=config.jet_pt_min)
    j_evt = np.repeat(np.arange(n_events), np.asarray(ak.num(jets), np.int64))
    j_p4 = _flat_p4(jets).reshape(-1, 4)
    j_pt, j_eta = kin.pt(j_p4), kin.eta(j_p4)
    sel = (j_pt > config.jet_pt_min) & (np.abs(j_eta) < config.jet_eta_max)
    j_evt, j_p4, j_pt, j_eta = j_evt[sel], j_p4[sel], j_pt[sel], j_eta[sel]

    # Truth flavour from B/C hadrons anywhere in the record, then b-tags.
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
    tag = btag_jets(j_pt, np.abs(j_eta), flav, card.btag, rng)
    j_rows = np.stack([j_pt, j_eta, kin.phi(j_p4), kin.mass(j_p4), tag, flav], axis=-1)
    jet_arr = _pad(j_evt, j_pt, j_rows, n_events, config.max_jets)

    met_xy = missing_pt(cands)  # (E, 2)
    met = np.hypot(met_xy[:, 0], met_xy[:, 1])
    met_arr = np.stack([met, np.arctan2(met_xy[:, 1], met_xy[:, 0])], axis=-1).astype(np.float32)

    # Features.
    n_j, m_j, _ = _sum_mass_pt(j_evt, j_p4, n_events)
    ht = np.bincount(j_evt, weights=j_pt, minlength=n_events)
    n_b = np.bincount(j_evt, weights=tag.astype(float), minlength=n_events)
    l_p4 = p4[lep_idx]
    n_mu, m_mu, pt_mu = _sum_mass_pt(l_evt[is_mu], l_p4[is_mu], n_events)
    n_e, m_e, pt_e = _sum_mass_pt(l_evt[is_e], l_p4[is_e], n_events)
    lead_pt = np.where(has, l_pt[li] if len(lep_idx) else 0.0, 0.0)
    lead_phi = np.where(has, phi[lep_idx][li] if len(lep_idx) else 0.0, 0.0)
    ux, uy = np.cos(lead_phi), np.sin(lead_phi)
    met_par = np.where(has, met_xy[:, 0] * ux + met_xy[:, 1] * uy, 0.0)
    met_perp = np.where(has, ux * met_xy[:, 1] - uy * met_xy[:, 0], 0.0)
    mt = np.sqrt(np.maximum(2.0 * lead_pt * (met - met_par), 0.0))  # 2 pT MET (1 - cos dphi)

    def lead_of(x: np.ndarray) -> np.ndarray:
        return np.where(has, x[li], 0.0) if len(lep_idx) else np.zeros(n_events)

    feats = {
        "lep_pt": lead_pt,
        "lep_eta": lead_of(eta[lep_idx]),
        "lep_charge": lead_of(charge[lep_idx]),
        "lep_is_ele": lead_of(is_e.astype(float)),
        "lep_iso_ch": lead_of(iso["charged"]),
        "lep_iso_neu": lead_of(iso["neutral"]),
        "lep_iso_gamma": lead_of(iso["photon"]),
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
        "n_charged": np.bincount(evt[charge != 0], minlength=n_events),
        "n_neutral": np.bincount(evt[pid == ParticleID.NEUTRAL_HADRON], minlength=n_events),
        "n_photon": np.bincount(evt[pid == ParticleID.PHOTON], minlength=n_events),
    }
    features = np.stack([np.asarray(feats[k], np.float64) for k in FEATURE_NAMES], axis=-1).astype(
        np.float32
    )
    return {
        "triggered": triggered,
        "features": features,
        "electrons": electrons,
        "muons": muons,
        "jets": jet_arr,
        "met": met_arr,
    }


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
