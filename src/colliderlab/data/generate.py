"""Generate a labelled jet sample from Pythia processes as a sharded sample, on any cluster.

Chunk ``k`` of process ``p`` is ``GenConfig.chunk_events`` events whose seeds derive from (sample
seed, process, k) (:func:`colliderlab.physics.generator.generate_chunk`). The chunks run as tasks
of :func:`colliderlab.data.chunks.run_chunks` on a :class:`~colliderlab.cluster.TaskRunner`: in
this process, on a local Dask cluster, or on an existing scheduler (:mod:`colliderlab.cluster`).
Class ``c`` takes its chunks 0, 1, 2, ... in order until it has ``n_jets`` jets, as before shards
existed, so the jets of every class are the same whatever the number of workers.

The output is a sharded sample (:mod:`colliderlab.data.shards`): shard ``k`` holds the jets of
chunk ``k`` of every process (the tail shards only the classes that still needed jets there),
shuffled with a seed from (sample seed, k) and written atomically by the worker that built it;
``OUT`` is the master file that reads the whole sample as one colliderlab file. A killed run
resumes: finished chunks (``OUT.shards/parts``) and shards whose sha256 matches the manifest are
kept, everything else is recomputed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.cluster import ClusterConfig, InlineRunner
from colliderlab.jets import JetBatch
from colliderlab.physics.processes import GenConfig, get_preset, get_process

__all__ = ["GenerationReport", "generate_dataset", "generate_preset", "provenance"]

# Give up on a process that has produced no jet in this many chunks (a window it cannot reach).
_MAX_EMPTY_CHUNKS = 25


@dataclass
class GenerationReport:
    """What a generation run did: jets and events per class, time per stage, wall time."""

    path: Path
    label_names: tuple[str, ...]
    n_jets: dict[str, int]
    n_events: dict[str, int]
    n_chunks: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0
    resumed_chunks: int = 0

    def summary(self) -> str:
        lines = [f"wrote {self.path} in {self.wall_seconds:.1f} s"]
        for name in self.label_names:
            eff = self.n_jets[name] / max(self.n_events[name], 1)
            lines.append(
                f"  {name:>8}: {self.n_jets[name]} jets from {self.n_events[name]} events "
                f"({eff:.2f} jets/event, {self.n_chunks[name]} chunks)"
            )
        if self.resumed_chunks:
            lines.append(f"  resumed {self.resumed_chunks} chunks from a previous run")
        return "\n".join(lines)


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("colliderlab", "pythia8mc", "fastjet", "numpy", "awkward", "h5py"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def provenance(processes: Sequence[str], config: GenConfig, n_jets: int, preset: str | None = None,
               cross_sections: Mapping[str, Any] | None = None) -> dict:
    """Everything needed to say how a file was made (stored as the file's ``provenance``).

    With ``preset``, ``provenance["preset"]`` holds its name, description and information content
    (:meth:`colliderlab.physics.processes.Preset.information`): the fields of the public dataset
    it mimics, against which ``features: auto`` resolves. ``provenance["generator_variation"]``
    names the parton shower and the systematic variation with the Pythia lines they set
    (:mod:`colliderlab.physics.variations`); ``provenance["cross_sections"]`` holds, per process,
    :class:`colliderlab.physics.xsec.CrossSection` as a dict (schema version 2 on).
    """
    from colliderlab.physics.detector import card_to_dict, load_card
    from colliderlab.physics.variations import get_variation, shower_settings

    extra = {"preset": get_preset(preset).information()} if preset else {}
    if cross_sections is not None:
        extra["cross_sections"] = {p: x.to_dict() for p, x in cross_sections.items()}
    return {
        **extra,
        "generator_variation": {"shower": config.shower, "variation": config.variation,
                                "description": get_variation(config.variation).description,
                                "pythia_settings": shower_settings(config.shower, config.variation)},
        "generator": "pythia8mc + fastjet (colliderlab.physics.generator)",
        "config": asdict(config),
        "processes": {
            p: {"description": get_process(p).description, "pythia_settings": get_process(p).pythia_settings(config)}
            for p in processes
        },
        "detector_card": card_to_dict(load_card(config.detector)),
        "n_jets_per_class": n_jets,
        "seed": config.seed,
        "versions": _versions(),
    }


def _settings(processes: Sequence[str], config: GenConfig, n_jets: int) -> dict:
    """What defines the sample (its manifest's ``settings``; the sample id is their digest)."""
    return {"kind": "jets", "processes": list(processes), "config": asdict(config), "n_jets": int(n_jets),
            "colliderlab": _versions()["colliderlab"]}


def _run_chunk(config: GenConfig, process: str, chunk: int, part: str) -> dict[str, Any]:
    """Task: generate chunk ``chunk`` of ``process`` and save it as a part; returns its stats."""
    from colliderlab.data.chunks import ChunkStats, save_part
    from colliderlab.physics.generator import generate_chunk

    result = generate_chunk(process, config, chunk)
    stats = ChunkStats(rows=len(result.batch), events=result.n_events, seconds=result.seconds, xsec=result.xsec)
    return save_part(result.batch.arrays(), part, stats)


def _shard_seed(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(index), 0x5A4D]))


def _write_jet_shard(index: int, pieces: Sequence[tuple[int, str, int]], seed: int, path: str,
                     sample_id: str, n_particles: int, label_names: Sequence[str],
                     extra: Mapping[str, Any]) -> dict[str, Any]:
    """Task: shard ``index`` from ``(class, part file, rows taken)`` pieces, shuffled with a seed
    from (sample seed, index), written atomically; returns its :class:`ShardInfo` as a dict."""
    from colliderlab.data.chunks import load_part
    from colliderlab.data.shards import write_shard

    batches = []
    for cls, part, take in pieces:
        b = JetBatch(**load_part(part), label_names=tuple(label_names))[:take]
        b.label[:] = cls
        batches.append(b.truncate(n_particles))
    merged = JetBatch.concatenate(batches)
    merged = merged[_shard_seed(seed, index).permutation(len(merged))]
    info = write_shard(path, merged, sample_id=sample_id, index=index, n_particles=n_particles,
                       label_names=label_names, extra=extra)
    return asdict(info)


def _reusable_shards(folder: Path, manifest: Any, progress: bool) -> Any:
    """The manifest's shards whose files match their sha256 (the others are deleted)."""
    from colliderlab.data.shards import Manifest, shard_problems

    old = Manifest.load(folder)
    bad = shard_problems(folder, old, full=True)
    for _k, why in sorted(bad.items()):
        if progress:
            from colliderlab.progress import write_line

            write_line(f"generate: recomputing {why}")
    manifest.shards = [s for s in old.shards if s.index not in bad]
    for s in old.shards:
        if s.index in bad:
            (folder / s.file).unlink(missing_ok=True)
    return manifest


def _prepare_folder(out: Path, settings: dict, processes: Sequence[str], config: GenConfig,
                    overwrite: bool, progress: bool) -> Any:
    """The sample's shards folder and manifest: resumed when it holds the same settings."""
    from colliderlab.data.shards import Manifest, shards_dir

    folder = shards_dir(out)
    manifest = Manifest.new(settings, processes, config.n_particles)
    try:
        same = Manifest.load(folder).sample_id == manifest.sample_id
    except (FileNotFoundError, ValueError):
        same = False
    if overwrite or not same:
        if out.exists() and not overwrite:
            raise FileExistsError(f"{out} exists and holds another sample; pass --overwrite to replace it")
        out.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)  # another sample's shards, or a replacement asked for
    else:  # the same sample, complete or killed part-way: keep what checks out
        manifest = _reusable_shards(folder, manifest, progress)
    folder.mkdir(parents=True, exist_ok=True)
    manifest.save(folder)
    return manifest


def _known_chunks(manifest: Any, processes: Sequence[str]) -> dict[str, dict[int, Any]]:
    """Stats of the chunks inside the manifest's written shards (their parts may be gone)."""
    from colliderlab.data.chunks import ChunkStats

    known: dict[str, dict[int, Any]] = {p: {} for p in processes}
    for s in manifest.shards:
        for p, st in s.extra.get("chunks", {}).items():
            known[p][s.index] = ChunkStats.from_dict(st)
    return known


def _shard_jobs(run: Any, processes: Sequence[str], n_jets: int) -> list[list[tuple[int, int]]]:
    """Per shard k: the ``(class, rows taken)`` of chunk k of every class that still needs jets."""
    used = [run.used(p, n_jets) for p in processes]
    n_shards = max(len(u) for u in used)
    return [[(c, used[c][k]) for c in range(len(processes)) if k < len(used[c])] for k in range(n_shards)]


def generate_dataset(
    processes: Sequence[str],
    config: GenConfig,
    n_jets: int,
    out: str | os.PathLike,
    *,
    workers: int = 1,
    cluster: ClusterConfig | None = None,
    overwrite: bool = False,
    progress: bool = True,
    preset: str | None = None,
) -> GenerationReport:
    """Generate ``n_jets`` accepted jets per process into a sharded sample with master file ``out``.

    Args:
        processes: process names in label order (label i = processes[i]).
        config: generation settings.
        n_jets: accepted jets per class.
        out: the master file (``.h5``); shards go to ``OUT.shards/``.
        workers: local worker processes when ``cluster`` is None (1: in this process, no cluster).
        cluster: where the chunks run (:class:`~colliderlab.cluster.ClusterConfig`: a local Dask
            cluster or a scheduler address); overrides ``workers``.
        overwrite: replace an existing sample.
        progress: show progress.
        preset: the preset these settings come from (recorded in the provenance with its
            information content; None for custom processes).
    """
    from colliderlab.data.chunks import chunk_runner, prepare_parts, run_chunks
    from colliderlab.data.shards import write_master
    from colliderlab.physics.detector import load_card

    processes = tuple(processes)
    for p in processes:
        get_process(p)
    if preset is not None:
        get_preset(preset)
    load_card(config.detector)  # fail early on an unknown card
    if n_jets <= 0:
        raise ValueError(f"n_jets must be positive, got {n_jets}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = Path(out)
    t_start = time.perf_counter()
    settings = _settings(processes, config, n_jets)
    manifest = _prepare_folder(out, settings, processes, config, overwrite, progress)
    folder = out.with_name(out.name + ".shards")
    parts = prepare_parts(folder / "parts", {"sample_id": manifest.sample_id})
    with chunk_runner(workers, cluster, fastjet=True) as (runner, cluster, capacity):
        run = run_chunks(parts, partial(_run_chunk, config), processes, n_jets, runner=runner,
                         chunk_events=config.chunk_events, capacity=capacity,
                         known=_known_chunks(manifest, processes), max_empty=_MAX_EMPTY_CHUNKS,
                         shared_fs=cluster.shared_fs, desc="generate", unit="jet", progress=progress)
        if not cluster.shared_fs:  # the parts are here only: this process writes the shards
            runner = InlineRunner()
        _write_shards(runner, run, _shard_jobs(run, processes, n_jets), manifest, folder, config)
    xsecs = _cross_sections(run, processes, n_jets)
    write_master(out, manifest, provenance=provenance(processes, config, n_jets, preset, xsecs),
                 attrs={"n_jets_per_class": {p: n_jets for p in processes}})
    shutil.rmtree(parts, ignore_errors=True)
    return _report(out, run, processes, n_jets, time.perf_counter() - t_start)


def _write_shards(runner: Any, run: Any, jobs: list[list[tuple[int, int]]], manifest: Any, folder: Path,
                  config: GenConfig) -> None:
    """Submit the shards the manifest lacks and record each as it is written (the manifest is
    saved every few seconds: a shard written but not yet recorded is rebuilt from its parts)."""
    from colliderlab.data.shards import ShardInfo, shard_name

    processes = run.streams
    done = {s.index for s in manifest.shards}
    todo = [k for k in range(len(jobs)) if k not in done]
    for k in todo:
        pieces = [(c, str(run.path(processes[c], k)), take) for c, take in jobs[k]]
        extra = {"chunks": {processes[c]: asdict(run.stats[processes[c]][k]) for c, _ in jobs[k]}}
        runner.submit(f"shard-{k}", _write_jet_shard, k, pieces, config.seed, str(folder / shard_name(k)),
                      manifest.sample_id, config.n_particles, processes, extra)
    saved = time.monotonic()
    for i in range(len(todo)):
        _, info = runner.next_done()
        manifest.shards.append(ShardInfo.from_dict(info))
        if time.monotonic() - saved > 2.0 or i == len(todo) - 1:
            manifest.save(folder)
            saved = time.monotonic()


def _cross_sections(run: Any, processes: Sequence[str], n_jets: int) -> dict[str, Any]:
    """Per process: Pythia's cross section over the chunks the sample used, and their jets per event."""
    from colliderlab.physics.xsec import combine

    out = {}
    for p in processes:
        stats = [run.stats[p][k] for k in range(len(run.used(p, n_jets)))]
        out[p] = combine((st.xsec for st in stats), sum(st.events for st in stats), sum(st.rows for st in stats))
    return out


def _report(out: Path, run: Any, processes: Sequence[str], n_jets: int, wall: float) -> GenerationReport:
    used = {p: range(len(run.used(p, n_jets))) for p in processes}
    seconds: dict[str, float] = {}
    for p in processes:
        for k in used[p]:
            for stage, v in run.stats[p][k].seconds.items():
                seconds[stage] = seconds.get(stage, 0.0) + v
    return GenerationReport(
        path=out,
        label_names=tuple(processes),
        n_jets={p: n_jets for p in processes},
        n_events={p: sum(run.stats[p][k].events for k in used[p]) for p in processes},
        n_chunks={p: len(used[p]) for p in processes},
        seconds=seconds,
        wall_seconds=wall,
        resumed_chunks=run.resumed,
    )


def generate_preset(
    preset: str,
    n_jets: int,
    out: str | os.PathLike,
    *,
    overrides: dict | None = None,
    workers: int = 1,
    cluster: ClusterConfig | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> GenerationReport:
    """Generate a named preset (``toptag``, ``quark-gluon``, ``hls4ml``); ``overrides`` change its settings."""
    p = get_preset(preset)
    config = GenConfig(**{**p.overrides, **(overrides or {})})
    return generate_dataset(
        p.processes, config, n_jets, out, workers=workers, cluster=cluster, overwrite=overwrite, progress=progress,
        preset=preset,
    )
