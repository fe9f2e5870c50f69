"""Calorimeter showers simulated into a CaloChallenge-layout file, in chunks on any cluster.

The chunks are tasks of :func:`colliderlab.data.chunks.run_chunks` (in this process, on local Dask
workers or on a scheduler); the file is written with :mod:`colliderlab.data.calo_io`'s layout.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.cluster import ClusterConfig
from colliderlab.data.calo_io import _create_datasets, _root_attrs, _write_rows
from colliderlab.physics.calo import CaloGeometry, CaloShowers, get_geometry, particle_id, simulate

__all__ = ["simulate_to_file"]


@dataclass(frozen=True)
class _ShowerPlan:
    """What chunk ``k`` of particle ``j`` simulates: ``min(chunk, n_per_particle - k * chunk)``
    showers of ``pids[j]`` with the generator of chunk ``i = j * chunks_per_particle + k`` of the
    whole run (rows are particle-major, so ``i`` numbers the chunks in file order)."""

    geometry: CaloGeometry
    pids: tuple[int, ...]
    n_per_particle: int
    chunk: int
    seed: int
    energy: Any
    angle: Any
    impact: tuple[float, ...]

    @property
    def streams(self) -> tuple[str, ...]:
        return tuple(f"particle{j}" for j in range(len(self.pids)))

    @property
    def chunks_per_particle(self) -> int:
        return -(-self.n_per_particle // self.chunk)


def _simulate_chunk(plan: _ShowerPlan, stream: str, k: int, part: str) -> dict[str, Any]:
    """Task: chunk ``k`` of ``stream`` (see :class:`_ShowerPlan`) saved as a part, in GeV."""
    from colliderlab.data.chunks import ChunkStats, save_part

    j = plan.streams.index(stream)
    n = min(plan.chunk, plan.n_per_particle - k * plan.chunk)
    if n < 1:
        raise ValueError(f"chunk {k} is past the {plan.n_per_particle} showers of {stream}")
    i = j * plan.chunks_per_particle + k
    rng = np.random.default_rng(np.random.SeedSequence(plan.seed, spawn_key=(i,)))
    s = simulate(plan.geometry, plan.pids[j], n, energy=plan.energy, angle=plan.angle, impact=plan.impact,
                 rng=rng)
    arrays = {"incident_energy": s.incident_energy, "showers": s.showers, "particle": s.particle,
              "angle": s.angle}
    if s.overflow is not None:
        arrays["overflow"] = s.overflow
    return save_part(arrays, part, ChunkStats(rows=n, events=n))


def _write_showers_file(path: Path, run: Any, plan: _ShowerPlan, spec: dict[str, Any]) -> None:
    """The CaloChallenge file from the parts, in file order, one part in memory at a time;
    written to a temporary name and renamed (:func:`colliderlab.atomic.replacing`)."""
    import h5py

    from colliderlab.atomic import replacing
    from colliderlab.data.chunks import load_part

    geom = plan.geometry
    with replacing(path) as tmp, h5py.File(tmp, "w") as f:
        _create_datasets(f, plan.n_per_particle * len(plan.pids), geom.n_cells, geom.n_layers,
                         min(plan.chunk, 256))
        row = 0
        for stream in plan.streams:
            for k in range(len(run.used(stream, plan.n_per_particle))):
                a = load_part(run.path(stream, k))
                s = CaloShowers(a["incident_energy"], a["showers"], a["particle"], a["angle"], geom.name,
                                geom.layer_shapes, a.get("overflow"))
                _write_rows(f, row, s)
                row += len(s)
        f.attrs.update(_root_attrs(geom.name, geom.layer_shapes, spec))


def simulate_to_file(
    path: str | os.PathLike,
    geometry: str | CaloGeometry,
    particles: str | int | list[str | int] | tuple[str | int, ...],
    n_per_particle: int,
    *,
    energy: float | tuple[float, float] = (1.0, 100.0),
    angle: float | tuple[float, float] = 0.0,
    impact: tuple[float, float] = (0.0, 0.0),
    seed: int | np.random.Generator = 0,
    chunk: int = 1000,
    progress: bool = True,
    overwrite: bool = False,
    resume: bool = True,
    workers: int = 1,
    cluster: ClusterConfig | None = None,
) -> Path:
    """Simulate ``n_per_particle`` showers of each particle into a CaloChallenge-layout file.

    Rows are particle-major (all of ``particles[0]``, then ``particles[1]``, ...), cut into
    chunks of ``chunk`` showers; chunk ``i`` (in file order) uses the generator
    ``default_rng(SeedSequence(seed, spawn_key=(i,)))``, so the file depends only on the
    arguments, not on where the chunks ran. The chunks are tasks of
    :func:`colliderlab.data.chunks.run_chunks`: in this process (``workers=1``), on ``workers``
    local Dask worker processes, or on ``cluster`` (:class:`~colliderlab.cluster.ClusterConfig`,
    overrides ``workers``). Each finished chunk is saved atomically under ``OUT.parts/`` beside
    the run's settings; a killed run leaves no file at ``path``, and calling again with the same
    arguments (``resume=True``) reuses the finished chunks (parts of other settings, or
    unreadable ones, are redone). The file is assembled from the parts at the end, under a
    temporary name renamed onto ``path``. A ``Generator`` as ``seed`` is turned into an int seed
    first (then the run cannot be resumed exactly). A tqdm bar shows progress when ``progress``.
    Returns ``path``.
    """
    import shutil

    from colliderlab.data.chunks import chunk_runner, prepare_parts, run_chunks

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    geom = get_geometry(geometry)
    plist = [particles] if isinstance(particles, str | int) else list(particles)
    pids = [particle_id(p) for p in plist]
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**63))
    if n_per_particle < 1 or chunk < 1:
        raise ValueError("n_per_particle and chunk must be >= 1")
    energy_spec = list(energy) if isinstance(energy, tuple | list) else float(energy)
    angle_spec = list(angle) if isinstance(angle, tuple | list) else float(angle)
    spec = {
        "geometry": dataclasses.asdict(geom),
        "particles": pids,
        "n_per_particle": int(n_per_particle),
        "energy_GeV": energy_spec,
        "angle_rad": angle_spec,
        "impact_mm": [float(v) for v in impact],
        "seed": int(seed),
        "chunk": int(chunk),
    }
    plan = _ShowerPlan(geom, tuple(pids), int(n_per_particle), int(chunk), int(seed), energy, angle, tuple(impact))
    parts = path.with_name(path.name + ".parts")
    if not resume:
        shutil.rmtree(parts, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = prepare_parts(parts, spec)
    with chunk_runner(workers, cluster) as (runner, _, capacity):
        run = run_chunks(parts, partial(_simulate_chunk, plan), plan.streams, plan.n_per_particle,
                         runner=runner, chunk_events=plan.chunk, capacity=capacity, max_empty=None,
                         max_chunks=plan.chunks_per_particle,
                         desc=f"{geom.name} showers", unit="shower", progress=progress)
    _write_showers_file(path, run, plan, spec)
    shutil.rmtree(parts)
    return path
