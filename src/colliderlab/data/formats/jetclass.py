"""JetClass-style ROOT ntuples (arXiv:2202.03772): one jet per TTree entry with jagged ``part_*``
branches, scalar ``jet_*`` branches and one-hot ``label_*`` branches. Read with uproot/awkward
(the ``io`` extra), imported only here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.data.errors import DataFormatError
from colliderlab.data.formats._common import (
    PathLike,
    check_exists,
    chunks,
    import_optional,
    n_slots,
    row_range,
)
from colliderlab.data.formats.registry import JetFormat
from colliderlab.jets import JetBatch, ParticleID

__all__ = ["JETCLASS_LABELS", "JETCLASS_FIELDS", "FORMAT", "read_jetclass", "iter_jetclass", "count_jetclass"]

#: The ten JetClass classes, in the order of the dataset's ``label_*`` branches.
JETCLASS_LABELS = ("QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl")
_JETCLASS_P = 128
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
#: What a JetClass file can carry: everything but the truth fields (the ``aux_*`` branches are
#: not read). A file without an optional branch does not carry its field.
JETCLASS_FIELDS = frozenset(("p4", "mask", "charge", "pid", "d0", "dz", "jet_p4", "label"))


def _carried(branches: Any) -> frozenset[str]:
    """The JetBatch fields that a file with these branches carries."""
    out = {"p4", "mask", "jet_p4", "label"}
    out |= {f for b, f in (("part_charge", "charge"), ("part_d0val", "d0"), ("part_dzval", "dz")) if b in branches}
    if all(b in branches for b, _ in _JC_PID_FLAGS):
        out.add("pid")
    return frozenset(out)


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
            return JetBatch.zeros(0, n_particles, self.label_names, _carried(self.branches))
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
        return _jetclass_batch(self.path, arrays, self.label_branches, n_particles)


def _jetclass_batch(
    path: Path, arrays: dict[str, Any], label_branches: list[str], n_particles: int
) -> JetBatch:
    """Jagged JetClass branches (awkward) -> JetBatch with P = ``n_particles`` slots."""
    ak = import_optional("awkward")
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
    batch = JetBatch.zeros(n, n_particles, label_names, _carried(arrays))
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
    batch.label[...] = _onehot_labels(path, onehot, label_names)
    return batch


def _onehot_labels(path: Path, onehot: np.ndarray, label_names: tuple[str, ...]) -> np.ndarray:
    """Class indices of one-hot rows (N, C); a row that is not exactly one-hot names no class in
    ``label_names`` and is an error."""
    ok = ((onehot == 0) | (onehot == 1)).all(axis=1) & (onehot.sum(axis=1) == 1)
    if not ok.all():
        row = int(np.flatnonzero(~ok)[0])
        values = dict(zip((f"label_{c}" for c in label_names), onehot[row].tolist(), strict=True))
        raise DataFormatError(path, f"entry {row} has label branches {values}, which name no single class "
                                    f"({int((~ok).sum())} such entries); valid labels: {', '.join(label_names)}")
    return np.argmax(onehot, axis=1)


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


def _uproot_errors() -> tuple[type[BaseException], ...]:
    uproot = import_optional("uproot")
    return (uproot.DeserializationError,)


@contextmanager
def _open(path: PathLike) -> Iterator[_JetClassFile]:
    """The open file's jet tree, its branches checked."""
    uproot = import_optional("uproot")
    p = check_exists(path)
    try:
        root_file = uproot.open(p)
    except Exception as exc:  # OSError, ValueError, uproot.DeserializationError, ...
        raise DataFormatError(p, f"not a readable ROOT file: {exc}") from exc
    with root_file:
        try:
            tree = _find_tree(p, root_file)
            keys = set(tree.keys())
        except DataFormatError:
            raise
        except Exception as exc:
            raise DataFormatError(p, f"not a readable ROOT file: {exc}") from exc
        missing = [b for b in (*_JC_PART_REQUIRED, *_JC_JET_REQUIRED) if b not in keys]
        labels = [f"label_{c}" for c in JETCLASS_LABELS if f"label_{c}" in keys]
        labels += sorted(k for k in keys if k.startswith("label_") and k not in labels)
        if not labels:
            missing.append("label_* (one-hot class branches)")
        if missing:
            raise DataFormatError(p, f"tree '{tree.name}' is missing branch(es) {', '.join(missing)}")
        branches = [*_JC_PART_REQUIRED, *(b for b in _JC_OPTIONAL if b in keys), *_JC_JET_REQUIRED]
        yield _JetClassFile(p, tree, branches, labels)


def count_jetclass(path: PathLike) -> int:
    """Number of jets (tree entries) in a JetClass ROOT file."""
    with _open(path) as f:
        return f.n_rows


def read_jetclass(
    path: PathLike, *, start: int = 0, stop: int | None = None, n_particles: int | None = None
) -> JetBatch:
    """Read jets ``[start, stop)`` of a JetClass-style ROOT ntuple (arXiv:2202.03772).

    Constituents from ``part_energy/px/py/pz`` re-sorted by pT and padded/clipped to P (default
    128, the ParT input size), charge from ``part_charge``, pid from the ``part_is*`` flags,
    d0/dz from ``part_d0val``/``part_dzval`` in mm (Delphes track units, stored unchanged), jet_p4
    from ``jet_pt/eta/phi/energy``, label = the one-hot ``label_*`` branch set to 1 (a row with none
    or several set is a DataFormatError) with ``label_names`` the branch suffixes (the known JetClass classes first, in
    dataset order, then any others alphabetically). Missing optional branches (charge, flags,
    impact parameters) leave zeros and are left out of ``fields`` (pid needs all five flags).
    Truth fields are 0 (the ``aux_*`` branches are not read).
    """
    with _open(path) as f:
        s, e = row_range(start, stop, f.n_rows)
        return f.read(s, e, n_slots(n_particles, _JETCLASS_P))


def iter_jetclass(
    path: PathLike, *, chunk_size: int = 100_000, n_particles: int | None = None
) -> Iterator[JetBatch]:
    """Iterate over a JetClass ROOT file in chunks (see :func:`read_jetclass`)."""
    with _open(path) as f:
        for s, e in chunks(0, f.n_rows, chunk_size):
            yield f.read(s, e, n_slots(n_particles, _JETCLASS_P))


def _sniff(path: Path) -> bool:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"root":
        raise DataFormatError(path, f"not a ROOT file (magic bytes {magic!r}, expected b'root')")
    return True


FORMAT = JetFormat(
    name="jetclass",
    extensions=(".root",),
    sniff=_sniff,
    read=read_jetclass,
    iterate=iter_jetclass,
    count=count_jetclass,
    signature="a ROOT file with a JetClass TTree",
    errors=_uproot_errors,
    fields=JETCLASS_FIELDS,
)
