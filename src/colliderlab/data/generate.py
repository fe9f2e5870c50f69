"""Build a labelled, shuffled jet dataset from Pythia processes, in parallel and resumably.

Work is cut into chunks (``GenConfig.chunk_events`` events of one process). Each finished
chunk is saved atomically under ``OUT.parts/`` with a manifest of the settings, so a killed
run resumes where it stopped (same settings) or restarts cleanly (different settings). Class
``c`` takes its chunks 0, 1, 2, ... in order until it has ``n_jets`` jets, so the same seed
and settings give identical arrays whatever the number of workers. The final file is shuffled
with the master seed and written to a temporary name, then renamed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from colliderlab.atomic import replacing
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


def provenance(processes: Sequence[str], config: GenConfig, n_jets: int, preset: str | None = None) -> dict:
    """Everything needed to say how a file was made (stored as the file's ``provenance``).

    With ``preset``, ``provenance["preset"]`` holds its name, description and information content
    (:meth:`colliderlab.physics.processes.Preset.information`): the fields of the public dataset
    it mimics, against which ``features: auto`` resolves.
    """
    from colliderlab.physics.detector import card_to_dict, load_card

    extra = {"preset": get_preset(preset).information()} if preset else {}
    return {
        **extra,
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


def _manifest(processes: Sequence[str], config: GenConfig) -> dict:
    cfg = asdict(config)
    return {"processes": list(processes), "config": cfg, "colliderlab": _versions()["colliderlab"]}


def _digest(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _save_part(path: Path, result) -> None:
    """Save a chunk's jets atomically (temporary file + rename)."""
    with replacing(path) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            n_events=np.int64(result.n_events),
            seconds=json.dumps(result.seconds),
            **result.batch.arrays(),
        )


def _load_part(path: Path) -> tuple[JetBatch, int, dict[str, float]]:
    with np.load(path) as z:
        arrays = {k: z[k] for k in JetBatch.PARTICLE_FIELDS + JetBatch.JET_FIELDS}
        return JetBatch(**arrays), int(z["n_events"]), json.loads(str(z["seconds"]))


def _run_chunk(process: str, config: GenConfig, chunk: int, part: str) -> str:
    """Worker entry point: generate one chunk and save it; returns the part's path."""
    from colliderlab.physics.generator import generate_chunk

    _save_part(Path(part), generate_chunk(process, config, chunk))
    return part


def generate_dataset(
    processes: Sequence[str],
    config: GenConfig,
    n_jets: int,
    out: str | os.PathLike,
    *,
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
    preset: str | None = None,
) -> GenerationReport:
    """Generate ``n_jets`` accepted jets per process into one shuffled HDF5 file.

    Args:
        processes: process names in label order (label i = processes[i]).
        config: generation settings.
        n_jets: accepted jets per class.
        out: output path (``.h5``).
        workers: local worker processes (1 = run in this process).
        overwrite: replace an existing ``out``.
        progress: show a progress bar.
        preset: the preset these settings come from (recorded in the provenance with its
            information content; None for custom processes).

    Returns:
        A :class:`GenerationReport`.
    """
    from colliderlab.data.h5 import H5Writer
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
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")

    t_start = time.perf_counter()
    parts_dir = out.with_name(out.name + ".parts")
    manifest = _manifest(processes, config)
    man_path = parts_dir / "manifest.json"
    if parts_dir.exists():
        try:
            same = json.loads(man_path.read_text()).get("digest") == _digest(manifest)
        except (OSError, ValueError):
            same = False
        if not same:
            shutil.rmtree(parts_dir)  # different settings: restart cleanly
    parts_dir.mkdir(parents=True, exist_ok=True)
    man_path.write_text(json.dumps({"digest": _digest(manifest), **manifest}, indent=1, default=str))

    def part_path(cls: int, chunk: int) -> Path:
        return parts_dir / f"{processes[cls]}-{chunk:06d}.npz"

    # Per class: loaded chunks in order, jets so far, and the next chunk index to schedule.
    done: list[dict[int, tuple[JetBatch, int, dict]]] = [{} for _ in processes]
    next_chunk = [0] * len(processes)
    resumed = 0
    for c in range(len(processes)):
        while part_path(c, next_chunk[c]).exists():
            try:
                done[c][next_chunk[c]] = _load_part(part_path(c, next_chunk[c]))
            except (OSError, ValueError, KeyError):
                part_path(c, next_chunk[c]).unlink()  # unreadable leftover: redo it
                break
            next_chunk[c] += 1
            resumed += 1

    def prefix_jets(c: int) -> int:
        total, k = 0, 0
        while k in done[c]:
            total += len(done[c][k][0])
            k += 1
        return total

    def complete(c: int) -> bool:
        return prefix_jets(c) >= n_jets

    from colliderlab.progress import progress as progress_bar

    bar = progress_bar(total=n_jets * len(processes), desc="generate", unit="jet", enabled=progress)
    bar.update(sum(min(prefix_jets(c), n_jets) for c in range(len(processes))))
    # "spawn": workers start clean (no inherited Pythia state or threads) and init their own Pythia.
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) if workers > 1 else _InlineExecutor()
    capacity = 2 * workers if workers > 1 else 1  # chunks in flight
    inflight: dict[Future, tuple[int, int]] = {}

    def expected(c: int) -> float:
        """Fraction of class c's jets done or expected from the chunks in flight."""
        got = [len(b) for b, _, _ in done[c].values()]
        per_chunk = max(np.mean(got), 0.5) if got else 1.0
        pending = sum(1 for cc, _ in inflight.values() if cc == c)
        return (prefix_jets(c) + pending * per_chunk) / n_jets

    try:
        while not all(complete(c) for c in range(len(processes))):
            # Schedule, favouring the class furthest behind, until enough is in flight.
            while len(inflight) < capacity:
                todo = [c for c in range(len(processes)) if not complete(c)]
                c = min(todo, key=expected)
                if inflight and expected(c) >= 1.0:
                    break  # what is in flight should finish every class: wait for it
                k = next_chunk[c]
                next_chunk[c] += 1
                inflight[pool.submit(_run_chunk, processes[c], config, k, str(part_path(c, k)))] = (c, k)
            for fut in _wait_any(list(inflight)):
                c, k = inflight.pop(fut)
                fut.result()  # re-raise worker errors
                before = min(prefix_jets(c), n_jets)
                done[c][k] = _load_part(part_path(c, k))
                bar.update(min(prefix_jets(c), n_jets) - before)
                if k + 1 >= _MAX_EMPTY_CHUNKS and prefix_jets(c) == 0:
                    raise RuntimeError(
                        f"process {processes[c]!r} produced no accepted jet in {k + 1} chunks of "
                        f"{config.chunk_events} events: check the pT/eta window and the process settings"
                    )
    finally:
        bar.close()
        pool.shutdown(wait=True, cancel_futures=True)

    # Assemble: each class takes its chunks in order up to n_jets, then one seeded shuffle.
    batches, n_events, n_chunks = [], {}, {}
    seconds: dict[str, float] = {}
    for c, name in enumerate(processes):
        taken, total, k = [], 0, 0
        events = 0
        while total < n_jets:
            b, ev, sec = done[c][k]
            taken.append(b[: n_jets - total])
            total += len(taken[-1])
            events += ev
            for s, v in sec.items():
                seconds[s] = seconds.get(s, 0.0) + v
            k += 1
        n_events[name], n_chunks[name] = events, k
        merged = JetBatch.concatenate(taken)
        merged.label[:] = c
        batches.append(merged)
    full = JetBatch.concatenate([JetBatch(**b.arrays(), label_names=processes) for b in batches])
    perm = np.random.default_rng(config.seed).permutation(len(full))
    full = full[perm]
    with H5Writer(
        out,
        n_particles=config.n_particles,
        label_names=processes,
        attrs={"provenance": provenance(processes, config, n_jets, preset)},
        overwrite=overwrite,
    ) as w:
        w.append(full)
    shutil.rmtree(parts_dir, ignore_errors=True)
    return GenerationReport(
        path=out,
        label_names=processes,
        n_jets={p: n_jets for p in processes},
        n_events=n_events,
        n_chunks=n_chunks,
        seconds=seconds,
        wall_seconds=time.perf_counter() - t_start,
        resumed_chunks=resumed,
    )


class _InlineExecutor:
    """Runs each task at once in this process (workers=1); errors propagate immediately."""

    def submit(self, fn, *args) -> Future:
        fut: Future = Future()
        fut.set_result(fn(*args))
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def _wait_any(futures: list[Future]) -> list[Future]:
    from concurrent.futures import FIRST_COMPLETED, wait

    finished, _ = wait(futures, return_when=FIRST_COMPLETED)
    return list(finished)


def generate_preset(
    preset: str,
    n_jets: int,
    out: str | os.PathLike,
    *,
    overrides: dict | None = None,
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
) -> GenerationReport:
    """Generate a named preset (``toptag``, ``quark-gluon``, ``hls4ml``); ``overrides`` change its settings."""
    p = get_preset(preset)
    config = GenConfig(**{**p.overrides, **(overrides or {})})
    return generate_dataset(
        p.processes, config, n_jets, out, workers=workers, overwrite=overwrite, progress=progress, preset=preset
    )
