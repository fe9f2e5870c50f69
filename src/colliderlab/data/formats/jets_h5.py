"""colliderlab's own HDF5 jet files (root attribute ``format = "colliderlab-jets"``), delegated
to :mod:`colliderlab.data.h5` (imported when used)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from colliderlab.data.formats._common import PathLike, check_chunk_size, n_slots, open_hdf5
from colliderlab.data.formats.registry import JetFormat
from colliderlab.jets import JetBatch

__all__ = ["FORMAT", "SHARDED_FORMAT"]

_FORMAT_ATTR = "colliderlab-jets"


def _read(
    path: PathLike, *, start: int = 0, stop: int | None = None, n_particles: int | None = None
) -> JetBatch:
    from colliderlab.data.h5 import read_h5

    batch = read_h5(path, start=start, stop=stop)
    return batch.truncate(n_slots(n_particles, batch.n_particles))


def _iterate(
    path: PathLike, *, chunk_size: int = 100_000, n_particles: int | None = None
) -> Iterator[JetBatch]:
    from colliderlab.data.h5 import iter_h5

    check_chunk_size(chunk_size)
    for batch in iter_h5(path, chunk_size):
        yield batch.truncate(n_slots(n_particles, batch.n_particles))


def _count(path: PathLike) -> int:
    from colliderlab.data.h5 import count_h5

    return count_h5(path)


def _sniff(path: Path) -> bool:
    with open_hdf5(path) as f:
        fmt = f.attrs.get("format")
    return (fmt.decode() if isinstance(fmt, bytes) else fmt) == _FORMAT_ATTR


def _sniff_sharded(path: Path) -> bool:
    with open_hdf5(path) as f:
        sharded = "sharded" in f.attrs
    return sharded and _sniff(path)


FORMAT = JetFormat(
    name="colliderlab",
    extensions=(".h5", ".hdf5", ".hdf"),
    sniff=_sniff,
    read=_read,
    iterate=_iterate,
    count=_count,
    signature=f"colliderlab's HDF5 (root attribute format='{_FORMAT_ATTR}')",
)

#: A sharded sample (:mod:`colliderlab.data.shards`) read through its master file of virtual
#: datasets; every open checks the shards against the manifest first.
SHARDED_FORMAT = JetFormat(
    name="colliderlab-sharded",
    extensions=(".h5", ".hdf5", ".hdf"),
    sniff=_sniff_sharded,
    read=_read,
    iterate=_iterate,
    count=_count,
    signature=f"the master file of a colliderlab sharded sample (root attributes format='{_FORMAT_ATTR}', sharded)",
)
