"""The top-tagging reference dataset (arXiv:1902.09914): a pandas DataFrame in HDF5 under key
``table`` with columns ``E_i, PX_i, PY_i, PZ_i`` (i = 0..199), ``truthE, truthPX, truthPY,
truthPZ``, ``is_signal_new`` and ``ttv``, in pandas' ``fixed`` layout (the public files) or its
``table`` layout. Read with h5py through :mod:`colliderlab.data.formats.pandas_hdf`: PyTables,
which would unpickle the file's attributes, is never used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from colliderlab import kinematics as kin
from colliderlab.data.errors import DataFormatError
from colliderlab.data.formats._common import (
    PathLike,
    check_exists,
    check_labels,
    chunks,
    n_slots,
    open_hdf5,
    row_range,
    sort_by_pt,
)
from colliderlab.data.formats.pandas_hdf import PandasFrame, is_pandas_group, open_frame
from colliderlab.data.formats.registry import JetFormat
from colliderlab.jets import JetBatch

__all__ = ["TOPTAG_LABELS", "TOPTAG_FIELDS", "FORMAT", "read_toptag", "iter_toptag", "count_toptag"]

TOPTAG_LABELS = ("qcd", "top")
#: What the public files carry: four-vectors only (the jet axis is their sum), the truth top
#: four-vector and the label. No charge, particle id or impact parameters.
TOPTAG_FIELDS = frozenset(("p4", "mask", "jet_p4", "label", "truth_p4"))
_TOPTAG_P = 200
_TRUTH = ("truthE", "truthPX", "truthPY", "truthPZ")
_LABEL = "is_signal_new"
_KEY = "table"


def _columns(n: int) -> list[str]:
    return [f"{v}_{i}" for v in ("E", "PX", "PY", "PZ") for i in range(n)]


@dataclass
class _TopTagFile:
    """An open top-tagging file: its frame, row count and number of constituent columns."""

    path: Path
    frame: PandasFrame
    n_cols: int

    @property
    def n_rows(self) -> int:
        return self.frame.n_rows

    def read(self, start: int, stop: int, n_particles: int) -> JetBatch:
        if stop <= start:
            return JetBatch.zeros(0, n_particles, TOPTAG_LABELS, TOPTAG_FIELDS)
        n, m = stop - start, self.n_cols
        flat = self.frame.read(_columns(m), start, stop, np.float32)  # (N, 4*M)
        p4 = flat.reshape(n, 4, m).transpose(0, 2, 1)  # (N, M, 4)
        mask = p4[..., 0] != 0  # E > 0 marks a real constituent
        mask, p4 = sort_by_pt(kin.pt(p4), mask, p4)
        label = self.frame.read([_LABEL], start, stop, np.float64)[:, 0]
        batch = JetBatch.zeros(n, m, TOPTAG_LABELS, TOPTAG_FIELDS)
        batch.label[...] = check_labels(self.path, label, TOPTAG_LABELS, f"column '{_LABEL}'")
        batch.p4[...] = np.where(mask[..., None], p4, 0.0)
        batch.mask[...] = mask
        batch.jet_p4[...] = kin.sum_p4(p4, mask)
        batch.truth_p4[...] = self.frame.read(list(_TRUTH), start, stop, np.float64)
        batch.truth_pdg[...] = np.where(batch.label == 1, 6, 0)
        return batch.truncate(n_particles)


@contextmanager
def _open(path: PathLike) -> Iterator[_TopTagFile]:
    """The open file, its schema checked (h5py only)."""
    p = check_exists(path)
    with open_hdf5(p) as f:
        frame = open_frame(p, f, _KEY)
        columns = set(frame.columns)
        n_cols = 0
        while f"E_{n_cols}" in columns:
            n_cols += 1
        required = [*_columns(max(n_cols, 1)), *_TRUTH, _LABEL]
        missing = [c for c in required if c not in columns]
        if missing:
            shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
            raise DataFormatError(p, f"top-tagging table is missing column(s) {shown}")
        yield _TopTagFile(p, frame, n_cols)


def count_toptag(path: PathLike) -> int:
    """Number of jets in a top-tagging file (reads only the metadata)."""
    with _open(path) as f:
        return f.n_rows


def read_toptag(
    path: PathLike, *, start: int = 0, stop: int | None = None, n_particles: int | None = None
) -> JetBatch:
    """Read jets ``[start, stop)`` of the top-tagging reference dataset (arXiv:1902.09914).

    Returns a JetBatch with p4 (N, P, 4) from the ``E/PX/PY/PZ_i`` columns (P defaults to 200),
    mask = non-zero E, charge/pid/d0/dz zero (not in the dataset: ``fields`` is
    :data:`TOPTAG_FIELDS`), label 1 = top (``is_signal_new``)
    with ``label_names = ("qcd", "top")``, truth_p4 from ``truth*`` and truth_pdg 6 for top jets.
    """
    with _open(path) as f:
        s, e = row_range(start, stop, f.n_rows)
        return f.read(s, e, n_slots(n_particles, _TOPTAG_P))


def iter_toptag(
    path: PathLike, *, chunk_size: int = 100_000, n_particles: int | None = None
) -> Iterator[JetBatch]:
    """Iterate over a top-tagging file in chunks of ``chunk_size`` jets (see :func:`read_toptag`)."""
    with _open(path) as f:
        for s, e in chunks(0, f.n_rows, chunk_size):
            yield f.read(s, e, n_slots(n_particles, _TOPTAG_P))


def _sniff(path: Path) -> bool:
    with open_hdf5(path) as f:
        return is_pandas_group(f.get(_KEY))


FORMAT = JetFormat(
    name="toptag",
    extensions=(".h5", ".hdf5", ".hdf"),
    sniff=_sniff,
    read=read_toptag,
    iterate=iter_toptag,
    count=count_toptag,
    signature=f"a top-tagging pandas file (key '{_KEY}')",
    fields=TOPTAG_FIELDS,
)
