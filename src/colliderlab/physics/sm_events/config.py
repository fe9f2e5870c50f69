"""Names, features and settings of the event-level samples (see :mod:`colliderlab.physics.sm_events`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "SM_PROCESSES",
    "SIGNAL_PROCESSES",
    "PROCESSES",
    "FEATURE_NAMES",
    "LEPTON_FIELDS",
    "JET_FIELDS",
    "EventConfig",
    "check_process",
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
