"""Sharded score files: what ``colliderlab predict`` writes for a sharded sample, read as one file.

Layout of the scores of a sharded sample written to ``OUT``::

    OUT                          master file: HDF5 virtual datasets over every score shard (no copy)
    OUT.shards/manifest.json     the input sample's id, the run and its fingerprint, and per shard:
                                 file, jets (per class), bytes, sha256, the input shard's sha256
    OUT.shards/scores-000000.h5, scores-000001.h5, ...   ordinary score files, one per input shard

Each score shard is an ordinary score file (the datasets and attributes of
:func:`colliderlab.train.runs.write_scores`: ``scores`` (N_k, C) and ``labels`` (N_k,), or
``predictions``/``targets``/``sigma`` (N_k, 1)) plus the root attribute ``score_shard`` = JSON
``{"sample_id": <scores id>, "index": k}``; shard k scores the jets of input shard k, in order. The
master file has the same datasets and attributes as a single score file, so ``h5py`` code that
reads one reads the other, plus ``sharded_scores`` (the link to the manifest), ``n_shards`` and
``n_jets``.

The scores id is a digest of the settings (input sample id, run directory and fingerprint,
allowed missing fields): a score shard of another run or sample carries another id and is
refused. As for jet samples, a virtual dataset whose source file is missing reads zeros, so
:func:`read_scores` (and :func:`check_scores`) first check every shard against the manifest
(:func:`colliderlab.data.shards.check_shards` with :data:`SCORE_SHARDS`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import replacing
from colliderlab.data.shards import MANIFEST, Manifest, ShardKind, check_shards, shards_dir

__all__ = ["SCORE_SHARDS", "SCORES_FORMAT", "check_scores", "read_scores", "score_shard_name",
           "write_score_master"]

SCORES_FORMAT = "colliderlab-score-shards-1"

#: Score shards: the master's ``sharded_scores`` links the manifest, each shard's ``score_shard``
#: names the scores id and its index.
SCORE_SHARDS = ShardKind(link="sharded_scores", attr="score_shard", format=SCORES_FORMAT,
                         redo="Run the same `colliderlab predict` again (only those shards are recomputed)")

_OWN_ATTRS = (SCORE_SHARDS.attr, SCORE_SHARDS.link, "n_shards", "n_jets")


def score_shard_name(index: int) -> str:
    return f"scores-{index:06d}.h5"


def _layout_of(path: Path) -> tuple[dict[str, tuple[tuple[int, ...], np.dtype]], dict[str, Any]]:
    """Dataset name -> (shape after the jet axis, dtype), and the root attributes, of a score file."""
    import h5py

    with h5py.File(path, "r") as f:
        datasets = {name: (f[name].shape[1:], f[name].dtype) for name in f}
        return datasets, dict(f.attrs)


def write_score_master(out: str | os.PathLike, manifest: Manifest, *,
                       attrs: Mapping[str, Any] | None = None) -> Path:
    """Write the master score file ``out`` over ``manifest``'s score shards (virtual datasets,
    relative source paths), atomically, and mark the manifest complete.

    Args:
        out: the master file; its shards are in ``OUT.shards``.
        manifest: the score manifest (every shard written).
        attrs: root attributes that replace the first shard's (e.g. the input contract found on
            the whole sample rather than on one shard).
    """
    import h5py

    out = Path(out)
    folder = shards_dir(out)
    shards = sorted(manifest.shards, key=lambda s: s.index)
    if not shards:
        raise ValueError(f"{folder} has no score shards to join")
    datasets, root = _layout_of(folder / shards[0].file)
    for s in shards[1:]:
        other, _ = _layout_of(folder / s.file)
        if other != datasets:
            raise ValueError(f"score shard {s.file} has datasets {other}, {shards[0].file} has {datasets}")
    n_total = sum(s.n for s in shards)
    rel = os.path.relpath(folder, out.parent)
    with replacing(out) as tmp:
        with h5py.File(tmp, "w", libver=("v110", "latest")) as f:
            for name, (tail, dtype) in datasets.items():
                layout = h5py.VirtualLayout(shape=(n_total, *tail), dtype=dtype)
                row = 0
                for s in shards:
                    if s.n:
                        layout[row : row + s.n] = h5py.VirtualSource(f"{rel}/{s.file}", name, shape=(s.n, *tail))
                    row += s.n
                f.create_virtual_dataset(name, layout, fillvalue=0)
            f.attrs.update({k: v for k, v in root.items() if k not in _OWN_ATTRS})
            for key, value in (attrs or {}).items():
                f.attrs[key] = value if isinstance(value, str) else json.dumps(value)
            f.attrs[SCORE_SHARDS.link] = json.dumps({"manifest": f"{rel}/{MANIFEST}",
                                                     "sample_id": manifest.sample_id})
            f.attrs["n_shards"] = len(shards)
            f.attrs["n_jets"] = n_total
    manifest.complete = True
    manifest.save(folder)
    return out


def check_scores(path: str | os.PathLike, *, full: bool = False) -> Manifest | None:
    """Check the shards behind a master score file (None for a single score file).

    Raises:
        DataFormatError: a missing, resized, foreign (another run's or sample's) or, with ``full``,
            corrupt score shard, naming the file and what to do.
    """
    import h5py

    with h5py.File(path, "r") as f:
        attrs = dict(f.attrs)
    if SCORE_SHARDS.link not in attrs:
        return None
    return check_shards(path, attrs, full=full, kind=SCORE_SHARDS)


def read_scores(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Every dataset of a score file, single or sharded (its shards checked first), and its root
    attributes (JSON ones decoded).

    Returns:
        ``({"scores": (N, C), "labels": (N,)} or {"predictions": (N, 1), "targets": (N, 1),
        "sigma": (N, 1)}, attrs)``; datasets the file lacks are absent.
    """
    import h5py

    check_scores(path)
    with h5py.File(path, "r") as f:
        arrays = {name: f[name][()] for name in f}
        attrs = {k: _decoded(v) for k, v in f.attrs.items()}
    return arrays, attrs


def _decoded(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value.item() if isinstance(value, np.generic) else value
