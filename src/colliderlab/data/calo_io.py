"""Calorimeter shower files: the CaloChallenge HDF5 layout (read/write) and CaloGAN files (read).

CaloChallenge layout (Fast Calorimeter Simulation Challenge 2022), as written here:

=====================  ===========  =======  ===================================================
dataset                shape        dtype    meaning
=====================  ===========  =======  ===================================================
``incident_energies``  (N, 1)       float64  incident energy, **MeV** (as CaloChallenge)
``showers``            (N, V)       float32  visible energy per voxel, **MeV**, layer-major
``particle``           (N,)         int32    PDG id (colliderlab addition; 0 = unknown)
``angle``              (N,)         float32  incidence angle, rad (colliderlab addition)
``overflow``           (N, L)       float32  visible energy outside each layer's grid, MeV (ours)
=====================  ===========  =======  ===================================================

Root attributes (ours): ``format = "calochallenge"``, ``producer = "colliderlab"``,
``schema_version``, ``geometry`` (name), ``layer_shapes`` (JSON list of (rows, columns)),
``units = "MeV"``, ``created`` and ``provenance`` (JSON: geometry constants, particles,
energies, seed, ...). Real CaloChallenge files have only the first two datasets and are read
too (give ``layer_shapes``, e.g. 45 x (16, 9) for dataset 2, to use :meth:`CaloShowers.layer`).

CaloGAN files (arXiv:1705.02355, hep-lbdl/CaloGAN ``generation/convert.py``): ``layer_0``
(N, 3, 96), ``layer_1`` (N, 12, 12), ``layer_2`` (N, 12, 6) and ``overflow`` (N, 3) with the
energy deposited in the LAr gaps in **MeV**, and ``energy`` (N, 1) the incident energy in
**GeV**; they map onto the ``calogan`` geometry of :mod:`colliderlab.physics.calo` (same cell
numbering: rows along x, columns along y).

All in-memory :class:`~colliderlab.physics.calo.CaloShowers` are in GeV. Files are written to a
temporary name in the target directory and renamed at the end (``os.replace``), so a killed
run never leaves a half-written file; :func:`simulate_to_file` runs its chunks on any cluster
(:mod:`colliderlab.cluster`) and resumes an interrupted run from the chunks it finished (chunk
seeds derive from the run seed and the chunk number, so a resumed file, or one made by any
number of workers, is identical to an uninterrupted one).
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.data.errors import DataFormatError, reading
from colliderlab.data.formats._common import dataset, open_hdf5
from colliderlab.data.h5 import AtomicH5Writer
from colliderlab.physics.calo import (
    PDG_IDS,
    CaloGeometry,
    CaloShowers,
    get_geometry,
    particle_id,
)

__all__ = [
    "SCHEMA_VERSION",
    "CALOGAN_LAYERS",
    "CaloChallengeWriter",
    "write_calochallenge",
    "read_calochallenge",
    "read_calogan",
]

SCHEMA_VERSION = 1
CALOGAN_LAYERS = ((3, 96), (12, 12), (12, 6))
_MEV = 1000.0
_CALOGAN_NAMES = {
    "eplus": "e+",
    "gamma": "gamma",
    "piplus": "pi+",
    "eminus": "e-",
    "piminus": "pi-",
}


def _create_datasets(f, n: int | None, n_cells: int, n_layers: int, chunk_rows: int) -> None:
    """Create the datasets: fixed size ``n`` or growable (``n=None``)."""
    specs = {
        "incident_energies": ((1,), np.float64),
        "showers": ((n_cells,), np.float32),
        "particle": ((), np.int32),
        "angle": ((), np.float32),
        "overflow": ((n_layers,), np.float32),
    }
    for name, (tail, dtype) in specs.items():
        f.create_dataset(
            name,
            shape=(n or 0, *tail),
            maxshape=(n if n is not None else None, *tail),
            dtype=dtype,
            chunks=(max(1, min(chunk_rows, n or chunk_rows)), *tail),
            compression="gzip",
            shuffle=True,
            fletcher32=True,  # a flipped bit is caught on read
        )


def _write_rows(f, start: int, s: CaloShowers) -> None:
    stop = start + len(s)
    f["incident_energies"][start:stop] = (s.incident_energy * _MEV)[:, None]
    f["showers"][start:stop] = s.showers.astype(np.float64) * _MEV
    f["particle"][start:stop] = s.particle
    f["angle"][start:stop] = s.angle
    ov = s.overflow if s.overflow is not None else np.zeros((len(s), f["overflow"].shape[1]))
    f["overflow"][start:stop] = ov.astype(np.float64) * _MEV


def _root_attrs(geometry: str, layer_shapes, provenance: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": "calochallenge",
        "producer": "colliderlab",
        "schema_version": SCHEMA_VERSION,
        "geometry": geometry,
        "layer_shapes": json.dumps([list(s) for s in layer_shapes]),
        "units": "MeV",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "provenance": json.dumps(provenance, default=str),
    }


class CaloChallengeWriter(AtomicH5Writer):
    """Append :class:`CaloShowers` chunks to a new CaloChallenge-layout file, atomically
    (:class:`~colliderlab.data.h5.AtomicH5Writer`)::

        with CaloChallengeWriter(path, "calogan") as w:
            for chunk in chunks:
                w.append(chunk)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        geometry: str | CaloGeometry,
        *,
        provenance: dict[str, Any] | None = None,
        overwrite: bool = False,
        chunk_rows: int = 256,
    ) -> None:
        super().__init__(path, overwrite=overwrite)
        self.geometry = get_geometry(geometry)
        self.provenance = dict(provenance or {})
        self.chunk_rows = chunk_rows
        self.n = 0

    def _create(self, f: Any) -> None:
        _create_datasets(f, None, self.geometry.n_cells, self.geometry.n_layers, self.chunk_rows)

    def append(self, showers: CaloShowers) -> None:
        f = self._open()
        if showers.showers.shape[1] != self.geometry.n_cells:
            raise ValueError(
                f"showers have {showers.showers.shape[1]} cells, geometry "
                f"{self.geometry.name!r} has {self.geometry.n_cells}"
            )
        for name in ("incident_energies", "showers", "particle", "angle", "overflow"):
            f[name].resize(self.n + len(showers), axis=0)
        _write_rows(f, self.n, showers)
        self.n += len(showers)

    def _attrs(self) -> dict[str, Any]:
        prov = {"geometry": dataclasses.asdict(self.geometry), **self.provenance}
        return _root_attrs(self.geometry.name, self.geometry.layer_shapes, prov)


def write_calochallenge(
    path: str | os.PathLike,
    showers: CaloShowers,
    *,
    geometry: CaloGeometry | None = None,
    provenance: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write showers to ``path`` in the CaloChallenge layout (MeV), atomically; returns the path.

    ``geometry`` defaults to the named geometry ``showers.geometry``."""
    with CaloChallengeWriter(
        path, geometry or showers.geometry, provenance=provenance, overwrite=overwrite
    ) as w:
        w.append(showers)
    return Path(path)


# --------------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------------


def _require(f, path, expected: dict[str, str], kind: str) -> None:
    missing = [k for k in expected if k not in f]
    for k in expected:
        if k in f:
            dataset(path, f, k)  # a group or named datatype where a dataset belongs
    if missing:
        layout = ", ".join(f"{k!r} {v}" for k, v in expected.items())
        raise DataFormatError(
            path, f"missing dataset(s) {missing}; a {kind} file has {layout} (found {sorted(f)})"
        )


def _rows(start: int, stop: int | None, n: int) -> tuple[int, int]:
    stop = n if stop is None else min(stop, n)
    return max(0, min(start, stop)), stop


def _read(ds, path, a: int, b: int) -> np.ndarray:
    try:
        return ds[a:b]
    except OSError as e:
        raise DataFormatError(
            path, f"cannot read {ds.name!r} rows {a}:{b} (corrupt?): {e}"
        ) from None


def _check_finite(path, name: str, arr: np.ndarray, row0: int) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.argwhere(bad)[0]
        where = f"row {row0 + idx[0]}" + (
            f", index {tuple(int(i) for i in idx[1:])}" if idx.size > 1 else ""
        )
        raise DataFormatError(
            path, f"dataset {name!r} contains {int(bad.sum())} NaN/inf value(s), first at {where}"
        )


def read_calochallenge(
    path: str | os.PathLike,
    *,
    geometry: str | CaloGeometry | None = None,
    layer_shapes: tuple[tuple[int, int], ...] | None = None,
    start: int = 0,
    stop: int | None = None,
) -> CaloShowers:
    """Read rows ``start:stop`` of a CaloChallenge-layout file into :class:`CaloShowers` (GeV).

    The layout comes from ``geometry`` or ``layer_shapes`` if given, else from the file's
    ``geometry`` / ``layer_shapes`` attributes (files written here), else it stays unknown
    (``CaloShowers.layer`` then raises). Raises :class:`DataFormatError` for missing datasets,
    wrong shapes (named, with the expected shape) and NaN/inf values (located).
    """
    with open_hdf5(path) as f, reading(path):
        _require(
            f,
            path,
            {"incident_energies": "(N, 1) MeV", "showers": "(N, n_voxels) MeV"},
            "CaloChallenge",
        )
        inc, sh = f["incident_energies"], f["showers"]
        n = inc.shape[0]
        if inc.ndim not in (1, 2) or (inc.ndim == 2 and inc.shape[1] != 1):
            raise DataFormatError(
                path, f"'incident_energies' has shape {inc.shape}, expected ({n}, 1)"
            )
        if sh.ndim != 2 or sh.shape[0] != n:
            raise DataFormatError(
                path,
                f"'showers' has shape {sh.shape}, expected ({n}, n_voxels) "
                "(as many rows as 'incident_energies')",
            )
        name = "unknown"
        if geometry is not None:
            geom = get_geometry(geometry)
            name, layer_shapes = geom.name, geom.layer_shapes
        elif layer_shapes is None and "layer_shapes" in f.attrs:
            layer_shapes = tuple(tuple(s) for s in json.loads(f.attrs["layer_shapes"]))
            name = str(f.attrs.get("geometry", "unknown"))
        if layer_shapes is not None:
            n_vox = sum(a * b for a, b in layer_shapes)
            if sh.shape[1] != n_vox:
                raise DataFormatError(
                    path,
                    f"'showers' has shape {sh.shape}, expected ({n}, {n_vox}) for geometry "
                    f"{name!r} with layers {list(layer_shapes)}",
                )
        a, b = _rows(start, stop, n)
        e = _read(inc, path, a, b).reshape(-1).astype(np.float64) / _MEV
        showers = _read(sh, path, a, b).astype(np.float32) / np.float32(_MEV)
        _check_finite(path, "incident_energies", e, a)
        _check_finite(path, "showers", showers, a)
        particle = _optional(f, path, "particle", (n,), a, b, np.int32, 0)
        angle = _optional(f, path, "angle", (n,), a, b, np.float32, 0.0)
        overflow = None
        if "overflow" in f and layer_shapes is not None:
            overflow = _optional(
                f, path, "overflow", (n, len(layer_shapes)), a, b, np.float32, 0.0
            ) / np.float32(_MEV)
    return CaloShowers(e, showers, particle, angle, name, layer_shapes, overflow)


def _optional(f, path, name: str, shape: tuple, a: int, b: int, dtype, fill) -> np.ndarray:
    if name not in f:
        return np.full((b - a, *shape[1:]), fill, dtype)
    if dataset(path, f, name).shape != shape:
        raise DataFormatError(path, f"{name!r} has shape {f[name].shape}, expected {shape}")
    out = _read(f[name], path, a, b).astype(dtype)
    _check_finite(path, name, out, a)
    return out


def read_calogan(
    path: str | os.PathLike,
    *,
    particle: str | int | None = None,
    start: int = 0,
    stop: int | None = None,
) -> CaloShowers:
    """Read a CaloGAN file (``layer_0..2`` and ``overflow`` in MeV, ``energy`` in GeV) into
    :class:`CaloShowers` of the ``calogan`` geometry (GeV; voxels = layer_0, layer_1, layer_2
    flattened row-major). ``particle`` defaults to the file name (``eplus``, ``gamma``,
    ``piplus``; else unknown = 0). Missing ``overflow`` reads as zeros."""
    path = Path(path)
    if particle is None:
        stem = path.stem.lower()
        name = next((v for k, v in _CALOGAN_NAMES.items() if k in stem), None)
        pid = PDG_IDS[name] if name else 0
    else:
        pid = particle_id(particle)
    with open_hdf5(path) as f, reading(path):
        expected = {f"layer_{k}": f"(N, {r}, {c}) MeV" for k, (r, c) in enumerate(CALOGAN_LAYERS)}
        expected["energy"] = "(N, 1) GeV"
        _require(f, path, expected, "CaloGAN")
        n = f["energy"].shape[0]
        if f["energy"].shape not in ((n, 1), (n,)):
            raise DataFormatError(
                path, f"'energy' has shape {f['energy'].shape}, expected ({n}, 1)"
            )
        for k, (r, c) in enumerate(CALOGAN_LAYERS):
            shape = f[f"layer_{k}"].shape
            if shape != (n, r, c):
                raise DataFormatError(
                    path, f"'layer_{k}' has shape {shape}, expected ({n}, {r}, {c})"
                )
        a, b = _rows(start, stop, n)
        e = _read(f["energy"], path, a, b).reshape(-1).astype(np.float64)
        _check_finite(path, "energy", e, a)
        layers = []
        for k in range(len(CALOGAN_LAYERS)):
            arr = _read(f[f"layer_{k}"], path, a, b)
            _check_finite(path, f"layer_{k}", arr, a)
            layers.append(arr.reshape(b - a, -1))
        showers = np.concatenate(layers, axis=1).astype(np.float32) / np.float32(_MEV)
        overflow = _optional(f, path, "overflow", (n, 3), a, b, np.float32, 0.0) / np.float32(_MEV)
    return CaloShowers(
        e,
        showers,
        np.full(b - a, pid, np.int32),
        np.zeros(b - a, np.float32),
        "calogan",
        CALOGAN_LAYERS,
        overflow,
    )
