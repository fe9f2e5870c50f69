"""The in-memory jet container shared by generation, storage, readers and features.

A :class:`JetBatch` holds ``N`` jets with their constituents padded to ``P`` slots.
Units: GeV for energies and momenta, millimetres for impact parameters, radians for angles.
Constituents are ordered by decreasing pT; padded slots are all-zero with ``mask == False``.

Particle identification uses one enum, :class:`ParticleID`, with the same classes as the
JetClass flags (arXiv:2202.03772): charged hadron, neutral hadron, photon, electron, muon.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from dataclasses import fields as _dataclass_fields
from enum import IntEnum

import numpy as np

__all__ = ["ParticleID", "JetBatch", "ALL_FIELDS", "N_TRUTH_PARTONS", "pid_from_pdg"]


class ParticleID(IntEnum):
    """Particle-flow candidate classes (JetClass's ``part_is*`` flags). 0 marks padding/unknown."""

    UNKNOWN = 0
    CHARGED_HADRON = 1
    NEUTRAL_HADRON = 2
    PHOTON = 3
    ELECTRON = 4
    MUON = 5


def pid_from_pdg(pdg: np.ndarray, charge: np.ndarray) -> np.ndarray:
    """Map PDG ids and charges of final-state particles to :class:`ParticleID` (int8), vectorised.

    Electrons (|id| 11) and muons (|id| 13) keep their class, photons (22) become PHOTON, any
    other charged particle a CHARGED_HADRON and any other neutral one a NEUTRAL_HADRON.
    Neutrinos (12, 14, 16) map to UNKNOWN: they are invisible and callers drop them.
    """
    a = np.abs(np.asarray(pdg))
    q = np.asarray(charge)
    out = np.where(q != 0, ParticleID.CHARGED_HADRON, ParticleID.NEUTRAL_HADRON).astype(np.int8)
    out[a == 22] = ParticleID.PHOTON
    out[a == 11] = ParticleID.ELECTRON
    out[a == 13] = ParticleID.MUON
    out[(a == 12) | (a == 14) | (a == 16)] = ParticleID.UNKNOWN
    return out


#: Every per-particle and per-jet array field of a :class:`JetBatch`, in storage order.
ALL_FIELDS: frozenset[str] = frozenset(
    ("p4", "mask", "charge", "pid", "d0", "dz", "jet_p4", "label", "truth_p4", "truth_pdg", "truth_partons")
)

#: Decay-parton slots of :attr:`JetBatch.truth_partons`: a top's b and two W-decay quarks; W/Z/H: 2.
N_TRUTH_PARTONS = 3


@dataclass
class JetBatch:
    """N jets with padded constituents.

    Shapes:
        p4:        (N, P, 4) float32, constituent (E, px, py, pz) in GeV, pT-ordered, zero-padded
        mask:      (N, P) bool, True for real constituents
        charge:    (N, P) int8, electric charge in units of e (0 where unknown)
        pid:       (N, P) int8, :class:`ParticleID`
        d0, dz:    (N, P) float32, transverse / longitudinal impact parameter in mm (0 for neutrals)
        jet_p4:    (N, 4) float64, jet (E, px, py, pz) in GeV
        label:     (N,) int64, index into ``label_names``
        truth_p4:  (N, 4) float64, matched truth particle (top, W, Z, H, hard parton); zeros if none
        truth_pdg: (N,) int32, PDG id of the matched truth particle (0 if none)
        truth_partons: (N, 3, 4) float64, the matched object's decay partons (E, px, py, pz): a
                   top's b then its W's two quarks; a W, Z or H's two quarks then zeros; zeros
                   for jets without (QCD) and for sources that do not store them (None given:
                   zeros, and the field is not carried)
        label_names: class names, ``label_names[label[i]]`` is jet i's class
        fields:    the array fields the source actually carried (a subset of :data:`ALL_FIELDS`);
                   the others hold zeros filled in by the reader. Default: all of them, for code
                   that builds batches itself. Not an array: :meth:`arrays` leaves it out,
                   slicing and :meth:`truncate` keep it, :meth:`concatenate` intersects it. A jet
                   axis a reader derives (the sum of the constituents) counts as carried.
    """

    p4: np.ndarray
    mask: np.ndarray
    charge: np.ndarray
    pid: np.ndarray
    d0: np.ndarray
    dz: np.ndarray
    jet_p4: np.ndarray
    label: np.ndarray
    truth_p4: np.ndarray
    truth_pdg: np.ndarray
    truth_partons: np.ndarray | None = None
    label_names: tuple[str, ...] = field(default_factory=tuple)
    fields: frozenset[str] = ALL_FIELDS

    # Per-jet arrays (first axis N) that are not constituent-level.
    JET_FIELDS = ("jet_p4", "label", "truth_p4", "truth_pdg", "truth_partons")
    PARTICLE_FIELDS = ("p4", "mask", "charge", "pid", "d0", "dz")

    def __post_init__(self) -> None:
        self.label_names = tuple(self.label_names)
        self.fields = frozenset(self.fields)
        if self.truth_partons is None:  # a source without decay partons: zeros, not carried
            self.truth_partons = np.zeros((self.p4.shape[0], N_TRUTH_PARTONS, 4), np.float64)
            self.fields = self.fields - {"truth_partons"}
        unknown = sorted(self.fields - ALL_FIELDS)
        if unknown:
            raise ValueError(f"JetBatch.fields has unknown name(s) {unknown}; valid: {', '.join(sorted(ALL_FIELDS))}")
        if self.p4.ndim != 3 or self.p4.shape[-1] != 4:
            raise ValueError(f"JetBatch.p4 must have shape (N, P, 4), got {self.p4.shape}")
        n, p = self.p4.shape[:2]
        for name in self.PARTICLE_FIELDS[1:]:
            arr = getattr(self, name)
            if arr.shape != (n, p):
                raise ValueError(f"JetBatch.{name} must have shape (N, P) = ({n}, {p}), got {arr.shape}")
        for name, tail in (("jet_p4", (4,)), ("label", ()), ("truth_p4", (4,)), ("truth_pdg", ()),
                           ("truth_partons", (N_TRUTH_PARTONS, 4))):
            arr = getattr(self, name)
            if arr.shape != (n, *tail):
                raise ValueError(f"JetBatch.{name} must have shape {(n, *tail)}, got {arr.shape}")

    def __len__(self) -> int:
        return self.p4.shape[0]

    @property
    def n_particles(self) -> int:
        """The padded constituent count P."""
        return self.p4.shape[1]

    @property
    def multiplicity(self) -> np.ndarray:
        """Number of real constituents per jet. (N,)"""
        return self.mask.sum(axis=1)

    @classmethod
    def empty(cls, n_particles: int, label_names: tuple[str, ...] = ()) -> JetBatch:
        """A batch with zero jets and ``n_particles`` slots."""
        return cls.zeros(0, n_particles, label_names)

    @classmethod
    def zeros(
        cls, n: int, n_particles: int, label_names: tuple[str, ...] = (), fields: frozenset[str] = ALL_FIELDS
    ) -> JetBatch:
        """An all-padding batch of ``n`` jets (for readers to fill in); ``fields``: what the
        reader will fill from its source."""
        return cls(
            p4=np.zeros((n, n_particles, 4), np.float32),
            mask=np.zeros((n, n_particles), bool),
            charge=np.zeros((n, n_particles), np.int8),
            pid=np.zeros((n, n_particles), np.int8),
            d0=np.zeros((n, n_particles), np.float32),
            dz=np.zeros((n, n_particles), np.float32),
            jet_p4=np.zeros((n, 4), np.float64),
            label=np.zeros(n, np.int64),
            truth_p4=np.zeros((n, 4), np.float64),
            truth_pdg=np.zeros(n, np.int32),
            truth_partons=np.zeros((n, N_TRUTH_PARTONS, 4), np.float64),
            label_names=label_names,
            fields=fields,
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """All array fields by name (``label_names`` and ``fields`` are not arrays)."""
        return {
            f.name: getattr(self, f.name)
            for f in _dataclass_fields(self)
            if f.name not in ("label_names", "fields")
        }

    def with_fields(self, fields: frozenset[str] | set[str]) -> JetBatch:
        """The same arrays, with ``fields`` narrowed to those also in ``fields``."""
        return replace(self, fields=self.fields & frozenset(fields))

    def __getitem__(self, index) -> JetBatch:
        """Select jets (slice, integer array or boolean mask); keeps ``label_names``."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1 if int(index) != -1 else None)
        return replace(self, **{k: v[index] for k, v in self.arrays().items()})

    def truncate(self, n_particles: int) -> JetBatch:
        """Keep at most ``n_particles`` constituent slots (the hardest ones), or pad up to it."""
        p = self.n_particles
        if n_particles == p:
            return self
        if n_particles < p:
            return replace(self, **{k: getattr(self, k)[:, :n_particles] for k in self.PARTICLE_FIELDS})
        pad = n_particles - p
        out = {}
        for k in self.PARTICLE_FIELDS:
            arr = getattr(self, k)
            widths = [(0, 0), (0, pad)] + [(0, 0)] * (arr.ndim - 2)
            out[k] = np.pad(arr, widths)
        return replace(self, **out)

    @staticmethod
    def concatenate(batches: list[JetBatch]) -> JetBatch:
        """Join batches along the jet axis (padding to the largest P); label names must agree.
        The result carries the fields every batch carried."""
        if not batches:
            raise ValueError("JetBatch.concatenate needs at least one batch")
        names = batches[0].label_names
        for b in batches[1:]:
            if b.label_names != names:
                raise ValueError(f"label_names differ: {names} vs {b.label_names}")
        p = max(b.n_particles for b in batches)
        batches = [b.truncate(p) for b in batches]
        arrays = {k: np.concatenate([b.arrays()[k] for b in batches]) for k in batches[0].arrays()}
        carried = frozenset.intersection(*(b.fields for b in batches))
        return JetBatch(**arrays, label_names=names, fields=carried)
