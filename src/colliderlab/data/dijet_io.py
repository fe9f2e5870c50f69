"""Dijet samples for resonance searches on disk: parallel, resumable generation and reading.

:func:`generate_dijets` runs :func:`colliderlab.physics.dijet.dijet_chunk` over chunks 0, 1, 2, ...
of one kind ("qcd" or "wprime") until ``n_events`` selected events exist, as tasks of
:func:`colliderlab.data.chunks.run_chunks`: in this process, on a local Dask cluster or on an
existing scheduler (:mod:`colliderlab.cluster`). Every finished chunk is saved atomically under
``OUT.parts/`` beside a manifest of the settings, so a killed run resumes where it stopped (same
settings) or starts over (different settings); chunks are taken in order, so the file is the same
whatever the number of workers. The final HDF5 file (assembled from the parts one at a time under
a temporary name, then renamed) holds

* ``jet_p4`` (N, 2, 4) float64 (E, px, py, pz) of the two leading R = 1.0 jets, GeV;
* ``tau`` (N, 2, 3) float64 N-subjettiness tau_1..3 of those jets;
* root attributes ``format = "colliderlab-dijet"``, ``kind``, ``config`` (JSON of
  :class:`~colliderlab.physics.dijet.DijetConfig`), ``n_generated`` (events generated for the N
  kept: the selection efficiency is N / n_generated), ``seconds`` (Pythia / detector / jets) and
  ``cross_section`` (JSON of :class:`~colliderlab.physics.xsec.CrossSection`: Pythia's sigma of the
  generated process and the selection efficiency; absent in files written before it existed,
  read as None).

:func:`read_dijets` returns the arrays and the search features (:func:`dijet_features`).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.cluster import ClusterConfig
from colliderlab.data.errors import DataFormatError, reading
from colliderlab.data.formats._common import (
    attr_numbers,
    attr_str,
    check_attrs,
    check_lengths,
    open_hdf5,
)
from colliderlab.physics.dijet import DIJET_KINDS, DijetConfig, dijet_chunk, dijet_features

__all__ = ["FORMAT", "generate_dijets", "read_dijets"]

FORMAT = "colliderlab-dijet"
_STAGES = ("pythia", "detector", "jets")


def _run_chunk(config: DijetConfig, kind: str, chunk: int, path: str) -> dict[str, Any]:
    """Task: chunk ``chunk`` of ``kind`` saved as a part; returns its stats."""
    from colliderlab.data.chunks import save_chunk

    return save_chunk(dijet_chunk(kind, config, chunk), path, "jet_p4", _STAGES)


def generate_dijets(
    path: str | os.PathLike,
    kind: str,
    n_events: int,
    config: DijetConfig | None = None,
    *,
    workers: int = 1,
    cluster: ClusterConfig | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Generate ``n_events`` selected events of ``kind`` into ``path`` (see the module docstring).

    Args:
        workers: local worker processes when ``cluster`` is None (1: in this process, no cluster).
        cluster: where the chunks run (a local Dask cluster or a scheduler address); overrides
            ``workers``.

    Returns a summary: ``n_events``, ``n_generated``, ``chunks``, ``resumed_chunks``,
    ``wall_seconds`` and ``seconds`` per stage summed over chunks (CPU time of the workers).
    """
    from colliderlab.data.chunks import chunk_runner, prepare_parts, run_chunks, write_parts_h5

    config = config or DijetConfig()
    if kind not in DIJET_KINDS:
        raise ValueError(f"unknown dijet kind {kind!r}; valid kinds: {', '.join(DIJET_KINDS)}")
    if n_events < 1 or workers < 1:
        raise ValueError(f"n_events ({n_events}) and workers ({workers}) must be >= 1")
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    parts = prepare_parts(path.with_name(path.name + ".parts"), {"kind": kind, "config": asdict(config)})
    with chunk_runner(workers, cluster, fastjet=True) as (runner, _, capacity):
        run = run_chunks(parts, partial(_run_chunk, config), (kind,), n_events, runner=runner,
                         chunk_events=config.chunk_events, expected_fraction=0.5, capacity=capacity,
                         max_empty=None, desc=f"dijet {kind}", unit="ev", progress=progress)

    # chunks in order until n_events: the same file for any number of workers
    used = run.used(kind, n_events)
    stats = [run.stats[kind][k] for k in range(len(used))]
    n_gen = sum(c.events for c in stats)
    seconds = [sum(c.seconds.get(stage, 0.0) for c in stats) for stage in _STAGES]
    from colliderlab.physics.xsec import combine

    xsec = combine((c.xsec for c in stats), n_gen, sum(c.rows for c in stats))
    attrs = {"format": FORMAT, "kind": kind, "config": json.dumps(asdict(config)), "n_generated": int(n_gen),
             "seconds": seconds, "cross_section": json.dumps(xsec.to_dict())}
    n = write_parts_h5(path, [(run.path(kind, k), take) for k, take in enumerate(used)], ("jet_p4", "tau"), attrs)
    shutil.rmtree(parts)
    return {"path": str(path), "n_events": n, "n_generated": n_gen, "chunks": len(used),
            "resumed_chunks": run.resumed, "wall_seconds": run.wall_seconds,
            "seconds": dict(zip(_STAGES, seconds, strict=True))}


def _check_shapes(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    expected = {"jet_p4": (2, 4), "tau": (2, 3)}
    for k, tail in expected.items():
        a = arrays[k]
        if a.ndim != 3 or a.shape[1:] != tail or a.dtype != np.float64:
            raise DataFormatError(path, f"dataset {k!r} is {a.dtype} {a.shape}, expected float64 (N, {tail[0]}, {tail[1]})")
    check_lengths(path, {k: len(arrays[k]) for k in expected}, "datasets")


def read_dijets(path: str | os.PathLike) -> dict[str, Any]:
    """A file of :func:`generate_dijets`: ``jet_p4``, ``tau``, the search features (``mjj``,
    ``mj1``, ``delta_mj``, ``tau21_j1``, ``tau21_j2``; each (N,)) and ``attrs``."""
    with open_hdf5(path) as f, reading(path):
        if f.attrs.get("format") != FORMAT:
            raise DataFormatError(path, f"not a {FORMAT} file (format attribute {f.attrs.get('format')!r})")
        missing = [k for k in ("jet_p4", "tau") if k not in f]
        if missing:
            raise DataFormatError(path, f"missing datasets {missing}")
        out: dict[str, Any] = {"jet_p4": f["jet_p4"][:], "tau": f["tau"][:]}
        _check_shapes(path, out)
        a = f.attrs
        check_attrs(path, a)
        out["attrs"] = {"kind": attr_str(path, a, "kind"), "config": json.loads(attr_str(path, a, "config")),
                        "n_generated": int(attr_numbers(path, a, "n_generated")),
                        "seconds": attr_numbers(path, a, "seconds").tolist(),
                        "cross_section": (json.loads(attr_str(path, a, "cross_section")) if "cross_section" in a
                                          else None)}
    out.update(dijet_features(out["jet_p4"], out["tau"]))
    return out
