"""Cut a jet file of any registered format into a sharded sample (:mod:`colliderlab.data.shards`)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from colliderlab.data.shards import (
    Manifest,
    ShardedSample,
    open_sample,
    shard_name,
    shards_dir,
    write_master,
    write_shard,
)
from colliderlab.jets import JetBatch

__all__ = ["shard_file"]


def shard_file(src: str | os.PathLike, out: str | os.PathLike, *, shard_jets: int,
               repeat: int = 1, overwrite: bool = False) -> ShardedSample:
    """Cut an existing jet file (any registered format) into a sharded sample of ``shard_jets``
    jets per shard, streamed (one shard in memory at a time). ``repeat`` > 1 writes the file's
    jets that many times over (benchmarks of streaming at scale from a small generated sample;
    the copies are identical jets)."""
    import shutil

    from colliderlab.data.formats import iter_jets

    out, src = Path(out), Path(src)
    folder = shards_dir(out)
    if out.exists() or folder.exists():
        if not overwrite:
            raise FileExistsError(f"{out} exists; pass overwrite=True (--overwrite) to replace it")
        out.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    first = next(iter_jets(src, chunk_size=1))
    settings = {"source": str(src.resolve()), "shard_jets": int(shard_jets), "repeat": int(repeat)}
    manifest = Manifest.new(settings, first.label_names, first.n_particles)
    k = 0
    for _ in range(repeat):
        for batch in _rebatch(iter_jets(src, chunk_size=shard_jets), shard_jets):
            info = write_shard(folder / shard_name(k), batch, sample_id=manifest.sample_id, index=k,
                               n_particles=manifest.n_particles, label_names=manifest.label_names)
            manifest.shards.append(info)
            k += 1
    manifest.save(folder)
    write_master(out, manifest, provenance={"sharded_from": str(src)})
    return open_sample(out)


def _rebatch(batches: Iterable[JetBatch], size: int) -> Iterable[JetBatch]:
    pending: list[JetBatch] = []
    n = 0
    for b in batches:
        pending.append(b)
        n += len(b)
        while n >= size:
            merged = JetBatch.concatenate(pending)
            yield merged[:size]
            rest = merged[size:]
            pending, n = ([rest] if len(rest) else []), len(rest)
    if n:
        yield JetBatch.concatenate(pending)
