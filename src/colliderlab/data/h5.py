"""colliderlab's own HDF5 jet files: schema, atomic writer, chunked reader.

Schema (``format = "colliderlab-jets"``, ``schema_version = 3``); one dataset per
:class:`~colliderlab.jets.JetBatch` field, all sharing the first axis N (jets):

================  ==============  =========  ==================================================
dataset           shape           dtype      meaning
================  ==============  =========  ==================================================
``p4``            (N, P, 4)       float32    constituent (E, px, py, pz) in GeV, pT-ordered, 0-padded
``mask``          (N, P)          bool       True for real constituents
``charge``        (N, P)          int8       charge in units of e
``pid``           (N, P)          int8       :class:`~colliderlab.jets.ParticleID`
``d0``, ``dz``    (N, P)          float32    transverse / longitudinal impact parameter, mm
``jet_p4``        (N, 4)          float64    jet (E, px, py, pz), GeV
``label``         (N,)            int64      index into the ``label_names`` attribute
``truth_p4``      (N, 4)          float64    matched truth particle (E, px, py, pz), GeV
``truth_pdg``     (N,)            int32      its PDG id (0: none)
``truth_partons`` (N, 3, 4)       float64    its decay partons (top: b, q, q'; W/Z/H: q, q', 0)
================  ==============  =========  ==================================================

Root attributes: ``format``, ``schema_version``, ``label_names`` (JSON list), ``fields`` (JSON
list: the fields the written batches carried, :attr:`JetBatch.fields`; a file without it carries
all of them), ``n_jets``,
``n_particles``, ``created`` (UTC ISO time) and ``provenance`` (JSON: generator settings,
process recipes, detector card, seed, package versions and, for a preset, the preset's name and
information content, see :func:`colliderlab.data.generate.provenance`). Schema 2 adds the per-process
cross sections and the generator variation to ``provenance`` (:func:`read_cross_sections`);
files of schema 1 read as before and say that they hold no cross section. Schema 3 adds
``truth_partons`` (the truth quark directions that attribution checks need,
:mod:`colliderlab.explain`); files of schemas 1 and 2 read as before, with zeros there and the
field not carried. Angles are radians; Delta R in
colliderlab uses the rapidity, as FastJet does.

Datasets are chunked along N, gzip-compressed and fletcher32-checksummed (a flipped bit fails
the read). Files are written to a temporary name in
the same directory and renamed at the end, so a killed run never leaves a half-written file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import replacing
from colliderlab.data.errors import DataFormatError, reading
from colliderlab.data.formats._common import check_labels, check_lengths, dataset, open_hdf5
from colliderlab.jets import ALL_FIELDS, JetBatch

__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "H5Writer",
    "write_h5",
    "read_h5",
    "iter_h5",
    "count_h5",
    "read_h5_attrs",
    "read_cross_sections",
]

FORMAT = "colliderlab-jets"
SCHEMA_VERSION = 3
_FIELDS = ("p4", "mask", "charge", "pid", "d0", "dz", "jet_p4", "label", "truth_p4", "truth_pdg")
"""Datasets every colliderlab file has (schema 1 on)."""
_OPTIONAL = ("truth_partons",)
"""Datasets of later schemas (3 on); older files read zeros there (the field not carried)."""
_DTYPES = {
    "p4": np.float32,
    "mask": np.bool_,
    "charge": np.int8,
    "pid": np.int8,
    "d0": np.float32,
    "dz": np.float32,
    "jet_p4": np.float64,
    "label": np.int64,
    "truth_p4": np.float64,
    "truth_pdg": np.int32,
    "truth_partons": np.float64,
}


class AtomicH5Writer:
    """An HDF5 file written under a temporary name and renamed into place only when its ``with``
    block exits without an exception (removed otherwise), so a killed job leaves no corrupt file.

    Subclasses create their datasets in ``_create(file)`` and give the root attributes in
    ``_attrs()`` (called at a clean exit)."""

    def __init__(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists; pass overwrite=True (--overwrite) to replace it")
        self._file = None
        self._stack: ExitStack | None = None  # the temporary file, open, inside replacing()

    def _create(self, f: Any) -> None:
        raise NotImplementedError

    def _attrs(self) -> dict[str, Any]:
        return {}

    def _open(self) -> Any:
        if self._file is None:
            raise RuntimeError(f"{type(self).__name__}.append called outside its `with` block")
        return self._file

    def __enter__(self):
        import h5py

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with ExitStack() as stack:
            tmp = stack.enter_context(replacing(self.path))
            self._file = stack.enter_context(h5py.File(tmp, "w", libver=("v110", "latest")))
            self._create(self._file)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        f, self._file = self._file, None
        stack, self._stack = self._stack, None
        if exc_type is not None:
            stack.__exit__(exc_type, exc, tb)  # closes the file and removes it
            return
        with stack:  # closes the file, then renames it into place (removed if the attributes fail)
            f.attrs.update(self._attrs())


class H5Writer(AtomicH5Writer):
    """Append :class:`JetBatch` chunks to a new HDF5 file, atomically (:class:`AtomicH5Writer`)::

        with H5Writer(path, n_particles=200, label_names=("qcd", "top"), attrs=meta) as w:
            for batch in batches:
                w.append(batch)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        n_particles: int,
        label_names: tuple[str, ...],
        attrs: dict[str, Any] | None = None,
        overwrite: bool = False,
        chunk_rows: int = 512,
        compression: str | None = "gzip",
    ) -> None:
        super().__init__(path, overwrite=overwrite)
        self.n_particles = int(n_particles)
        self.label_names = tuple(label_names)
        self.attrs = dict(attrs or {})
        self.chunk_rows = int(chunk_rows)
        self.compression = compression
        self.n_jets = 0
        self.fields = ALL_FIELDS  # narrowed to what every appended batch carried

    def _create(self, f: Any) -> None:
        p = self.n_particles
        shapes = {
            "p4": (p, 4),
            "mask": (p,),
            "charge": (p,),
            "pid": (p,),
            "d0": (p,),
            "dz": (p,),
            "jet_p4": (4,),
            "label": (),
            "truth_p4": (4,),
            "truth_pdg": (),
            "truth_partons": (3, 4),
        }
        for name in _FIELDS + _OPTIONAL:
            tail = shapes[name]
            f.create_dataset(
                name,
                shape=(0, *tail),
                maxshape=(None, *tail),
                dtype=_DTYPES[name],
                chunks=(self.chunk_rows, *tail),
                compression=self.compression,
                shuffle=self.compression is not None,
                fletcher32=True,  # a flipped bit is caught on read
            )

    def append(self, batch: JetBatch) -> None:
        """Append a batch (constituents padded or clipped to the file's P)."""
        f = self._open()
        if batch.label_names and self.label_names and batch.label_names != self.label_names:
            raise ValueError(f"batch label_names {batch.label_names} differ from the file's {self.label_names}")
        batch = batch.truncate(self.n_particles)
        self.fields = self.fields & batch.fields
        n = len(batch)
        for name, arr in batch.arrays().items():
            ds = f[name]
            ds.resize(self.n_jets + n, axis=0)
            ds[self.n_jets :] = arr.astype(_DTYPES[name], copy=False)
        self.n_jets += n

    def _attrs(self) -> dict[str, Any]:
        out = {
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            # fixed-length, so that it lives in the checksummed object header
            "label_names": np.bytes_(json.dumps(list(self.label_names)).encode()),
            "fields": np.bytes_(json.dumps(sorted(self.fields)).encode()),
            "n_jets": self.n_jets,
            "n_particles": self.n_particles,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "provenance": json.dumps(self.attrs.get("provenance", {}), default=str),
        }
        for k, v in self.attrs.items():
            if k != "provenance":
                out[k] = v if isinstance(v, (int, float, str)) else json.dumps(v, default=str)
        return out


def write_h5(
    path: str | os.PathLike,
    batch: JetBatch,
    *,
    provenance: dict[str, Any] | None = None,
    overwrite: bool = False,
    chunk_rows: int = 512,
) -> Path:
    """Write one :class:`JetBatch` to ``path`` atomically; returns the path."""
    with H5Writer(
        path,
        n_particles=batch.n_particles,
        label_names=batch.label_names,
        attrs={"provenance": provenance or {}},
        overwrite=overwrite,
        chunk_rows=chunk_rows,
    ) as w:
        w.append(batch)
    return Path(path)


def _label_names(path: Path, f: Any) -> tuple[str, ...]:
    raw = f.attrs.get("label_names")
    names = json.loads(raw) if isinstance(raw, str | bytes) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DataFormatError(path, f"attribute label_names={raw!r} is not a JSON list of class names")
    return tuple(names)


def _fields(path: Path, f: Any) -> frozenset[str]:
    """The ``fields`` attribute (all fields for files written before it existed)."""
    raw = f.attrs.get("fields")
    if raw is None:
        return ALL_FIELDS
    try:
        names = json.loads(raw) if isinstance(raw, str | bytes) else None
    except ValueError:
        names = None
    if not isinstance(names, list) or not set(names) <= ALL_FIELDS:
        raise DataFormatError(path, f"attribute fields={raw!r} is not a JSON list of JetBatch fields "
                                    f"({', '.join(sorted(ALL_FIELDS))})")
    return frozenset(names)


def _check_schema(path: Path, f: Any) -> None:
    fmt = f.attrs.get("format")
    if fmt != FORMAT:
        raise DataFormatError(path, f"attribute format={fmt!r}, expected {FORMAT!r} (not a colliderlab jet file)")
    missing = [k for k in _FIELDS if k not in f]
    if missing:
        raise DataFormatError(path, f"missing dataset(s) {missing}; a colliderlab file has {list(_FIELDS)}")
    present = _FIELDS + tuple(k for k in _OPTIONAL if k in f)
    for k in present:
        dtype, want = dataset(path, f, k).dtype, np.dtype(_DTYPES[k])
        if (dtype.kind, dtype.itemsize) != (want.kind, want.itemsize) or f[k].ndim == 0:
            raise DataFormatError(path, f"dataset {k!r} is {dtype} with shape {f[k].shape}, expected {want}")
    check_lengths(path, {k: f[k].shape[0] for k in present}, "datasets")


def _open(path: str | os.PathLike):
    """Open a colliderlab file for reading and check its schema (format, datasets, dtypes, the
    same number of rows everywhere), turning every failure into a clear error."""
    f = open_hdf5(path)
    try:
        with reading(path):
            _check_schema(Path(path), f)
            if "sharded" in f.attrs:  # a master file: its virtual datasets read zeros for a missing shard
                from colliderlab.data.manifest import check_shards

                check_shards(path, f.attrs)
    except BaseException:
        f.close()
        raise
    return f


def read_h5_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """Root attributes, with ``label_names`` and ``provenance`` decoded from JSON."""
    with _open(path) as f, reading(path):
        out = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
        for k in ("label_names", "provenance", "fields"):
            if k in out:
                out[k] = json.loads(out[k])
    return out


def read_cross_sections(path: str | os.PathLike) -> dict[str, Any]:
    """Per label name: the :class:`~colliderlab.physics.xsec.CrossSection` its jets were generated with.

    A file of schema 1 (written before cross sections were stored) or from another source
    raises a :class:`DataFormatError` that says so; pass cross sections by hand then
    (``colliderlab stats --xsec NAME=PB``).
    """
    from colliderlab.physics.xsec import CrossSection

    attrs = read_h5_attrs(path)
    stored = dict(attrs.get("provenance") or {}).get("cross_sections")
    if not stored:
        version = attrs.get("schema_version", "unknown")
        raise DataFormatError(path, f"holds no cross sections (schema_version {version}; they are stored from "
                              f"schema {SCHEMA_VERSION} on): regenerate it or give them by hand (--xsec NAME=PB)")
    return {name: CrossSection.from_dict(d) for name, d in stored.items()}


def count_h5(path: str | os.PathLike) -> int:
    """Number of jets in a colliderlab file (reads no data)."""
    with _open(path) as f:
        return int(f["label"].shape[0])


def _read(f, path, start: int, stop: int | None) -> JetBatch:
    n = f["label"].shape[0]
    stop = n if stop is None else min(stop, n)
    start = max(0, min(start, stop))
    with reading(path):
        label_names = _label_names(Path(path), f)
        carried = _fields(Path(path), f)
        try:  # an empty selection of a virtual dataset fails in HDF5 ("unable to get selection bounds")
            arrays = {k: (f[k][start:stop] if stop > start else np.zeros((0, *f[k].shape[1:]), f[k].dtype))
                      for k in _FIELDS + _OPTIONAL if k in f}
        except OSError as e:  # a chunk that cannot be decompressed or fails its checksum
            raise DataFormatError(path, f"cannot read rows {start}:{stop} (truncated or corrupt?): {e}") from None
        arrays["label"] = check_labels(path, arrays["label"], label_names, "dataset 'label'")
        return JetBatch(**arrays, label_names=label_names, fields=carried)


def read_h5(path: str | os.PathLike, start: int = 0, stop: int | None = None) -> JetBatch:
    """Read jets ``start:stop`` of a colliderlab file into memory.

    Raises:
        DataFormatError: naming the file: not HDF5, truncated, a failed checksum, another schema,
            datasets whose numbers of rows disagree (all named with their lengths), or a label
            outside ``label_names`` (the value and the valid ones named).
    """
    with _open(path) as f:
        return _read(f, path, start, stop)


def iter_h5(path: str | os.PathLike, chunk_size: int = 100_000) -> Iterator[JetBatch]:
    """Yield consecutive chunks of at most ``chunk_size`` jets (for files larger than memory)."""
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    with _open(path) as f:
        n = f["label"].shape[0]
        for start in range(0, n, chunk_size):
            yield _read(f, path, start, start + chunk_size)
