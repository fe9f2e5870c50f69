"""EnergyFlow's Pythia quark/gluon jets (arXiv:1810.05165): ``.npz`` with ``X`` (N, M, 4) =
(pT, y, phi, PDG id) zero-padded and ``y`` (1 = quark, 0 = gluon)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from colliderlab import kinematics as kin
from colliderlab.data.errors import DataFormatError
from colliderlab.data.formats._common import (
    PathLike,
    check_exists,
    check_labels,
    check_lengths,
    chunks,
    n_slots,
    row_range,
    sort_by_pt,
)
from colliderlab.data.formats.npz import NPZ_ERRORS, NpyMember
from colliderlab.data.formats.pdg import pdg_charge, pdg_mass
from colliderlab.data.formats.registry import JetFormat
from colliderlab.jets import JetBatch, ParticleID, pid_from_pdg

__all__ = ["QG_LABELS", "QG_FIELDS", "FORMAT", "read_quark_gluon", "iter_quark_gluon", "count_quark_gluon"]

QG_LABELS = ("gluon", "quark")
#: What EnergyFlow's files carry: four-vectors (with the PDG mass) and the PDG id, from which
#: ``charge`` and ``pid`` derive; the jet axis is their sum. No impact parameters, no truth.
QG_FIELDS = frozenset(("p4", "mask", "charge", "pid", "jet_p4", "label"))


@dataclass
class _QGFile:
    path: Path
    X: NpyMember
    y: NpyMember

    @property
    def n_rows(self) -> int:
        return self.X.shape[0]

    def read(self, start: int, stop: int, n_particles: int | None) -> JetBatch:
        try:
            x = self.X.read(start, stop)
            y = self.y.read(start, stop)
        except DataFormatError:
            raise
        except NPZ_ERRORS as exc:
            raise DataFormatError(self.path, f"cannot read rows {start}:{stop}: {exc}") from exc
        return _qg_batch(self.path, x, y, n_slots(n_particles, self.X.shape[1]))


def _qg_batch(path: Path, x: np.ndarray, y: np.ndarray, n_particles: int) -> JetBatch:
    """(pT, y, phi, pdg) rows (N, M, 4) and labels (N,) -> JetBatch."""
    n, m = x.shape[:2]
    pt = x[..., 0].astype(np.float64)
    mask = pt > 0
    mask, x = sort_by_pt(pt, mask, x)
    pt, rap, phi, pdg = (x[..., i].astype(np.float64) for i in range(4))
    mass, charge = pdg_mass(pdg), pdg_charge(pdg)
    p4 = np.where(mask[..., None], kin.from_ptyphim(pt, rap, phi, mass), 0.0)  # (N, M, 4)
    charge = np.where(mask, charge, 0).astype(np.int8)
    pdg_int = np.where(mask & np.isfinite(pdg), pdg, 0).astype(np.int64)
    pid = np.where(mask, pid_from_pdg(pdg_int, charge), ParticleID.UNKNOWN)
    batch = JetBatch.zeros(n, m, QG_LABELS, QG_FIELDS)
    batch.label[...] = check_labels(path, np.asarray(y).reshape(n), QG_LABELS, "array 'y'")
    batch.p4[...] = p4
    batch.mask[...] = mask
    batch.charge[...] = charge
    batch.pid[...] = pid
    batch.jet_p4[...] = kin.sum_p4(p4)  # padding is already zero
    return batch.truncate(n_particles)


@contextmanager
def _open(path: PathLike) -> Iterator[_QGFile]:
    """The open archive with ``X`` and ``y`` checked (names, shapes, agreeing first axes)."""
    p = check_exists(path)
    with ExitStack() as stack:
        try:
            zf = stack.enter_context(zipfile.ZipFile(p))
            names = [n.removesuffix(".npy") for n in zf.namelist()]
            for name in ("X", "y"):
                if name not in names:
                    raise DataFormatError(p, f"missing array '{name}' (arrays in the file: {names})")
            X = NpyMember(p, zf, "X")
            stack.callback(X.close)
            y = NpyMember(p, zf, "y")
            stack.callback(y.close)
        except NPZ_ERRORS as exc:
            if isinstance(exc, DataFormatError):
                raise
            raise DataFormatError(p, f"not a readable .npz archive: {exc}") from exc
        if len(X.shape) != 3 or X.shape[2] != 4:
            raise DataFormatError(
                p, f"array 'X' has shape {X.shape}, expected (N, M, 4) = (pT, y, phi, pid) per particle"
            )
        if len(y.shape) not in (1, 2) or (len(y.shape) == 2 and y.shape[1] != 1):
            raise DataFormatError(p, f"array 'y' has shape {y.shape}, expected ({X.shape[0]},) like 'X'")
        check_lengths(p, {"X": X.shape[0], "y": y.shape[0]}, "arrays 'X' and 'y'")
        yield _QGFile(p, X, y)


def count_quark_gluon(path: PathLike) -> int:
    """Number of jets in a quark/gluon ``.npz`` (reads only the array header)."""
    with _open(path) as f:
        return f.n_rows


def read_quark_gluon(
    path: PathLike, *, start: int = 0, stop: int | None = None, n_particles: int | None = None
) -> JetBatch:
    """Read jets ``[start, stop)`` of EnergyFlow's quark/gluon dataset (arXiv:1810.05165).

    ``X`` (N, M, 4) holds (pT, rapidity, phi, PDG id) with absolute y and phi; four-momenta use
    the PDG mass of each id (:func:`pdg_mass`), charge comes from the id (:func:`pdg_charge`) and
    pid from :func:`colliderlab.jets.pid_from_pdg`. d0/dz and the truth fields are zero (not in
    the dataset: ``fields`` is :data:`QG_FIELDS`). ``label_names = ("gluon", "quark")``; P defaults to the file's M.
    """
    with _open(path) as f:
        s, e = row_range(start, stop, f.n_rows)
        return f.read(s, e, n_particles)


def iter_quark_gluon(
    path: PathLike, *, chunk_size: int = 100_000, n_particles: int | None = None
) -> Iterator[JetBatch]:
    """Iterate over a quark/gluon ``.npz`` in chunks (see :func:`read_quark_gluon`)."""
    with _open(path) as f:
        for s, e in chunks(0, f.n_rows, chunk_size):
            yield f.read(s, e, n_particles)


def _sniff(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        raise DataFormatError(path, "not a readable .npz archive (no zip directory)")
    return True


FORMAT = JetFormat(
    name="quark-gluon",
    extensions=(".npz",),
    sniff=_sniff,
    read=read_quark_gluon,
    iterate=iter_quark_gluon,
    count=count_quark_gluon,
    signature="an EnergyFlow .npz with arrays 'X' and 'y'",
    fields=QG_FIELDS,
)
