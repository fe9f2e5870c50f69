"""Named Pythia 8 process recipes, their truth definitions, and dataset presets.

A recipe says which Pythia processes to switch on, how to set the pT-hat window from the
jet pT window, and which truth objects a jet must be matched to (a top and its three decay
quarks; a W/Z/H and its two decay quarks; the hard-process parton for quark/gluon jets).
Truth objects are extracted from whole Pythia event records (awkward arrays from
``Pythia.nextBatch``) without per-particle Python loops.

Presets mimic the public datasets (arXiv:1902.09914, 1810.05165, 1804.06913).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import awkward as ak
import numpy as np

from colliderlab.jets import ALL_FIELDS
from colliderlab.physics.variations import check_shower, get_variation, shower_settings

__all__ = [
    "GenConfig",
    "ProcessRecipe",
    "TruthObjects",
    "PROCESSES",
    "PRESETS",
    "Preset",
    "get_process",
    "get_preset",
    "parse_processes",
]


@dataclass(frozen=True)
class GenConfig:
    """Settings of a generation run (saved in every file's attributes).

    Attributes:
        sqrt_s: centre-of-mass energy in GeV.
        jet_r: anti-kT radius R; also the truth-matching radius.
        pt_min, pt_max: accepted jet pT window in GeV.
        abs_eta_max: accepted |eta| (or |y| when ``use_rapidity``) of the jet axis.
        use_rapidity: cut on the jet rapidity instead of its pseudorapidity (quark/gluon dataset).
        mpi: multiple parton interactions on/off.
        pileup_mu: mean of the Poisson number of soft-QCD inelastic events overlaid per event.
        pileup_sigma_z: spread (mm) of the pileup vertices along the beam.
        detector: detector card name or YAML path (see :mod:`colliderlab.physics.detector`).
        n_particles: constituent slots P stored per jet (the hardest P are kept).
        pthat_min, pthat_max: override the pT-hat window (default: jet window -/+ ``pthat_margin``).
        pthat_margin: GeV below ``pt_min`` and above ``pt_max`` for the default pT-hat window.
        tau0_max: particles with a proper lifetime c*tau0 above this (mm) are left undecayed, as
            in the LHC experiments' generator set-ups (K_S, Lambda, ... reach the detector; b and
            c hadrons still decay, which is what makes their tracks displaced). None: Pythia's default.
        seed: master seed; every chunk's Pythia and detector seeds derive from it.
        chunk_events: events per work unit (the unit of parallelism and of resumption).
        shower: parton shower, ``simple`` (Pythia's default) or ``vincia``
            (:data:`colliderlab.physics.variations.SHOWERS`).
        variation: generator variation for systematics (:data:`colliderlab.physics.variations.VARIATIONS`:
            ``nominal``, FSR/ISR mu_R x 2 or x 0.5, Lund a/b +-0.1).
        extra_settings: additional Pythia ``readString`` lines, applied last.
    """

    sqrt_s: float = 14000.0
    jet_r: float = 0.8
    pt_min: float = 550.0
    pt_max: float = 650.0
    abs_eta_max: float = 2.0
    use_rapidity: bool = False
    mpi: bool = True
    pileup_mu: float = 0.0
    pileup_sigma_z: float = 50.0
    detector: str = "ideal"
    n_particles: int = 200
    pthat_min: float | None = None
    pthat_max: float | None = None
    pthat_margin: float = 50.0
    tau0_max: float | None = 10.0
    seed: int = 12345
    chunk_events: int = 200
    shower: str = "simple"
    variation: str = "nominal"
    extra_settings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.pt_min < self.pt_max:
            raise ValueError(f"pt_min ({self.pt_min}) must be below pt_max ({self.pt_max})")
        if self.jet_r <= 0 or self.abs_eta_max <= 0 or self.n_particles <= 0 or self.chunk_events <= 0:
            raise ValueError("jet_r, abs_eta_max, n_particles and chunk_events must be positive")
        if self.pileup_mu < 0:
            raise ValueError(f"pileup_mu must be >= 0, got {self.pileup_mu}")
        object.__setattr__(self, "extra_settings", tuple(self.extra_settings))
        check_shower(self.shower)
        get_variation(self.variation)

    @property
    def pthat_window(self) -> tuple[float, float]:
        lo = self.pthat_min if self.pthat_min is not None else max(self.pt_min - self.pthat_margin, 0.0)
        hi = self.pthat_max if self.pthat_max is not None else self.pt_max + self.pthat_margin
        return lo, hi


@dataclass(frozen=True)
class TruthObjects:
    """Truth objects per event, fixed count K per event (padded with ``valid == False``).

    Shapes (E events, K objects, Q decay partons per object):
        p4:            (E, K, 4) float64 (E, px, py, pz) of the object (top, W, Z, H, parton)
        pdg:           (E, K) int32
        valid:         (E, K) bool
        partons:       (E, K, Q, 4) float64 decay partons that must lie inside the jet too
        parton_valid:  (E, K, Q) bool
    """

    p4: np.ndarray
    pdg: np.ndarray
    valid: np.ndarray
    partons: np.ndarray
    parton_valid: np.ndarray


@dataclass(frozen=True)
class _FlatRecord:
    """A batch of Pythia event records flattened to numpy (one row per record entry).

    ``mother`` holds global row indices, so parents are found with plain numpy indexing.
    """

    event: np.ndarray  # (R,) event index of each row
    offsets: np.ndarray  # (E,) first row of each event
    pdg: np.ndarray  # (R,)
    status: np.ndarray  # (R,)
    mother: np.ndarray  # (R,) global row of mother1
    p4: np.ndarray  # (R, 4) (E, px, py, pz)

    @classmethod
    def from_awkward(cls, prt: ak.Array) -> _FlatRecord:
        counts = ak.to_numpy(ak.num(prt))
        offsets = np.r_[0, np.cumsum(counts)[:-1]]
        event = np.repeat(np.arange(len(counts)), counts)
        p = prt.p
        p4 = np.stack([ak.to_numpy(ak.flatten(c)) for c in (p.e, p.px, p.py, p.pz)], axis=-1)
        return cls(
            event=event,
            offsets=offsets,
            pdg=ak.to_numpy(ak.flatten(prt.id)),
            status=ak.to_numpy(ak.flatten(prt.status)),
            mother=ak.to_numpy(ak.flatten(prt.mother1)) + offsets[event],
            p4=p4,
        )

    @property
    def n_events(self) -> int:
        return len(self.offsets)


def _scatter(event: np.ndarray, slot: np.ndarray, values: np.ndarray, shape: tuple[int, ...], order_key=None):
    """Place rows into fixed (E, K, Q, ...) slots: rows of one (event, slot) fill Q in order.

    Args:
        event, slot: (M,) destination event and object slot of each row.
        values: (M, ...) what to place.
        shape: (E, K, Q); rows beyond Q in one (event, slot) are dropped.
        order_key: (M,) optional sort key within an (event, slot) group.

    Returns:
        out: (E, K, Q, ...) zeros where empty; filled: (E, K, Q) bool.
    """
    e, k, q = shape
    key = np.zeros(len(event)) if order_key is None else order_key
    order = np.lexsort((key, slot, event))
    group = event[order] * k + slot[order]
    start = np.r_[0, np.nonzero(np.diff(group))[0] + 1]
    rank = np.arange(len(order)) - np.repeat(start, np.diff(np.r_[start, len(order)]))
    keep = rank < q
    out = np.zeros((e, k, q, *values.shape[1:]), dtype=values.dtype)
    filled = np.zeros((e, k, q), bool)
    src = order[keep]
    out[event[src], slot[src], rank[keep]] = values[src]
    filled[event[src], slot[src], rank[keep]] = True
    return out, filled


def _hard_partons(prt: ak.Array) -> TruthObjects:
    """The outgoing hard-process partons (record positions 5, 6 of a 2 -> 2 process), K = 2, Q = 0."""
    rec = _FlatRecord.from_awkward(prt)
    rows = rec.offsets[:, None] + np.array([5, 6])  # (E, 2)
    pdg = rec.pdg[rows].astype(np.int32)
    valid = (np.abs(pdg) <= 5) | (pdg == 21)
    e = rec.n_events
    return TruthObjects(rec.p4[rows], pdg, valid, np.zeros((e, 2, 0, 4)), np.zeros((e, 2, 0), bool))


def _boson_truth(boson_ids: tuple[int, ...]) -> Callable[[ak.Array], TruthObjects]:
    """Truth for X -> q q' decays: the boson's last copy and its two decay quarks (K = 1, Q = 2)."""

    def truth(prt: ak.Array) -> TruthObjects:
        rec = _FlatRecord.from_awkward(prt)
        a = np.abs(rec.pdg)
        dec = np.nonzero((np.abs(rec.status) == 23) & (a >= 1) & (a <= 5) & np.isin(a[rec.mother], boson_ids))[0]
        slot = np.zeros(len(dec), np.int64)
        partons, pvalid = _scatter(rec.event[dec], slot, rec.p4[dec], (rec.n_events, 1, 2))
        boson_rows, _ = _scatter(rec.event[dec], slot, rec.mother[dec], (rec.n_events, 1, 1))
        boson_rows = boson_rows[:, :, 0]  # (E, 1)
        valid = pvalid.all(axis=-1)  # an object needs both decay quarks
        p4 = np.where(valid[..., None], rec.p4[boson_rows], 0.0)
        pdg = np.where(valid, rec.pdg[boson_rows], 0).astype(np.int32)
        return TruthObjects(p4, pdg, valid, partons, pvalid)

    return truth


def _top_truth(prt: ak.Array) -> TruthObjects:
    """Truth for t -> W b, W -> q q': each top's last copy and its b and two W-decay quarks.

    K = 2 (slot 0 top, slot 1 antitop), Q = 3 (b first). The top is its last copy before the
    decay (the b's mother); the decay partons are the status-23 quarks of the top and W decays,
    as in the top-tagging reference dataset's matching (arXiv:1902.09914). In ttbar every W
    comes from a top (t -> W+ b), so the W's charge says which top its quarks belong to.
    """
    rec = _FlatRecord.from_awkward(prt)
    a = np.abs(rec.pdg)
    mother_id = rec.pdg[rec.mother]
    is_q = (np.abs(rec.status) == 23) & (a >= 1) & (a <= 5)
    from_top = is_q & (np.abs(mother_id) == 6)
    rows = np.nonzero(from_top | (is_q & (np.abs(mother_id) == 24)))[0]
    slot = (mother_id[rows] < 0).astype(np.int64)  # 0: top / W+, 1: antitop / W-
    kind = (~from_top[rows]).astype(np.int64)  # b first, then the W's quarks
    shape = (rec.n_events, 2, 3)
    partons, pvalid = _scatter(rec.event[rows], slot, rec.p4[rows], shape, order_key=kind)
    b_rows = rows[kind == 0]
    top_rows, has_top = _scatter(rec.event[b_rows], slot[kind == 0], rec.mother[b_rows], (rec.n_events, 2, 1))
    top_rows, has_top = top_rows[..., 0], has_top[..., 0]  # (E, 2)
    valid = pvalid.all(axis=-1) & has_top
    p4 = np.where(has_top[..., None], rec.p4[top_rows], 0.0)
    pdg = np.where(has_top, rec.pdg[top_rows], 0).astype(np.int32)
    return TruthObjects(p4, pdg, valid, partons, pvalid)


def _single_parton(flavour: str) -> Callable[[ak.Array], TruthObjects]:
    """Truth for Z + jet: the hard-process outgoing parton (EnergyFlow's q/g labelling, arXiv:1810.05165)."""

    def truth(prt: ak.Array) -> TruthObjects:
        t = _hard_partons(prt)
        is_g = t.pdg == 21
        want = is_g if flavour == "gluon" else (~is_g & (np.abs(t.pdg) <= 5) & (t.pdg != 0))
        return TruthObjects(t.p4, t.pdg, t.valid & want, t.partons, t.parton_valid)

    return truth


_BEAMS = ("Beams:idA = 2212", "Beams:idB = 2212")
_HADRONIC_W = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5")
_HADRONIC_Z = ("23:onMode = off", "23:onIfAny = 1 2 3 4 5")
_INVISIBLE_Z = ("23:onMode = off", "23:onIfAny = 12 14 16")


@dataclass(frozen=True)
class ProcessRecipe:
    """A named way to make one class of jets.

    Attributes:
        name: the process name used on the command line.
        description: what it is, in one sentence, with the reference.
        settings: Pythia ``readString`` lines specific to the process (beams, energy and the
            pT-hat window are added by :func:`pythia_settings`).
        truth: event records -> :class:`TruthObjects`.
        require_match: drop jets that match no valid truth object (all but ``qcd``).
    """

    name: str
    description: str
    settings: tuple[str, ...]
    truth: Callable[[ak.Array], TruthObjects]
    require_match: bool = True

    def pythia_settings(self, config: GenConfig) -> list[str]:
        """All Pythia settings for this process under ``config``."""
        lo, hi = config.pthat_window
        out = [
            *_BEAMS,
            f"Beams:eCM = {config.sqrt_s}",
            f"PhaseSpace:pTHatMin = {lo}",
            f"PhaseSpace:pTHatMax = {hi}",
            f"PartonLevel:MPI = {'on' if config.mpi else 'off'}",
            *(
                ("ParticleDecays:limitTau0 = on", f"ParticleDecays:tau0Max = {config.tau0_max}")
                if config.tau0_max is not None
                else ()
            ),
            *self.settings,
            *shower_settings(config.shower, config.variation),
            *config.extra_settings,
        ]
        return out


PROCESSES: dict[str, ProcessRecipe] = {
    r.name: r
    for r in (
        ProcessRecipe(
            "top",
            "ttbar with both W -> q q'; a jet is a top jet when the top and its b and two W-decay "
            "quarks all lie within Delta R < R of the jet axis (arXiv:1902.09914).",
            ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *_HADRONIC_W),
            _top_truth,
        ),
        ProcessRecipe(
            "qcd",
            "Hard QCD 2 -> 2 dijets (all flavours), pT-hat window from the jet pT window; every jet "
            "in the window is kept, truth = the nearest hard-process parton.",
            ("HardQCD:all = on",),
            _hard_partons,
            require_match=False,
        ),
        ProcessRecipe(
            "w",
            "W + jet with W -> q q' (qqbar -> W g, q g -> W q), matched to the W and both quarks.",
            ("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on", *_HADRONIC_W),
            _boson_truth((24,)),
        ),
        ProcessRecipe(
            "z",
            "Z + jet with Z -> q qbar (pure Z, no gamma*), matched to the Z and both quarks.",
            (
                "WeakBosonAndParton:qqbar2gmZg = on",
                "WeakBosonAndParton:qg2gmZq = on",
                "WeakZ0:gmZmode = 2",
                *_HADRONIC_Z,
            ),
            _boson_truth((23,)),
        ),
        ProcessRecipe(
            "higgs",
            "H + jet (top-loop-resolved gg -> Hg, qg -> Hq, qqbar -> Hg) with H -> b bbar, matched to "
            "the H and both b quarks.",
            (
                "HiggsSM:gg2Hg(l:t) = on",
                "HiggsSM:qg2Hq(l:t) = on",
                "HiggsSM:qqbar2Hg(l:t) = on",
                "25:onMode = off",
                "25:onIfMatch = 5 -5",
            ),
            _boson_truth((25,)),
        ),
        ProcessRecipe(
            "quark",
            "Z(-> nu nu) + quark: q g -> Z q, labelled by the hard-process parton and matched to "
            "it within R (EnergyFlow's quark/gluon recipe, arXiv:1810.05165).",
            ("WeakBosonAndParton:qg2gmZq = on", "WeakZ0:gmZmode = 2", *_INVISIBLE_Z),
            _single_parton("quark"),
        ),
        ProcessRecipe(
            "gluon",
            "Z(-> nu nu) + gluon: q qbar -> Z g, labelled by the hard-process parton and matched to "
            "it within R (EnergyFlow's quark/gluon recipe, arXiv:1810.05165).",
            ("WeakBosonAndParton:qqbar2gmZg = on", "WeakZ0:gmZmode = 2", *_INVISIBLE_Z),
            _single_parton("gluon"),
        ),
    )
}


@dataclass(frozen=True)
class Preset:
    """A dataset recipe: processes (in label order), the settings that differ from GenConfig's
    defaults, and the information content of the public dataset it mimics.

    ``fields`` names the :class:`~colliderlab.jets.JetBatch` fields the public files carry. Our
    generator stores every field (charge, pid, d0, dz) for every preset, but a model trained on a
    preset sample should apply to the public files: ``features: auto`` (and the default
    observables) resolve against ``fields`` (:func:`colliderlab.data.contract.information_content`),
    and the generated file's provenance records them.

    * ``toptag``: four-vectors only (plus the truth top and the label), as the pandas files of
      arXiv:1902.09914;
    * ``quark-gluon``: four-vectors and the PDG id, as EnergyFlow's files (arXiv:1810.05165);
      ``charge`` and the particle-flow flags ``pid`` derive from the id, impact parameters do not;
    * ``hls4ml``: the constituent lists of the 150-particle files hold 16 kinematic features per
      particle (momenta, energies, angles relative to the jet) and, as far as we know, no PDG id
      or charge: four-vectors only. This is from a secondary source (REFERENCE.md section 3,
      marked [S]), not read in the files themselves.
    """

    name: str
    description: str
    processes: tuple[str, ...]
    overrides: dict
    fields: frozenset[str] = ALL_FIELDS

    def information(self) -> dict:
        """What the generated file's provenance records about the preset."""
        return {"name": self.name, "description": self.description, "fields": sorted(self.fields)}


_FOUR_VECTORS = frozenset(("p4", "mask", "jet_p4", "label"))


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "toptag",
            "Top-tagging reference dataset (arXiv:1902.09914): top vs QCD, 14 TeV, no MPI, no pileup, "
            "ATLAS-like detector, anti-kT R=0.8, pT 550-650 GeV, |eta| < 2.",
            ("qcd", "top"),
            dict(sqrt_s=14000.0, mpi=False, detector="atlas-like", jet_r=0.8, pt_min=550.0, pt_max=650.0, abs_eta_max=2.0),
            _FOUR_VECTORS | {"truth_p4"},
        ),
        Preset(
            "quark-gluon",
            "Quark/gluon dataset (arXiv:1810.05165): Z(->nu nu) + q / g, 14 TeV, MPI on, no detector, "
            "anti-kT R=0.4, pT 500-550 GeV, |y| < 1.7.",
            ("gluon", "quark"),
            dict(sqrt_s=14000.0, mpi=True, detector="ideal", jet_r=0.4, pt_min=500.0, pt_max=550.0, abs_eta_max=1.7, use_rapidity=True),
            _FOUR_VECTORS | {"charge", "pid"},
        ),
        Preset(
            "hls4ml",
            "hls4ml LHC jet dataset (arXiv:1804.06913): g, q, W, Z, t jets near 1 TeV, 13 TeV, MPI on, "
            "anti-kT R=0.8, jet pT 800-1200 GeV, |eta| < 2 (labels gluon, quark, w, z, top).",
            ("gluon", "quark", "w", "z", "top"),
            dict(sqrt_s=13000.0, mpi=True, detector="ideal", jet_r=0.8, pt_min=800.0, pt_max=1200.0, abs_eta_max=2.0, pthat_margin=100.0),
            _FOUR_VECTORS,
        ),
    )
}


def get_process(name: str) -> ProcessRecipe:
    """The recipe called ``name``; an unknown name lists the valid ones."""
    try:
        return PROCESSES[name]
    except KeyError:
        raise ValueError(f"unknown process {name!r}; valid processes: {', '.join(PROCESSES)}") from None


def get_preset(name: str) -> Preset:
    """The preset called ``name``; an unknown name lists the valid ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}") from None


def parse_processes(spec: str) -> tuple[str, ...]:
    """``"top,qcd"`` -> ``("top", "qcd")``, validating every name and refusing duplicates."""
    names = tuple(s.strip() for s in spec.split(",") if s.strip())
    if not names:
        raise ValueError(f"no process given; valid processes: {', '.join(PROCESSES)}")
    for n in names:
        get_process(n)
    if len(set(names)) != len(names):
        raise ValueError(f"a process is listed twice in {spec!r}")
    return names
