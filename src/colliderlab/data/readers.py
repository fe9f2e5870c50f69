"""Readers for the public jet datasets, into :class:`colliderlab.jets.JetBatch`.

Formats (``detect_format`` names):

* ``"toptag"``: the top-tagging reference dataset (arXiv:1902.09914), pandas HDF5 under key
  ``table`` with columns ``E_i, PX_i, PY_i, PZ_i`` (i = 0..199), ``truthE, truthPX, truthPY,
  truthPZ``, ``is_signal_new`` and ``ttv``. Written with pandas (``fixed`` or ``table``
  format: both can be sliced by row without loading the file).
* ``"quark-gluon"``: EnergyFlow's Pythia quark/gluon jets (arXiv:1810.05165), ``.npz`` with
  ``X`` (N, M, 4) = (pT, y, phi, PDG id) zero-padded and ``y`` (1 = quark, 0 = gluon).
* ``"jetclass"``: JetClass-style ROOT ntuples (arXiv:2202.03772), one jet per TTree entry with
  jagged ``part_*`` branches, scalar ``jet_*`` branches and one-hot ``label_*`` branches.
* ``"colliderlab"``: this package's own HDF5 files (root attribute ``format =
  "colliderlab-jets"``), delegated to :mod:`colliderlab.data.h5`.

Every reader returns constituents in GeV, ordered by decreasing pT (re-sorted when the file is
not), padded or truncated to ``n_particles`` slots (truncation keeps the hardest particles).
``jet_p4`` is the sum of *all* constituents in the file (before truncation) except for
JetClass, whose ``jet_pt/eta/phi/energy`` branches are used. All work is vectorised; files are
read in row ranges so that a chunk is the most that is ever in memory.

``pandas``/``tables`` (top tagging) and ``uproot``/``awkward`` (JetClass) are the ``io``
extra and are imported only by the readers that need them.
"""

from __future__ import annotations

import errno
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab import kinematics as kin
from colliderlab.data.errors import DataFormatError
from colliderlab.jets import JetBatch, ParticleID, pid_from_pdg

__all__ = [
    "FORMATS",
    "detect_format",
    "read_jets",
    "iter_jets",
    "count_jets",
    "read_toptag",
    "iter_toptag",
    "count_toptag",
    "read_quark_gluon",
    "iter_quark_gluon",
    "count_quark_gluon",
    "read_jetclass",
    "iter_jetclass",
    "count_jetclass",
    "pdg_mass",
    "pdg_charge",
    "TOPTAG_LABELS",
    "QG_LABELS",
    "JETCLASS_LABELS",
]

PathLike = str | Path

#: Format name -> file extensions it is stored with.
FORMATS: dict[str, tuple[str, ...]] = {
    "colliderlab": (".h5", ".hdf5", ".hdf"),
    "toptag": (".h5", ".hdf5", ".hdf"),
    "quark-gluon": (".npz",),
    "jetclass": (".root",),
}

TOPTAG_LABELS = ("qcd", "top")
QG_LABELS = ("gluon", "quark")
#: The ten JetClass classes, in the order of the dataset's ``label_*`` branches.
JETCLASS_LABELS = ("QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl")

_TOPTAG_P = 200
_JETCLASS_P = 128
_COLLIDERLAB_FORMAT = "colliderlab-jets"


def _supported() -> str:
    return ", ".join(f"{name} ({'/'.join(ext)})" for name, ext in FORMATS.items())


# --------------------------------------------------------------------------- PDG tables
# Final-state particles (|PDG id|, mass in GeV, charge of the positive id in e), masses as in
# EnergyFlow's PARTICLE_MASSES (Pythia 8 particle data). The quark/gluon files contain photons,
# pi+-, K+-, K_L, n, p, e and mu; the rest covers other stable-particle settings.
_PDG_TABLE = np.array(
    [
        (11, 0.000511, -1),  # e-
        (12, 0.0, 0),  # nu_e
        (13, 0.10566, -1),  # mu-
        (14, 0.0, 0),  # nu_mu
        (16, 0.0, 0),  # nu_tau
        (22, 0.0, 0),  # photon
        (111, 0.13498, 0),  # pi0
        (130, 0.49761, 0),  # K_L
        (211, 0.13957, 1),  # pi+
        (310, 0.49761, 0),  # K_S
        (321, 0.49368, 1),  # K+
        (2112, 0.93957, 0),  # neutron
        (2212, 0.93827, 1),  # proton
        (3112, 1.19745, -1),  # Sigma-
        (3122, 1.11568, 0),  # Lambda
        (3222, 1.18937, 1),  # Sigma+
        (3312, 1.32171, -1),  # Xi-
        (3322, 1.31486, 0),  # Xi0
        (3334, 1.67245, -1),  # Omega-
    ]
)
_PDG_IDS = _PDG_TABLE[:, 0].astype(np.int64)
_PDG_MASSES = _PDG_TABLE[:, 1]
_PDG_CHARGES = _PDG_TABLE[:, 2].astype(np.int8)


def _pdg_mass_charge(pdg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masses (float64, GeV) and charges (int8, e) for PDG ids; unknown ids get 0 and 0."""
    pdg = np.rint(np.asarray(pdg, dtype=np.float64))
    a = np.abs(pdg).astype(np.int64)
    idx = np.clip(np.searchsorted(_PDG_IDS, a), 0, len(_PDG_IDS) - 1)
    known = _PDG_IDS[idx] == a
    mass = np.where(known, _PDG_MASSES[idx], 0.0)
    charge = (np.where(known, _PDG_CHARGES[idx], 0) * np.sign(pdg)).astype(np.int8)
    return mass, charge


def pdg_mass(pdg: np.ndarray) -> np.ndarray:
    """Mass in GeV of final-state particles from their PDG ids (any shape, float or int ids).

    Unknown ids (and 0, the padding) get mass 0, as EnergyFlow's ``pids2ms`` does.
    """
    return _pdg_mass_charge(pdg)[0]


def pdg_charge(pdg: np.ndarray) -> np.ndarray:
    """Electric charge (int8, units of e) of final-state particles from their PDG ids.

    The sign of the id flips the charge (-211 is a pi-, -11 an e+); unknown ids get 0.
    """
    return _pdg_mass_charge(pdg)[1]


# --------------------------------------------------------------------------- helpers
def _check_exists(path: PathLike) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(errno.ENOENT, "no such jet file", str(p))
    return p


def _row_range(start: int, stop: int | None, n: int) -> tuple[int, int]:
    """Clamp ``[start, stop)`` to ``[0, n)`` with Python slice semantics (negatives count back)."""
    s, e, _ = slice(start, stop).indices(n)
    return s, max(s, e)


def _chunks(start: int, stop: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    for s in range(start, stop, chunk_size):
        yield s, min(s + chunk_size, stop)


def _sort_by_pt(pt: np.ndarray, mask: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    """Reorder the particle axis (axis 1) of ``mask`` and ``arrays`` (N, M, ...) so that real
    particles come first by decreasing pT and padding last (stable). Already sorted input is
    returned as is."""
    key = np.where(mask, -pt, np.inf)  # (N, M)
    if (key[:, 1:] >= key[:, :-1]).all():
        return [mask, *arrays]
    order = np.argsort(key, axis=1, kind="stable")
    return [
        np.take_along_axis(a, order.reshape(order.shape + (1,) * (a.ndim - 2)), axis=1)
        for a in (mask, *arrays)
    ]


def _n_slots(n_particles: int | None, default: int) -> int:
    """The padded particle count P: ``n_particles`` if given (must be positive), else ``default``."""
    if n_particles is None:
        return default
    if n_particles <= 0:
        raise ValueError(f"n_particles must be positive, got {n_particles}")
    return int(n_particles)


def _import(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"reading this format needs '{module}': pip install 'colliderlab[io]'"
        ) from exc


# --------------------------------------------------------------------------- top tagging
_TOPTAG_TRUTH = ("truthE", "truthPX", "truthPY", "truthPZ")
_TOPTAG_LABEL = "is_signal_new"
_TOPTAG_KEY = "table"


def _toptag_columns(n: int) -> list[str]:
    return [f"{v}_{i}" for v in ("E", "PX", "PY", "PZ") for i in range(n)]


@dataclass
class _TopTagFile:
    """An open top-tagging file: its HDFStore, row count and number of constituent columns."""

    path: Path
    store: Any
    n_rows: int
    n_cols: int

    def read(self, start: int, stop: int, n_particles: int) -> JetBatch:
        if stop <= start:
            return JetBatch.zeros(0, n_particles, TOPTAG_LABELS)
        try:
            df = self.store.select(_TOPTAG_KEY, start=start, stop=stop)
        except Exception as exc:  # tables/HDF5 raise many types for damaged data
            raise DataFormatError(self.path, f"cannot read rows {start}:{stop}: {exc}") from exc
        return _toptag_batch(self.path, df, self.n_cols, n_particles)


def _toptag_batch(path: Path, df: Any, n_cols: int, n_particles: int) -> JetBatch:
    """Convert one DataFrame chunk of the top-tagging dataset to a JetBatch."""
    n = len(df)
    flat = df[_toptag_columns(n_cols)].to_numpy(np.float32)  # (N, 4*M)
    p4 = flat.reshape(n, 4, n_cols).transpose(0, 2, 1)  # (N, M, 4)
    mask = p4[..., 0] != 0  # E > 0 marks a real constituent
    mask, p4 = _sort_by_pt(kin.pt(p4), mask, p4)
    labels = df[_TOPTAG_LABEL].to_numpy()
    if not np.isin(labels, (0, 1)).all():
        raise DataFormatError(path, f"column '{_TOPTAG_LABEL}' must hold 0 (QCD) or 1 (top)")
    batch = JetBatch.zeros(n, n_cols, TOPTAG_LABELS)
    batch.p4[...] = np.where(mask[..., None], p4, 0.0)
    batch.mask[...] = mask
    batch.jet_p4[...] = kin.sum_p4(p4, mask)
    batch.label[...] = labels.astype(np.int64)
    batch.truth_p4[...] = df[list(_TOPTAG_TRUTH)].to_numpy(np.float64)
    batch.truth_pdg[...] = np.where(batch.label == 1, 6, 0)
    return batch.truncate(n_particles)


class _open_toptag:
    """Context manager opening a top-tagging file and checking its schema."""

    def __init__(self, path: PathLike) -> None:
        self.path = _check_exists(path)
        self._store: Any = None

    def __enter__(self) -> _TopTagFile:
        pd = _import("pandas")
        try:
            self._store = pd.HDFStore(self.path, mode="r")
        except Exception as exc:  # OSError, tables.HDF5ExtError, ...
            raise DataFormatError(self.path, f"not a readable pandas HDF5 file: {exc}") from exc
        try:
            return self._inspect()
        except BaseException:
            self._store.close()
            raise

    def _inspect(self) -> _TopTagFile:
        store = self._store
        if f"/{_TOPTAG_KEY}" not in store.keys():
            raise DataFormatError(
                self.path, f"no pandas key '{_TOPTAG_KEY}' (keys: {list(store.keys())})"
            )
        try:
            storer = store.get_storer(_TOPTAG_KEY)
            n_rows = int(storer.nrows if storer.is_table else storer.shape[0])
            columns = set(store.select(_TOPTAG_KEY, start=0, stop=0).columns)
        except Exception as exc:
            raise DataFormatError(self.path, f"cannot read key '{_TOPTAG_KEY}': {exc}") from exc
        n_cols = 0
        while f"E_{n_cols}" in columns:
            n_cols += 1
        required = [*_toptag_columns(max(n_cols, 1)), *_TOPTAG_TRUTH, _TOPTAG_LABEL]
        missing = [c for c in required if c not in columns]
        if missing:
            shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
            raise DataFormatError(self.path, f"top-tagging table is missing column(s) {shown}")
        return _TopTagFile(self.path, store, n_rows, n_cols)

    def __exit__(self, *exc: object) -> None:
        self._store.close()


def count_toptag(path: PathLike) -> int:
    """Number of jets in a top-tagging file (reads only the metadata)."""
    with _open_toptag(path) as f:
        return f.n_rows


def read_toptag(
    path: PathLike, *, start: int = 0, stop: int | None = None, n_particles: int | None = None
) -> JetBatch:
    """Read jets ``[start, stop)`` of the top-tagging reference dataset (arXiv:1902.09914).

    Returns a JetBatch with p4 (N, P, 4) from the ``E/PX/PY/PZ_i`` columns (P defaults to 200),
    mask = non-zero E, charge/pid/d0/dz zero (not in the dataset), label 1 = top (``is_signal_new``)
    with ``label_names = ("qcd", "top")``, truth_p4 from ``truth*`` and truth_pdg 6 for top jets.
    """
    with _open_toptag(path) as f:
        s, e = _row_range(start, stop, f.n_rows)
        return f.read(s, e, _n_slots(n_particles, _TOPTAG_P))


def iter_toptag(
    path: PathLike, *, chunk_size: int = 100_000, n_particles: int | None = None
) -> Iterator[JetBatch]:
    """Iterate over a top-tagging file in chunks of ``chunk_size`` jets (see :func:`read_toptag`)."""
    with _open_toptag(path) as f:
        for s, e in _chunks(0, f.n_rows, chunk_size):
            yield f.read(s, e, _n_slots(n_particles, _TOPTAG_P))


# --------------------------------------------------------------------------- quark/gluon (.npz)
_ZIP_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # 30 bytes, see the ZIP APPNOTE section 4.3.7
_NPZ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error)


class _NpyMember:
    """One ``.npy`` array inside an ``.npz`` archive, read by rows along its first axis.

    ``np.load(..., mmap_mode="r")`` ignores ``mmap_mode`` for ``.npz`` files and loads a whole
    array on access. Here an uncompressed member (``np.savez``) is memory-mapped in place and a
    compressed one (``np.savez_compressed``) is streamed, so a row range costs only its rows.
    """

    def __init__(self, path: Path, zf: zipfile.ZipFile, name: str) -> None:
        self.path, self.name = path, name
        self._zf, self._stream = zf, None
        self._info = zf.getinfo(f"{name}.npy")
        self._mmap: np.ndarray | None = None
        self._full: np.ndarray | None = None
        with zf.open(self._info) as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
            else:  # rare header versions: fall back to a full load
                shape, fortran, dtype = None, True, None
            self._data_offset = fp.tell()
        if fortran or dtype is None or dtype.hasobject or not shape:
            with zf.open(self._info) as fp:
                self._full = np.lib.format.read_array(fp, allow_pickle=False)
            shape, dtype = self._full.shape, self._full.dtype
        self.shape: tuple[int, ...] = tuple(shape)
        self.dtype: np.dtype = dtype
        self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * dtype.itemsize
        if self._full is None and self._info.compress_type == zipfile.ZIP_STORED:
            self._mmap = self._memmap()

    def _memmap(self) -> np.ndarray | None:
        with open(self.path, "rb") as fh:
            fh.seek(self._info.header_offset)
            header = _ZIP_LOCAL_HEADER.unpack(fh.read(_ZIP_LOCAL_HEADER.size))
        name_len, extra_len = header[-2], header[-1]
        offset = (
            self._info.header_offset + _ZIP_LOCAL_HEADER.size + name_len + extra_len
        ) + self._data_offset
        if self.shape[0] == 0:
            return None
        return np.memmap(self.path, dtype=self.dtype, mode="r", offset=offset, shape=self.shape)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` as an in-memory array."""
        if self._full is not None:
            return np.array(self._full[start:stop])
        if self._mmap is not None:
            return np.array(self._mmap[start:stop])
        n = max(stop - start, 0)
        if n == 0:
            return np.zeros((0, *self.shape[1:]), self.dtype)
        if self._stream is None:
            self._stream = self._zf.open(self._info)
        self._stream.seek(self._data_offset + start * self._row_bytes)  # forward seeks stream
        buf = self._stream.read(n * self._row_bytes)
        if len(buf) != n * self._row_bytes:
            raise DataFormatError(self.path, f"array '{self.name}' is truncated at row {start}")
        return np.frombuffer(buf, self.dtype).reshape(n, *self.shape[1:])

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self._mmap = None


@dataclass
class _QGFile:
    path: Path
    X: _NpyMember
    y: _NpyMember

    @property
    def n_rows(self) -> int:
        return self.X.shape[0]

    def read(self, start: int, stop: int, n_particles: int | None) -> JetBatch:
        try:
            x = self.X.read(start, stop)
            y = self.y.read(start, stop)
        except DataFormatError:
            raise
        except _NPZ_ERRORS as exc:
            raise DataFormatError(self.path, f"cannot read rows {start}:{stop}: {exc}") from exc
        return _qg_batch(self.path, x, y, _n_slots(n_particles, self.X.shape[1]))


def _qg_batch(path: Path, x: np.ndarray, y: np.ndarray, n_particles: int) -> JetBatch:
    """(pT, y, phi, pdg) rows (N, M, 4) and labels (N,) -> JetBatch."""
    n, m = x.shape[:2]
    pt = x[..., 0].astype(np.float64)
    mask = pt > 0
    mask, x = _sort_by_pt(pt, mask, x)
    pt, rap, phi, pdg = (x[..., i].astype(np.float64) for i in range(4))
    mass, charge = _pdg_mass_charge(pdg)
    p4 = np.where(mask[..., None], kin.from_ptyphim(pt, rap, phi, mass), 0.0)  # (N, M, 4)
    charge = np.where(mask, charge, 0).astype(np.int8)
    pid = np.where(mask, pid_from_pdg(pdg.astype(np.int64), charge), ParticleID.UNKNOWN)
    labels = np.rint(np.asarray(y, dtype=np.float64)).astype(np.int64).reshape(n)
    if not np.isin(labels, (0, 1)).all():
        raise DataFormatError(path, "array 'y' must hold 0 (gluon) or 1 (quark)")
    batch = JetBatch.zeros(n, m, QG_LABELS)
    batch.p4[...] = p4
    batch.mask[...] = mask
    batch.charge[...] = charge
    batch.pid[...] = pid
    batch.jet_p4[...] = kin.sum_p4(p4)  # padding is already zero
    batch.label[...] = labels
    return batch.truncate(n_particles)


class _open_quark_gluon:
    """Context manager opening an EnergyFlow quark/gluon ``.npz`` and checking its schema."""

    def __init__(self, path: PathLike) -> None:
        self.path = _check_exists(path)
        self._stack = ExitStack()

    def __enter__(self) -> _QGFile:
        try:
            zf = self._stack.enter_context(zipfile.ZipFile(self.path))
            names = [n.removesuffix(".npy") for n in zf.namelist()]
            for name in ("X", "y"):
                if name not in names:
                    raise DataFormatError(
                        self.path, f"missing array '{name}' (arrays in the file: {names})"
                    )
            X = _NpyMember(self.path, zf, "X")
            y = _NpyMember(self.path, zf, "y")
        except DataFormatError:
            self._stack.close()
            raise
        except _NPZ_ERRORS as exc:
            self._stack.close()
            raise DataFormatError(self.path, f"not a readable .npz archive: {exc}") from exc
        self._stack.callback(X.close)
        self._stack.callback(y.close)
        if len(X.shape) != 3 or X.shape[2] != 4:
            self._stack.close()
            raise DataFormatError(
                self.path,
                f"array 'X' has shape {X.shape}, expected (N, M, 4) = (pT, y, phi, pid) per particle",
            )
        if y.shape not in ((X.shape[0],), (X.shape[0], 1)):
            self._stack.close()
            raise DataFormatError(
                self.path, f"array 'y' has shape {y.shape}, expected ({X.shape[0]},) like 'X'"
            )
        return _QGFile(self.path, X, y)

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def count_quark_gluon(path: PathLike) -> int:
    """Number of jets in a quark/gluon ``.npz`` (reads only the array header)."""
    with _open_quark_gluon(path) as f:
        return f.n_rows


def read_quark_gluon(
    path: PathLike, *, start: int = 0, stop: int | None = None, n_particles: int | None = None
) -> JetBatch:
    """Read jets ``[start, stop)`` of EnergyFlow's quark/gluon dataset (arXiv:1810.05165).

    ``X`` (N, M, 4) holds (pT, rapidity, phi, PDG id) with absolute y and phi; four-momenta use
    the PDG mass of each id (:func:`pdg_mass`), charge comes from the id (:func:`pdg_charge`) and
    pid from :func:`colliderlab.jets.pid_from_pdg`. d0/dz and the truth fields are zero (not in
    the dataset). ``label_names = ("gluon", "quark")``; P defaults to the file's M.
    """
    with _open_quark_gluon(path) as f:
        s, e = _row_range(start, stop, f.n_rows)
        return f.read(s, e, n_particles)


def iter_quark_gluon(
    path: PathLike, *, chunk_size: int = 100_000, n_particles: int | None = None
) -> Iterator[JetBatch]:
    """Iterate over a quark/gluon ``.npz`` in chunks (see :func:`read_quark_gluon`)."""
    with _open_quark_gluon(path) as f:
        for s, e in _chunks(0, f.n_rows, chunk_size):
            yield f.read(s, e, n_particles)


# --------------------------------------------------------------------------- JetClass (ROOT)
_JC_PART_REQUIRED = ("part_px", "part_py", "part_pz", "part_energy")
_JC_JET_REQUIRED = ("jet_pt", "jet_eta", "jet_phi", "jet_energy")
_JC_PID_FLAGS = (
    ("part_isChargedHadron", ParticleID.CHARGED_HADRON),
    ("part_isNeutralHadron", ParticleID.NEUTRAL_HADRON),
    ("part_isPhoton", ParticleID.PHOTON),
    ("part_isElectron", ParticleID.ELECTRON),
    ("part_isMuon", ParticleID.MUON),
)
_JC_OPTIONAL = ("part_charge", "part_d0val", "part_dzval", *(b for b, _ in _JC_PID_FLAGS))


@dataclass
class _JetClassFile:
    path: Path
    tree: Any
    branches: list[str]  # particle and jet branches to read
    label_branches: list[str]

    @property
    def n_rows(self) -> int:
        return int(self.tree.num_entries)

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(b.removeprefix("label_") for b in self.label_branches)

    def read(self, start: int, stop: int, n_particles: int) -> JetBatch:
        if stop <= start:
            return JetBatch.zeros(0, n_particles, self.label_names)
        try:
            arrays = self.tree.arrays(
                self.branches + self.label_branches,
                entry_start=start,
                entry_stop=stop,
                library="ak",
                how=dict,
            )
        except Exception as exc:  # uproot raises many types for damaged baskets
            raise DataFormatError(self.path, f"cannot read entries {start}:{stop}: {exc}") from exc
        return _jetclass_batch(arrays, self.label_branches, n_particles)


def _jetclass_batch(
    arrays: dict[str, Any], label_branches: list[str], n_particles: int
) -> JetBatch:
    """Jagged JetClass branches (awkward) -> JetBatch with P = ``n_particles`` slots."""
    ak = _import("awkward")
    px, py = arrays["part_px"], arrays["part_py"]
    order = ak.argsort(np.hypot(px, py), axis=1, ascending=False, stable=True)

    def dense(name: str, dtype: type) -> np.ndarray:
        """Sorted, padded/clipped (N, P) numpy array of a jagged branch, 0 in padding."""
        padded = ak.pad_none(arrays[name][order], n_particles, axis=1, clip=True)
        return ak.to_numpy(ak.fill_none(padded, 0)).astype(dtype)

    n = len(px)
    counts = np.minimum(ak.to_numpy(ak.num(px, axis=1)), n_particles)
    mask = np.arange(n_particles)[None, :] < counts[:, None]  # (N, P)
    label_names = tuple(b.removeprefix("label_") for b in label_branches)
    batch = JetBatch.zeros(n, n_particles, label_names)
    for i, name in enumerate(("part_energy", "part_px", "part_py", "part_pz")):
        batch.p4[..., i] = dense(name, np.float32)
    batch.mask[...] = mask
    if "part_charge" in arrays:
        batch.charge[...] = np.rint(dense("part_charge", np.float64)).astype(np.int8)
    for flag, pid in _JC_PID_FLAGS:
        if flag in arrays:
            batch.pid[dense(flag, np.float64) > 0.5] = pid
    batch.pid[~mask] = ParticleID.UNKNOWN
    if "part_d0val" in arrays:
        batch.d0[...] = dense("part_d0val", np.float32)  # mm, as Delphes' Track.D0
    if "part_dzval" in arrays:
        batch.dz[...] = dense("part_dzval", np.float32)  # mm, as Delphes' Track.DZ
    pt, eta, phi = (
        ak.to_numpy(arrays[f"jet_{v}"]).astype(np.float64) for v in ("pt", "eta", "phi")
    )
    batch.jet_p4[:, 0] = ak.to_numpy(arrays["jet_energy"]).astype(np.float64)
    batch.jet_p4[:, 1] = pt * np.cos(phi)
    batch.jet_p4[:, 2] = pt * np.sin(phi)
    batch.jet_p4[:, 3] = pt * np.sinh(eta)
    onehot = np.stack([ak.to_numpy(arrays[b]).astype(np.float64) for b in label_branches], axis=1)
    batch.label[...] = np.argmax(onehot, axis=1) if n else 0
    return batch


def _find_tree(path: Path, root_file: Any) -> Any:
    """The tree named ``tree`` if present, else the first TTree with ``part_px``."""
    names = root_file.keys(cycle=False, filter_classname="TTree")
    if not names:
        raise DataFormatError(path, "ROOT file holds no TTree")
    if "tree" in names:
        return root_file["tree"]
    for name in names:
        tree = root_file[name]
        if "part_px" in tree.keys():
            return tree
    raise DataFormatError(path, f"no TTree with JetClass branches (trees: {names})")


class _open_jetclass:
    """Context manager opening a JetClass-style ROOT file and checking its branches."""

    def __init__(self, path: PathLike) -> None:
        self.path = _check_exists(path)
        self._file: Any = None

    def __enter__(self) -> _JetClassFile:
        uproot = _import("uproot")
        try:
            self._file = uproot.open(self.path)
            tree = _find_tree(self.path, self._file)
            keys = set(tree.keys())
        except DataFormatError:
            self._close()
            raise
        except Exception as exc:  # OSError, ValueError, uproot.DeserializationError, ...
            self._close()
            raise DataFormatError(self.path, f"not a readable ROOT file: {exc}") from exc
        missing = [b for b in (*_JC_PART_REQUIRED, *_JC_JET_REQUIRED) if b not in keys]
        labels = [f"label_{c}" for c in JETCLASS_LABELS if f"label_{c}" in keys]
        labels += sorted(k for k in keys if k.startswith("label_") and k not in labels)
        if not labels:
            missing.append("label_* (one-hot class branches)")
        if missing:
            self._close()
            raise DataFormatError(
                self.path, f"tree '{tree.name}' is missing branch(es) {', '.join(missing)}"
            )
        branches = [*_JC_PART_REQUIRED, *(b for b in _JC_OPTIONAL if b in keys), *_JC_JET_REQUIRED]
        return _JetClassFile(self.path, tree, branches, labels)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __exit__(self, *exc: object) -> None:
        self._close()


def count_jetclass(path: PathLike) -> int:
    """Number of jets (tree entries) in a JetClass ROOT file."""
    with _open_jetclass(path) as f:
        return f.n_rows


def read_jetclass(
    path: PathLike, *, start: int = 0, stop: int | None = None, n_particles: int | None = None
) -> JetBatch:
    """Read jets ``[start, stop)`` of a JetClass-style ROOT ntuple (arXiv:2202.03772).

    Constituents from ``part_energy/px/py/pz`` re-sorted by pT and padded/clipped to P (default
    128, the ParT input size), charge from ``part_charge``, pid from the ``part_is*`` flags,
    d0/dz from ``part_d0val``/``part_dzval`` in mm (Delphes track units, stored unchanged), jet_p4
    from ``jet_pt/eta/phi/energy``, label = argmax of the one-hot ``label_*`` branches (0 for an
    all-zero row) with ``label_names`` the branch suffixes (the known JetClass classes first, in
    dataset order, then any others alphabetically). Missing optional branches (charge, flags,
    impact parameters) leave zeros. Truth fields are 0 (the ``aux_*`` branches are not read).
    """
    with _open_jetclass(path) as f:
        s, e = _row_range(start, stop, f.n_rows)
        return f.read(s, e, _n_slots(n_particles, _JETCLASS_P))


def iter_jetclass(
    path: PathLike, *, chunk_size: int = 100_000, n_particles: int | None = None
) -> Iterator[JetBatch]:
    """Iterate over a JetClass ROOT file in chunks (see :func:`read_jetclass`)."""
    with _open_jetclass(path) as f:
        for s, e in _chunks(0, f.n_rows, chunk_size):
            yield f.read(s, e, _n_slots(n_particles, _JETCLASS_P))


# --------------------------------------------------------------------------- colliderlab
def _read_colliderlab(
    path: PathLike, *, start: int = 0, stop: int | None = None, n_particles: int | None = None
) -> JetBatch:
    from colliderlab.data.h5 import read_h5

    batch = read_h5(path, start=start, stop=stop)
    return batch.truncate(_n_slots(n_particles, batch.n_particles))


def _iter_colliderlab(
    path: PathLike, *, chunk_size: int = 100_000, n_particles: int | None = None
) -> Iterator[JetBatch]:
    from colliderlab.data.h5 import iter_h5

    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    for batch in iter_h5(path, chunk_size):
        yield batch.truncate(_n_slots(n_particles, batch.n_particles))


def _count_colliderlab(path: PathLike) -> int:
    from colliderlab.data.h5 import count_h5

    return count_h5(path)


# --------------------------------------------------------------------------- dispatcher
@dataclass(frozen=True)
class _Format:
    read: Callable[..., JetBatch]
    iter: Callable[..., Iterator[JetBatch]]
    count: Callable[[PathLike], int]


_READERS: dict[str, _Format] = {
    "colliderlab": _Format(_read_colliderlab, _iter_colliderlab, _count_colliderlab),
    "toptag": _Format(read_toptag, iter_toptag, count_toptag),
    "quark-gluon": _Format(read_quark_gluon, iter_quark_gluon, count_quark_gluon),
    "jetclass": _Format(read_jetclass, iter_jetclass, count_jetclass),
}


def _detect_hdf5(path: Path) -> str:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format")
            if isinstance(fmt, bytes):
                fmt = fmt.decode()
            if fmt == _COLLIDERLAB_FORMAT:
                return "colliderlab"
            table = f.get(_TOPTAG_KEY)
            if isinstance(table, h5py.Group) and "pandas_type" in table.attrs:
                return "toptag"
            keys = list(f.keys())
    except OSError as exc:
        raise DataFormatError(path, f"not a readable HDF5 file: {exc}") from exc
    raise DataFormatError(
        path,
        f"HDF5 file is neither colliderlab's (root attribute format='{_COLLIDERLAB_FORMAT}') "
        f"nor a top-tagging pandas file (key '{_TOPTAG_KEY}'); top-level keys: {keys}. "
        f"Supported formats: {_supported()}",
    )


def _detect_zip(path: Path) -> str:
    if not zipfile.is_zipfile(path):
        raise DataFormatError(path, "not a readable .npz archive (no zip directory)")
    return "quark-gluon"


def _detect_root(path: Path) -> str:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"root":
        raise DataFormatError(path, f"not a ROOT file (magic bytes {magic!r}, expected b'root')")
    return "jetclass"


def detect_format(path: PathLike) -> str:
    """Name of the jet format of ``path``: "colliderlab", "toptag", "quark-gluon" or "jetclass".

    Decided by the extension, then the content: an HDF5 file with the root attribute
    ``format = "colliderlab-jets"`` is colliderlab's own, one with a pandas key ``table`` is the
    top-tagging dataset; ``.npz`` must be a zip archive and ``.root`` start with ROOT's magic.
    A file whose schema is wrong past that is reported by the reader.

    Raises:
        FileNotFoundError: the file does not exist.
        DataFormatError: unknown extension or undetectable content (lists supported formats).
    """
    p = _check_exists(path)
    ext = p.suffix.lower()
    if ext in FORMATS["colliderlab"]:
        return _detect_hdf5(p)
    if ext in FORMATS["quark-gluon"]:
        return _detect_zip(p)
    if ext in FORMATS["jetclass"]:
        return _detect_root(p)
    raise DataFormatError(
        p, f"unknown jet file extension '{ext}'; supported formats: {_supported()}"
    )


def read_jets(
    path: PathLike, *, start: int = 0, stop: int | None = None, n_particles: int | None = None
) -> JetBatch:
    """Read jets ``[start, stop)`` of any supported file (see :func:`detect_format`).

    ``n_particles`` (P) defaults to the format's natural size: 200 for top tagging, the file's
    M for quark/gluon, 128 for JetClass, the stored P for colliderlab files.
    """
    return _READERS[detect_format(path)].read(path, start=start, stop=stop, n_particles=n_particles)


def iter_jets(
    path: PathLike, *, chunk_size: int = 100_000, n_particles: int | None = None
) -> Iterator[JetBatch]:
    """Iterate over any supported file in chunks of at most ``chunk_size`` jets."""
    fmt = _READERS[detect_format(path)]
    return fmt.iter(path, chunk_size=chunk_size, n_particles=n_particles)


def count_jets(path: PathLike) -> int:
    """Number of jets in any supported file, from its metadata (no jet data is loaded)."""
    return _READERS[detect_format(path)].count(path)
