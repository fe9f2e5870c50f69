"""Event-level samples on disk (issue #6): resumable generation, reading, and the SM cocktail.

:func:`generate_events` runs :func:`colliderlab.physics.sm_events.event_chunk` over chunks 0, 1,
2, ... of one process until ``n_events`` triggered events exist (or ``max_generated`` events
were generated), as tasks of :func:`colliderlab.data.chunks.run_chunks`: in this process, on a
local Dask cluster or on an existing scheduler (:mod:`colliderlab.cluster`). Every finished
chunk is saved atomically under ``OUT.parts/`` beside a manifest of the settings, so a killed
run resumes where it stopped (same settings) or starts over (different settings); chunks are
taken in order, so the file is the same whatever the number of workers. The final HDF5 file
(assembled from the parts one at a time under a temporary name, then renamed) holds

* ``features`` (N, F) float32, the high-level features
  (:data:`~colliderlab.physics.sm_events.FEATURE_NAMES`, also in the ``feature_names``
  attribute);
* ``electrons``, ``muons`` (N, 4, 5) float32 (pt, eta, phi, charge, rel_iso; isolated, pT
  order, zero padded), ``jets`` (N, 10, 6) float32 (pt, eta, phi, mass, btag, flavour),
  ``met`` (N, 2) float32 (MET, phi);
* root attributes ``format = "colliderlab-events"``, ``process``, ``config`` (JSON of
  :class:`~colliderlab.physics.sm_events.EventConfig`), ``n_generated`` (Pythia events of the
  chunks used), ``n_filtered`` (of those, passing the generator-level lepton filter),
  ``sigma_gen_pb`` (Pythia's ``sigmaGen()``, mb -> pb, averaged over the chunks weighted by
  their events), ``filter_efficiency`` (n_filtered / n_generated; 1 without filter),
  ``trigger_efficiency`` (N / n_filtered), ``seconds`` (pythia / detector / reconstruction,
  summed over chunks), ``feature_names``, ``lepton_fields``, ``jet_fields``.

The events stored are all triggered events of whole chunks, so the efficiencies are exact
ratios of the sample. :func:`read_events` returns the arrays and the weights;
:func:`cocktail` mixes the Standard-Model processes in proportion to
``sigma_gen x filter efficiency x trigger efficiency``, measured, never typed in (an unweighted
draw, limited by the scarcest process, or with ``weighted=True`` every event with a weight).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
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
    attr_strings,
    check_attrs,
    check_lengths,
    open_hdf5,
)
from colliderlab.physics.sm_events import (
    FEATURE_NAMES,
    JET_FIELDS,
    LEPTON_FIELDS,
    EventConfig,
    check_process,
    event_chunk,
)

__all__ = ["FORMAT", "OBJECT_KEYS", "generate_events", "read_events", "cocktail"]

FORMAT = "colliderlab-events"
OBJECT_KEYS: tuple[str, ...] = ("electrons", "muons", "jets", "met")
_ARRAY_KEYS = ("features", *OBJECT_KEYS)
_MB_TO_PB = 1e9
_STAGES = ("pythia", "detector", "reconstruction")


def _run_chunk(config: EventConfig, process: str, chunk: int, path: str) -> dict[str, Any]:
    """Task: chunk ``chunk`` of ``process`` saved as a part; returns its stats."""
    from colliderlab.data.chunks import save_chunk

    return save_chunk(event_chunk(process, config, chunk), path, "features", _STAGES)


def generate_events(
    path: str | os.PathLike,
    process: str,
    n_events: int,
    config: EventConfig | None = None,
    *,
    workers: int = 1,
    cluster: ClusterConfig | None = None,
    progress: bool = True,
    overwrite: bool = False,
    max_generated: int | None = None,
    max_seconds: float | None = None,
) -> dict[str, Any]:
    """Generate ``n_events`` triggered events of ``process`` into ``path`` (see the module docstring).

    Args:
        path: output HDF5 file.
        process: one of :data:`~colliderlab.physics.sm_events.PROCESSES`.
        n_events: triggered events wanted; whole chunks are kept, so the file may hold a few more.
        config: sample settings (default :class:`EventConfig`).
        workers: local worker processes when ``cluster`` is None (1: in this process, no cluster;
            chunks are taken in order: same file for any number).
        cluster: where the chunks run (a local Dask cluster or a scheduler address); overrides
            ``workers``.
        progress: show a tqdm bar of triggered events.
        overwrite: replace an existing ``path``.
        max_generated: stop once this many events were generated even if fewer than
            ``n_events`` fired the trigger (for the expensive filtered QCD sample).
        max_seconds: stop starting new chunks after this much wall time (the file then holds
            the chunks finished so far; at least one). Time-boxed samples depend on the
            machine's speed, unlike the other limits.

    Returns:
        A summary: ``path``, ``process``, ``n_events``, ``n_generated``, ``n_filtered``,
        ``sigma_gen_pb``, ``filter_efficiency``, ``trigger_efficiency``, ``sigma_pb``
        (sigma_gen x filter efficiency), ``chunks``, ``resumed_chunks``, ``wall_seconds``,
        ``ms_per_event`` (worker seconds per generated event) and ``seconds`` per stage.
    """
    from colliderlab.data.chunks import chunk_runner, prepare_parts, run_chunks, write_parts_h5

    config = config or EventConfig()
    check_process(process)
    if n_events < 1 or workers < 1:
        raise ValueError(f"n_events ({n_events}) and workers ({workers}) must be >= 1")
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    parts = prepare_parts(path.with_name(path.name + ".parts"), {"process": process, "config": asdict(config)})
    with chunk_runner(workers, cluster, fastjet=True) as (runner, _, capacity):
        run = run_chunks(parts, partial(_run_chunk, config), (process,), n_events, runner=runner,
                         chunk_events=config.chunk_events, expected_fraction=0.05, capacity=capacity,
                         max_generated=max_generated, max_seconds=max_seconds, max_empty=None,
                         desc=f"events {process}", unit="ev", progress=progress)
    used = _whole_chunks(run.prefix(process), n_events, max_generated)
    pieces = [(run.path(process, k), c.rows) for k, c in enumerate(used)]
    attrs = _event_attrs(process, config, used, pieces)
    n = write_parts_h5(path, pieces, _ARRAY_KEYS, attrs)
    shutil.rmtree(parts)
    n_generated, seconds = attrs["n_generated"], attrs["seconds"]
    rates = ("n_filtered", "sigma_gen_pb", "filter_efficiency", "trigger_efficiency")
    return {
        "path": str(path), "process": process, "n_events": n, "n_generated": n_generated,
        **{k: attrs[k] for k in rates},
        "sigma_pb": attrs["sigma_gen_pb"] * attrs["filter_efficiency"],
        "chunks": len(used), "resumed_chunks": run.resumed, "wall_seconds": run.wall_seconds,
        "ms_per_event": 1e3 * float(sum(seconds)) / max(n_generated, 1),
        "seconds": dict(zip(_STAGES, seconds, strict=True)),
    }


def _whole_chunks(prefix: list[Any], n_events: int, max_generated: int | None) -> list[Any]:
    """Stats of the chunks 0, 1, ... kept whole until ``n_events`` rows or ``max_generated`` events:
    the same file for any number of workers."""
    used: list[Any] = []
    n = n_generated = 0
    for c in prefix:
        if n >= n_events or (max_generated is not None and n_generated >= max_generated):
            break
        used.append(c)
        n += c.rows
        n_generated += c.events
    return used


def _event_attrs(process: str, config: EventConfig, used: list[Any],
                 pieces: list[tuple[Path, int]]) -> dict[str, Any]:
    """The file's root attributes from the stats of the chunks used and their parts' scalars."""
    n = sum(c.rows for c in used)
    n_generated = sum(c.events for c in used)
    n_filtered, sigma_sum = 0, 0.0
    for part, _ in pieces:
        with np.load(part, allow_pickle=False) as z:  # reads only these two members
            n_filtered += int(z["n_filtered"])
            sigma_sum += float(z["sigma_gen_mb"]) * int(z["n_generated"])
    return {
        "format": FORMAT,
        "process": process,
        "config": json.dumps(asdict(config)),
        "n_generated": int(n_generated),
        "n_filtered": int(n_filtered),
        "sigma_gen_pb": sigma_sum / max(n_generated, 1) * _MB_TO_PB,
        "filter_efficiency": n_filtered / max(n_generated, 1),
        "trigger_efficiency": n / max(n_filtered, 1),
        "seconds": [sum(c.seconds.get(stage, 0.0) for c in used) for stage in _STAGES],
        "feature_names": list(FEATURE_NAMES),
        "lepton_fields": list(LEPTON_FIELDS),
        "jet_fields": list(JET_FIELDS),
    }


def _check_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Dtypes (float32) and ranks as written, and one number of events for all arrays."""
    for k in _ARRAY_KEYS:
        a = arrays[k]
        if a.dtype != np.float32 or a.ndim != (2 if k in ("features", "met") else 3):
            raise DataFormatError(path, f"dataset {k!r} is {a.dtype} with shape {a.shape}, expected float32 "
                                        "of the documented rank")
    check_lengths(path, {k: len(arrays[k]) for k in _ARRAY_KEYS}, "datasets")


def read_events(path: str | os.PathLike) -> dict[str, Any]:
    """A file of :func:`generate_events`.

    Returns:
        ``features`` (N, F) float32, ``feature_names`` (tuple of str), ``process`` (str),
        ``sigma_pb`` (sigma_gen x filter efficiency, pb), ``sigma_gen_pb``,
        ``filter_efficiency``, ``trigger_efficiency`` (floats), ``n_generated``,
        ``n_filtered`` (ints), ``electrons``, ``muons`` (N, 4, 5), ``jets`` (N, 10, 6),
        ``met`` (N, 2) float32, ``lepton_fields``, ``jet_fields`` (tuples of str), ``config``
        (dict) and ``seconds`` (pythia, detector, reconstruction: worker seconds of the chunks).

    Raises:
        DataFormatError: not a ``colliderlab-events`` file, or one missing a dataset.
    """
    with open_hdf5(path) as f, reading(path):
        if f.attrs.get("format") != FORMAT:
            raise DataFormatError(
                path, f"not a {FORMAT} file (format attribute {f.attrs.get('format')!r})"
            )
        missing = [k for k in _ARRAY_KEYS if k not in f]
        if missing:
            raise DataFormatError(path, f"missing datasets {missing}")
        out: dict[str, Any] = {k: f[k][:] for k in _ARRAY_KEYS}
        _check_arrays(path, out)
        a = f.attrs
        check_attrs(path, a)
        for k in ("feature_names", "lepton_fields", "jet_fields"):
            out[k] = attr_strings(path, a, k)
        out["process"] = attr_str(path, a, "process")
        out["config"] = json.loads(attr_str(path, a, "config"))
        for k in ("n_generated", "n_filtered"):
            out[k] = int(attr_numbers(path, a, k))
        for k in ("sigma_gen_pb", "filter_efficiency", "trigger_efficiency"):
            out[k] = float(attr_numbers(path, a, k))
        out["seconds"] = tuple(attr_numbers(path, a, "seconds").tolist())
        if out["features"].shape[1:] != (len(out["feature_names"]),):
            raise DataFormatError(path, f"'features' has shape {out['features'].shape}, expected "
                                        f"(N, {len(out['feature_names'])}) for its feature_names")
    out["features"] = out["features"].astype(np.float32)
    out["sigma_pb"] = out["sigma_gen_pb"] * out["filter_efficiency"]
    return out


def cocktail(
    paths: Mapping[str, str | os.PathLike],
    n_events: int | None = None,
    *,
    seed: int = 0,
    weighted: bool = False,
) -> dict[str, Any]:
    """Mix processes in proportion to their triggered cross-sections.

    The fraction of process p is ``w_p / sum w`` with ``w_p = sigma_pb x trigger_efficiency``
    read from each file (``sigma_pb`` already includes the generator-level filter efficiency).
    Events of each process are drawn without replacement, then shuffled together.

    An unweighted mixture is limited by the scarcest process relative to its fraction (the
    filtered QCD sample, in practice). ``weighted=True`` instead takes every event of every
    process once and returns per-event weights that give each process its fraction.

    Args:
        paths: process name -> file of :func:`generate_events` (the name must match the file's).
        n_events: total events; ``None`` takes the largest total every process can supply at
            its fraction (limited by the scarcest one). Must be ``None`` when ``weighted``.
        seed: the draw and the shuffle.
        weighted: all events, weighted (see above), instead of an unweighted draw.

    Returns:
        ``features`` (N, F) float32, ``particles`` (N, 19, 4) float32 (the same events in the
        ADC2021 layout, :func:`colliderlab.data.adc2021.to_particles`), ``process`` (N,) int64
        index into ``process_names``,
        ``process_names`` (tuple of str, in the order of ``paths``), ``fractions`` (dict
        name -> fraction), ``weights`` (N,) float64 (all 1 unless ``weighted``; they sum to
        N and those of process p to ``fractions[p] * N``), ``counts`` (dict name -> events
        taken), ``weights_pb`` (dict name -> sigma x filter x trigger efficiency, pb) and
        ``feature_names``.

    Raises:
        ValueError: empty ``paths``, a name that differs from the file's process, files with
            different features, or ``n_events`` larger than a process can supply.
    """
    samples = _read_processes(paths)
    names = tuple(samples)
    w = np.array([samples[k]["sigma_pb"] * samples[k]["trigger_efficiency"] for k in names])
    if not (w.sum() > 0):
        raise ValueError(
            f"the processes have no triggered cross-section: {dict(zip(names, w, strict=True))}"
        )
    frac = w / w.sum()
    have = np.array([len(samples[k]["features"]) for k in names])
    counts, n_total = _cocktail_counts(names, frac, have, n_events, weighted)
    features, particles, process = _draw(samples, counts, seed)
    per_event = frac * n_total / np.maximum(counts, 1) if weighted else np.ones(len(names))
    return {
        "features": features.astype(np.float32),
        "particles": particles,
        "process": process,
        "process_names": names,
        "fractions": dict(zip(names, frac.tolist(), strict=True)),
        "weights": per_event[process].astype(np.float64),
        "counts": dict(zip(names, counts.tolist(), strict=True)),
        "weights_pb": dict(zip(names, w.tolist(), strict=True)),
        "feature_names": samples[names[0]]["feature_names"],
    }


def _read_processes(paths: Mapping[str, str | os.PathLike]) -> dict[str, dict[str, Any]]:
    """Process name -> :func:`read_events` of its file; the names and the feature names must agree."""
    if not paths:
        raise ValueError("cocktail needs at least one process file")
    samples = {}
    for name, p in paths.items():
        s = read_events(p)
        if s["process"] != name:
            raise ValueError(f"{p} holds process {s['process']!r}, not {name!r}")
        samples[name] = s
    names = tuple(samples)
    feature_names = samples[names[0]]["feature_names"]
    for name in names:
        if samples[name]["feature_names"] != feature_names:
            raise ValueError(f"{name}: feature names differ from {names[0]}'s")
    return samples


def _cocktail_counts(
    names: tuple[str, ...], frac: np.ndarray, have: np.ndarray, n_events: int | None, weighted: bool
) -> tuple[np.ndarray, int]:
    """Events taken per process (P,) and their total: every event when ``weighted``, else
    ``n_events`` (default: as many as the scarcest process allows) split by ``frac``."""
    ok = frac > 0
    n_max = int(np.floor(np.min(have[ok] / frac[ok])))
    if weighted:
        if n_events is not None:
            raise ValueError("a weighted cocktail takes every event: pass n_events=None")
        counts = np.where(ok, have, 0)
        return counts, int(counts.sum())
    n_total = n_max if n_events is None else int(n_events)
    if n_total > n_max:
        scarce = names[int(np.argmin(np.where(ok, have / np.where(ok, frac, 1), np.inf)))]
        raise ValueError(
            f"n_events={n_total} needs more {scarce!r} events than its file holds (at most {n_max})"
        )
    # largest-remainder rounding of n_total * frac
    raw = n_total * frac
    counts = np.floor(raw).astype(np.int64)
    rest = n_total - int(counts.sum())
    counts[np.argsort(-(raw - counts), kind="stable")[:rest]] += 1
    return np.minimum(counts, have), n_total


def _draw(
    samples: dict[str, dict[str, Any]], counts: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``counts[i]`` events of process i without replacement, then shuffled together:
    ``features`` (N, F), ``particles`` (N, 19, 4) and ``process`` (N,) int64."""
    from colliderlab.data.adc2021 import to_particles

    rng = np.random.default_rng(seed)
    feats, parts, labels = [], [], []
    for i, s in enumerate(samples.values()):
        pick = np.sort(rng.choice(len(s["features"]), size=int(counts[i]), replace=False))
        feats.append(s["features"][pick])
        parts.append(to_particles({k: s[k][pick] for k in OBJECT_KEYS}))
        labels.append(np.full(int(counts[i]), i, np.int64))
    features = np.concatenate(feats)
    particles = np.concatenate(parts)
    process = np.concatenate(labels)
    order = rng.permutation(len(process))
    return features[order], particles[order], process[order]
