"""Pythia 8 -> parametric detector -> FastJet -> truth-matched, padded jets, one chunk at a time.

One *chunk* is ``GenConfig.chunk_events`` events of one process, made by a Pythia instance
reseeded with a seed derived from (master seed, process, chunk index). A chunk's jets therefore
depend only on those three, never on which worker process made it or what it made before,
so any number of workers gives identical arrays.

Everything is vectorised over the batch of events: Pythia's ``nextBatch`` hands over whole
event records as awkward arrays (no per-particle Python loop at all), the detector works on
flattened arrays, FastJet clusters all events of the chunk in one call, and truth matching
and padding are numpy.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from colliderlab import kinematics as kin
from colliderlab.jets import N_TRUTH_PARTONS, JetBatch
from colliderlab.physics.processes import GenConfig, ProcessRecipe, TruthObjects, get_process
from colliderlab.physics.xsec import chunk_counts, snapshot

__all__ = [
    "ChunkResult",
    "STAGES",
    "chunk_seed",
    "generate_chunk",
    "final_state_particles",
    "cluster_events",
    "match_jets",
]

# Timing stages reported per chunk (seconds), in pipeline order.
STAGES = ("pythia", "extract", "pileup", "detector", "cluster", "match")

_QUIET = (
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
    "Init:showProcesses = off",
    "Init:showChangedSettings = off",
    "Init:showChangedParticleData = off",
    "Init:showMultipartonInteractions = off",
)
_NEUTRINOS = (12, 14, 16)
# Pythia accepts seeds in [0, 900_000_000].
_MAX_SEED = 900_000_000


@dataclass
class ChunkResult:
    """Jets of one chunk plus what it cost.

    ``batch.label`` is 0 here; the dataset builder sets the class index. ``xsec`` holds Pythia's
    cross-section sums of this chunk's events (:func:`colliderlab.physics.xsec.chunk_counts`).
    """

    batch: JetBatch
    n_events: int
    seconds: dict[str, float] = field(default_factory=dict)
    xsec: dict[str, dict] = field(default_factory=dict)


def chunk_seed(master: int, process: str, chunk: int, stream: str = "hard") -> int:
    """A Pythia-valid seed derived from (master seed, process name, chunk index, stream)."""
    key = [int(master) & 0xFFFFFFFF, zlib.crc32(process.encode()), int(chunk), zlib.crc32(stream.encode())]
    return int(np.random.SeedSequence(key).generate_state(1)[0]) % _MAX_SEED + 1


# --- Pythia instances, one per (settings) and per worker process --------------------------

_PYTHIAS: dict[tuple[str, ...], object] = {}
# Charge (in e) by |PDG id| for |id| < _DENSE_IDS, NaN until looked up; charge(-id) = -charge(id).
_DENSE_IDS = 10_000
_CHARGE_TABLE = np.full(_DENSE_IDS, np.nan)
_CHARGES: dict[int, float] = {}  # rare ids beyond the dense table


def new_pythia(settings: tuple[str, ...]):
    """A new, quiet, initialised Pythia for ``settings`` (seeded per event by the caller)."""
    import pythia8mc

    py = pythia8mc.Pythia("", False)
    for line in (*_QUIET, *settings, "Random:setSeed = on", "Random:seed = 1"):
        if not py.readString(line):
            raise ValueError(f"Pythia rejected the setting {line!r}")
    if not py.init():
        raise RuntimeError(f"Pythia failed to initialise with settings {settings}")
    return py


def _pythia(settings: tuple[str, ...]):
    """An initialised Pythia for ``settings``, cached in this process (init costs 0.3-5 s)."""
    py = _PYTHIAS.get(settings)
    if py is None:
        py = _PYTHIAS[settings] = new_pythia(settings)
    return py


def _charges(py, pdg: np.ndarray) -> np.ndarray:
    """Electric charges of PDG ids from Pythia's particle table (each distinct id looked up once).

    pdg: (M,) int -> (M,) float
    """
    a = np.abs(pdg)
    sign = np.sign(pdg)
    dense = a < _DENSE_IDS
    q = np.empty(len(pdg))
    q[dense] = _CHARGE_TABLE[a[dense]]
    missing = dense & np.isnan(q)
    if missing.any():
        for i in np.unique(a[missing]):
            _CHARGE_TABLE[i] = float(py.particleData.charge(int(i)))
        q[dense] = _CHARGE_TABLE[a[dense]]
    if not dense.all():
        for i in np.unique(a[~dense]):
            if int(i) not in _CHARGES:
                _CHARGES[int(i)] = float(py.particleData.charge(int(i)))
        ids = np.fromiter(_CHARGES, np.int64, len(_CHARGES))
        vals = np.fromiter(_CHARGES.values(), float, len(_CHARGES))
        order = np.argsort(ids)
        q[~dense] = vals[order][np.searchsorted(ids[order], a[~dense])]
    return q * sign


@contextmanager
def _timed(seconds: dict[str, float], stage: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - t0


# --- event record -> particles ---------------------------------------------------------------


def final_state_particles(prt: ak.Array, py) -> ak.Array:
    """Visible final-state particles of Pythia event records.

    Args:
        prt: (E, var) Pythia particle records (``nextBatch(...).prt``).
        py: the Pythia instance (for its particle-data table).

    Returns:
        (E, var) records with ``px, py, pz, E`` (GeV), ``pdg``, ``charge`` (e) and the
        production vertex ``vx, vy, vz`` (mm). Neutrinos are dropped.
    """
    flat_prt = ak.flatten(prt)  # (R,) all record entries of all events, no copy
    status = ak.to_numpy(flat_prt.status)
    pdg_all = ak.to_numpy(flat_prt.id)
    a = np.abs(pdg_all)
    keep = (status > 0) & (a != 12) & (a != 14) & (a != 16)  # (R,)
    event = np.repeat(np.arange(len(prt)), ak.to_numpy(ak.num(prt)))
    counts = np.bincount(event[keep], minlength=len(prt))
    pdg = pdg_all[keep]
    p, v = flat_prt.p, flat_prt.vProd

    def col(x) -> np.ndarray:
        return np.ma.filled(ak.to_numpy(x), 0.0)[keep]  # vProd is optional: missing -> origin

    flat = {
        "px": col(p.px),
        "py": col(p.py),
        "pz": col(p.pz),
        "E": col(p.e),
        "pdg": pdg.astype(np.int32),
        "charge": _charges(py, pdg),
        "vx": col(v.px),
        "vy": col(v.py),
        "vz": col(v.pz),
    }
    return ak.unflatten(ak.zip(flat), counts)


def _overlay_pileup(particles: ak.Array, config: GenConfig, process: str, chunk: int) -> ak.Array:
    """Add a Poisson(mu) number of soft-QCD inelastic events to each event, each at its own z vertex."""
    rng = np.random.default_rng(chunk_seed(config.seed, process, chunk, "pileup-count"))
    n_pu = rng.poisson(config.pileup_mu, len(particles))  # (E,)
    total = int(n_pu.sum())
    if total == 0:
        return particles
    settings = (
        "Beams:idA = 2212",
        "Beams:idB = 2212",
        f"Beams:eCM = {config.sqrt_s}",
        "SoftQCD:inelastic = on",
    )
    mb = _pythia(settings)
    mb.rndm.init(chunk_seed(config.seed, process, chunk, "pileup"))
    pu_events = mb.nextBatch(total)
    pu = final_state_particles(pu_events.prt, mb)  # (total, var)
    z0 = rng.normal(0.0, config.pileup_sigma_z, len(pu))  # one vertex per pileup event
    pu = ak.with_field(pu, pu.vz + z0, "vz")
    # Group the pileup events' particles by the hard event they are overlaid on.
    owner = np.repeat(np.arange(len(particles)), n_pu)  # (total,) hard event of each pileup event
    owner_counts = np.bincount(owner, weights=ak.to_numpy(ak.num(pu)), minlength=len(particles)).astype(np.int64)
    grouped = ak.unflatten(ak.flatten(pu), owner_counts)
    return ak.concatenate([particles, grouped], axis=1)


# --- clustering and matching -----------------------------------------------------------------


def cluster_events(cands: ak.Array, config: GenConfig) -> tuple[np.ndarray, np.ndarray, ak.Array]:
    """Cluster every event's candidates with anti-kT and keep jets in the pT and |eta| (|y|) window.

    Args:
        cands: (E, var) records with ``px, py, pz, E``.

    Returns:
        jet_p4: (J, 4) float64 (E, px, py, pz) of the selected jets,
        jet_event: (J,) int, the event each jet comes from,
        constituents: (J, var) int, global indices into ``ak.flatten(cands)``.
    """
    import fastjet
    import vector

    from colliderlab.physics.clustering import cluster_sequence

    vector.register_awkward()
    vecs = ak.zip({"px": cands.px, "py": cands.py, "pz": cands.pz, "E": cands.E}, with_name="Momentum4D")
    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, config.jet_r)
    cs = cluster_sequence(vecs, jetdef)
    ptmin = 0.5 * config.pt_min
    jets = cs.inclusive_jets(min_pt=ptmin)  # (E, var)
    index = cs.constituent_index(min_pt=ptmin)  # (E, var, var), local to each event
    n_jets = ak.to_numpy(ak.num(jets))
    jet_event = np.repeat(np.arange(len(jets)), n_jets)
    jet_p4 = np.stack([ak.to_numpy(ak.flatten(jets[f])) for f in ("E", "px", "py", "pz")], axis=-1)
    jet_p4 = jet_p4.reshape(-1, 4)
    offsets = np.r_[0, np.cumsum(ak.to_numpy(ak.num(cands)))[:-1]]  # first flat index of each event
    local = ak.flatten(index, axis=1)  # (J, var)
    global_index = local + offsets[jet_event]
    pt_ = kin.pt(jet_p4)
    ang = kin.rapidity(jet_p4) if config.use_rapidity else kin.eta(jet_p4)
    keep = (pt_ >= config.pt_min) & (pt_ <= config.pt_max) & (np.abs(ang) < config.abs_eta_max)
    return jet_p4[keep], jet_event[keep], global_index[keep]


def match_jets(
    jet_p4: np.ndarray, jet_event: np.ndarray, truth: TruthObjects, r: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Match jets to their event's truth objects.

    A jet matches object k when the object and all its valid decay partons lie within
    Delta R < r (rapidity-phi) of the jet axis.

    Args:
        jet_p4: (J, 4); jet_event: (J,) event index of each jet; truth: per-event objects.

    Returns:
        matched: (J,) bool; truth_p4: (J, 4) the matched object (or, for unmatched jets, the
        nearest valid one; zeros if none); truth_pdg: (J,) its PDG id (0 if none);
        truth_partons: (J, 3, 4) its valid decay partons in the recipe's order (top: b, q, q'),
        zero-padded (:data:`colliderlab.jets.N_TRUTH_PARTONS`).
    """
    if len(jet_p4) == 0:
        return np.zeros(0, bool), np.zeros((0, 4)), np.zeros(0, np.int32), np.zeros((0, N_TRUTH_PARTONS, 4))
    y_j, phi_j = kin.rapidity(jet_p4), kin.phi(jet_p4)  # (J,)
    obj = truth.p4[jet_event]  # (J, K, 4)
    dr_obj = kin.delta_r(y_j[:, None], phi_j[:, None], kin.rapidity(obj), kin.phi(obj))  # (J, K)
    par = truth.partons[jet_event]  # (J, K, Q, 4)
    dr_par = kin.delta_r(y_j[:, None, None], phi_j[:, None, None], kin.rapidity(par), kin.phi(par))
    par_ok = ((dr_par < r) | ~truth.parton_valid[jet_event]).all(axis=-1)  # (J, K)
    valid = truth.valid[jet_event]  # (J, K)
    ok = valid & (dr_obj < r) & par_ok  # (J, K)
    matched = ok.any(axis=1)
    score = np.where(ok, dr_obj, np.where(valid, 100.0 + dr_obj, np.inf))  # matched first, then nearest
    best = np.argmin(score, axis=1)  # (J,)
    rows = np.arange(len(jet_p4))
    has = np.isfinite(score[rows, best])
    truth_p4 = np.where(has[:, None], obj[rows, best], 0.0)
    truth_pdg = np.where(has, truth.pdg[jet_event][rows, best], 0).astype(np.int32)
    q = min(par.shape[2], N_TRUTH_PARTONS)
    partons = np.zeros((len(jet_p4), N_TRUTH_PARTONS, 4))
    ok_par = truth.parton_valid[jet_event][rows, best][:, :q] & has[:, None]  # (J, q)
    partons[:, :q] = np.where(ok_par[..., None], par[rows, best][:, :q], 0.0)
    return matched, truth_p4, truth_pdg, partons


def _pack(cands: ak.Array, jet_p4: np.ndarray, constituents: ak.Array, n_particles: int) -> dict[str, np.ndarray]:
    """Gather each jet's constituents, order them by pT and pad/clip to ``n_particles``."""
    flat = ak.flatten(cands)
    counts = ak.to_numpy(ak.num(constituents))  # (J,)
    gidx = ak.to_numpy(ak.flatten(constituents))
    p4 = np.stack([ak.to_numpy(flat[f])[gidx] for f in ("E", "px", "py", "pz")], axis=-1)  # (C, 4)
    extra = {f: ak.to_numpy(flat[f])[gidx] for f in ("charge", "pid", "d0", "dz")}
    n_jets = len(counts)
    jet_of = np.repeat(np.arange(n_jets), counts)  # (C,)
    # Order by (jet, -pT), then the rank of each constituent within its jet.
    order = np.lexsort((-kin.pt(p4), jet_of))
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rank = np.arange(len(order)) - np.repeat(starts, counts)
    keep = rank < n_particles
    src = order[keep]
    row, col = jet_of[src], rank[keep]
    out = {
        "p4": np.zeros((n_jets, n_particles, 4), np.float32),
        "mask": np.zeros((n_jets, n_particles), bool),
        "charge": np.zeros((n_jets, n_particles), np.int8),
        "pid": np.zeros((n_jets, n_particles), np.int8),
        "d0": np.zeros((n_jets, n_particles), np.float32),
        "dz": np.zeros((n_jets, n_particles), np.float32),
    }
    out["p4"][row, col] = p4[src]
    out["mask"][row, col] = True
    for f, v in extra.items():
        out[f][row, col] = v[src]
    return out


def generate_chunk(process: str | ProcessRecipe, config: GenConfig, chunk: int) -> ChunkResult:
    """Generate one chunk of ``config.chunk_events`` events of ``process`` and return its jets.

    Deterministic in (config, process, chunk). Jets that fail the truth match of a process that
    requires one are dropped.
    """
    from colliderlab.physics.detector import apply_detector, load_card

    recipe = get_process(process) if isinstance(process, str) else process
    seconds: dict[str, float] = {s: 0.0 for s in STAGES}
    py = _pythia(tuple(recipe.pythia_settings(config)))
    py.rndm.init(chunk_seed(config.seed, recipe.name, chunk))
    with _timed(seconds, "pythia"):
        before = snapshot(py)
        events = py.nextBatch(config.chunk_events)
        xsec = chunk_counts(before, snapshot(py))
    with _timed(seconds, "extract"):
        prt = events.prt
        particles = final_state_particles(prt, py)
    if config.pileup_mu > 0:
        with _timed(seconds, "pileup"):
            particles = _overlay_pileup(particles, config, recipe.name, chunk)
    with _timed(seconds, "detector"):
        card = load_card(config.detector)
        rng = np.random.default_rng(chunk_seed(config.seed, recipe.name, chunk, "detector"))
        cands = apply_detector(particles, card, rng)
    with _timed(seconds, "cluster"):
        jet_p4, jet_event, constituents = cluster_events(cands, config)
    with _timed(seconds, "match"):
        truth = recipe.truth(prt)
        matched, truth_p4, truth_pdg, truth_partons = match_jets(jet_p4, jet_event, truth, config.jet_r)
        keep = matched if recipe.require_match else np.ones(len(jet_p4), bool)
        arrays = _pack(cands, jet_p4[keep], constituents[keep], config.n_particles)
        batch = JetBatch(
            **arrays,
            jet_p4=jet_p4[keep].astype(np.float64),
            label=np.zeros(int(keep.sum()), np.int64),
            truth_p4=truth_p4[keep],
            truth_pdg=truth_pdg[keep],
            truth_partons=truth_partons[keep],
            label_names=(recipe.name,),
        )
    return ChunkResult(batch=batch, n_events=len(events), seconds=seconds, xsec=xsec)
