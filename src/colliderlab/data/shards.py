"""Sharded jet samples: many colliderlab HDF5 files, one manifest, one master file that reads as one.

Layout of a sample written to ``OUT.h5``::

    OUT.h5                       master file: HDF5 virtual datasets over every shard (no copy)
    OUT.h5.shards/manifest.json  settings, sample id, and per shard: file, jets (per class), bytes, sha256
    OUT.h5.shards/shard-000000.h5, shard-000001.h5, ...   ordinary colliderlab jet files

Each shard is a complete colliderlab jet file (:mod:`colliderlab.data.h5`) that also carries the
root attribute ``shard`` = JSON ``{"sample_id": ..., "index": k}``; a worker writes it under a
temporary name and renames it when it is whole. The master file has the same datasets and root
attributes as any colliderlab file, so every reader reads the whole sample through it, plus the
attribute ``sharded`` = JSON ``{"manifest": <path relative to the master>, "sample_id": ...}``.

An HDF5 virtual dataset whose source file is missing reads fill values (zeros) without an error.
So every open of a master file first checks the shards against the manifest
(:func:`check_shards`): each must exist, have the recorded size in bytes, and name this sample and
its own index; a shard of another sample (another manifest) is refused. The sha256 recorded for
each shard is checked in full by :func:`verify_sample` (``full=True``), which generation runs
before it reuses a shard and ``colliderlab shards verify`` runs on demand.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import replacing
from colliderlab.data.errors import DataFormatError
from colliderlab.data.manifest import (
    JET_SHARDS,
    MANIFEST,
    MANIFEST_FORMAT,
    Manifest,
    ShardInfo,
    ShardKind,
    check_shards,
    file_sha256,
    is_sharded,
    master_link,
    shard_name,
    shard_problems,
    shards_dir,
)
from colliderlab.jets import JetBatch

__all__ = [
    "MANIFEST_FORMAT",
    "JET_SHARDS",
    "Manifest",
    "ShardKind",
    "ShardInfo",
    "ShardedSample",
    "check_shards",
    "file_sha256",
    "is_sharded",
    "open_sample",
    "shard_name",
    "shards_dir",
    "shard_problems",
    "verify_sample",
    "write_master",
    "write_shard",
]

def write_shard(path: str | os.PathLike, batch: JetBatch, *, sample_id: str, index: int, n_particles: int,
                label_names: Sequence[str], provenance: Mapping[str, Any] | None = None,
                extra: Mapping[str, Any] | None = None) -> ShardInfo:
    """Write ``batch`` as shard ``index`` of sample ``sample_id`` (atomically) and describe it."""
    from colliderlab.data.h5 import H5Writer

    path = Path(path)
    label_names = tuple(label_names)
    with H5Writer(path, n_particles=n_particles, label_names=label_names, overwrite=True,
                  attrs={"provenance": dict(provenance or {}),
                         "shard": {"sample_id": sample_id, "index": int(index)}}) as w:
        w.append(JetBatch(**batch.arrays(), label_names=label_names, fields=batch.fields))
    counts = np.bincount(batch.label, minlength=len(label_names))[: len(label_names)]
    return ShardInfo(index=int(index), file=path.name, n=len(batch), n_per_class=[int(c) for c in counts],
                     bytes=path.stat().st_size, sha256=file_sha256(path), extra=dict(extra or {}))


def _tail(name: str, p: int) -> tuple[int, ...]:
    """Shape after the jet axis of dataset ``name`` in a file of ``p`` particle slots."""
    return {"p4": (p, 4), "jet_p4": (4,), "truth_p4": (4,), "label": (), "truth_pdg": (),
            "truth_partons": (3, 4)}.get(name, (p,))


def write_master(master: str | os.PathLike, manifest: Manifest, *, provenance: Mapping[str, Any] | None = None,
                 attrs: Mapping[str, Any] | None = None) -> Path:
    """Write the master file of ``manifest``'s shards (virtual datasets, relative source paths),
    atomically, and mark the manifest complete."""
    import h5py

    from colliderlab.data.h5 import _DTYPES, _FIELDS, _OPTIONAL, FORMAT, SCHEMA_VERSION, _fields

    master = Path(master)
    folder = shards_dir(master)
    shards = sorted(manifest.shards, key=lambda s: s.index)
    n_total, p = sum(s.n for s in shards), manifest.n_particles
    fields, names = None, list(_FIELDS + _OPTIONAL)
    for s in shards:
        with h5py.File(folder / s.file, "r") as f:
            carried = _fields(folder / s.file, f)
            names = [k for k in names if k in f]  # datasets of a later schema only if every shard has them
        fields = carried if fields is None else fields & carried
    rel = os.path.relpath(folder, master.parent)
    with replacing(master) as tmp:
        with h5py.File(tmp, "w", libver=("v110", "latest")) as f:
            for name in names:
                tail = _tail(name, p)
                layout = h5py.VirtualLayout(shape=(n_total, *tail), dtype=_DTYPES[name])
                row = 0
                for s in shards:
                    if s.n:
                        src = h5py.VirtualSource(f"{rel}/{s.file}", name, shape=(s.n, *tail))
                        layout[row : row + s.n] = src
                    row += s.n
                f.create_virtual_dataset(name, layout, fillvalue=0)
            f.attrs.update({
                "format": FORMAT,
                "schema_version": SCHEMA_VERSION,
                "label_names": np.bytes_(json.dumps(manifest.label_names).encode()),
                "fields": np.bytes_(json.dumps(sorted(fields or ())).encode()),
                "n_jets": n_total,
                "n_particles": p,
                "provenance": json.dumps(dict(provenance or {}), default=str),
                "sharded": json.dumps({"manifest": f"{rel}/{MANIFEST}", "sample_id": manifest.sample_id}),
                "n_shards": len(shards),
                **{k: (v if isinstance(v, (int, float, str)) else json.dumps(v, default=str))
                   for k, v in (attrs or {}).items()},
            })
    manifest.complete = True
    manifest.save(folder)
    return master


@dataclass
class ShardedSample:
    """A sharded sample opened for reading: its master file, folder, manifest and shard paths."""

    master: Path
    folder: Path
    manifest: Manifest

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(self.manifest.label_names)

    @property
    def shards(self) -> list[tuple[Path, int]]:
        """``(path, n_jets)`` per shard, in shard order."""
        return [(self.folder / s.file, s.n) for s in sorted(self.manifest.shards, key=lambda s: s.index)]

    def __len__(self) -> int:
        return self.manifest.n_jets


def open_sample(path: str | os.PathLike, *, full: bool = False) -> ShardedSample:
    """Open the sharded sample whose master file is ``path`` (checked as :func:`check_shards`)."""
    import errno

    import h5py

    master = Path(path)
    if not master.is_file():
        raise FileNotFoundError(errno.ENOENT, "no such sample master file", str(master))
    with h5py.File(master, "r") as f:
        attrs = dict(f.attrs)
    if not is_sharded(attrs):
        raise DataFormatError(master, "not the master file of a sharded sample (no 'sharded' attribute)")
    manifest = check_shards(master, attrs, full=full)
    return ShardedSample(master=master, folder=master_link(master, attrs)[0], manifest=manifest)


def verify_sample(path: str | os.PathLike) -> ShardedSample:
    """:func:`open_sample` with every shard's sha256 recomputed and compared with the manifest."""
    return open_sample(path, full=True)
