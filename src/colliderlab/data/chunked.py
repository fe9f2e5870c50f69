"""Resumable, parallel generation in numbered chunks (shared by the dijet and event samples).

A sample is made of chunks 0, 1, 2, ... each computed by a picklable ``work(chunk, path)`` that
saves one ``.npz`` atomically (:func:`save_part`). Finished chunks live under ``OUT.parts/``
beside a manifest of the settings: a killed run resumes from the chunks it finished (same
manifest) or starts over (different manifest). Chunks are consumed in order, so the sample is the
same whatever the number of workers; at most ``workers`` chunks are in flight, and no more than
the yield so far says are needed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import replacing

__all__ = ["ChunkRun", "part_path", "prepare_parts", "run_chunks", "save_part"]


def part_path(parts: Path, chunk: int) -> Path:
    return parts / f"chunk{chunk:06d}.npz"


def save_part(arrays: Mapping[str, Any], path: str | os.PathLike) -> str:
    """Write ``arrays`` to ``path`` (.npz) through a temporary file, so a kill leaves no half chunk."""
    with replacing(path, keep_suffix=True) as tmp:  # np.savez appends .npz to any other name
        np.savez(tmp, **arrays)
    return str(path)


def prepare_parts(out: Path, manifest: Mapping[str, Any]) -> Path:
    """The ``OUT.parts`` folder of ``out``, emptied when it holds another manifest's chunks."""
    parts = out.with_name(out.name + ".parts")
    manifest = json.loads(json.dumps(manifest))  # tuples -> lists, as read back
    mfile = parts / "manifest.json"
    if parts.exists() and (not mfile.exists() or json.loads(mfile.read_text()) != manifest):
        shutil.rmtree(parts)  # another run's parts: start over
    parts.mkdir(parents=True, exist_ok=True)
    mfile.write_text(json.dumps(manifest, sort_keys=True))
    return parts


class ChunkRun:
    """The finished chunks (``done[c]``: the arrays of chunk ``c``) and how many were resumed."""

    def __init__(self, parts: Path) -> None:
        self.parts = parts
        self.done: dict[int, dict[str, np.ndarray]] = {}
        self.resumed = 0
        self.t0 = time.perf_counter()
        while part_path(parts, len(self.done)).exists():  # finished chunks of a killed run, in order
            try:
                self.load(len(self.done))
            except Exception:  # an unreadable part: regenerate it and what follows
                break
            self.resumed += 1

    def load(self, chunk: int) -> None:
        with np.load(part_path(self.parts, chunk)) as z:
            self.done[chunk] = {k: z[k] for k in z.files}

    def total(self, key: Callable[[dict[str, np.ndarray]], int]) -> int:
        return sum(key(d) for d in self.done.values())

    def ordered(self) -> list[dict[str, np.ndarray]]:
        return [self.done[c] for c in range(len(self.done))]

    @property
    def wall_seconds(self) -> float:
        return time.perf_counter() - self.t0


def run_chunks(
    parts: Path,
    work: Callable[[int, str], Any],
    *,
    n_wanted: int,
    kept: Callable[[dict[str, np.ndarray]], int],
    chunk_events: int,
    expected_fraction: float,
    workers: int = 1,
    generated: Callable[[dict[str, np.ndarray]], int] | None = None,
    max_generated: int | None = None,
    max_seconds: float | None = None,
    desc: str = "chunks",
    progress: bool = True,
) -> ChunkRun:
    """Run ``work`` over chunks until ``n_wanted`` rows are kept (or a limit is reached).

    Args:
        parts: folder of :func:`prepare_parts`; finished chunks there are reused.
        work: ``work(chunk, path)`` computes chunk ``chunk`` and saves it with :func:`save_part`;
            picklable (a module-level function or a ``functools.partial`` of one) when
            ``workers > 1``.
        kept: rows a finished chunk contributes (e.g. ``len(d["features"])``).
        chunk_events: events generated per chunk; ``expected_fraction`` of them are expected to be
            kept before any chunk has finished (plans how many chunks to start).
        generated: events generated in a finished chunk (needed with ``max_generated``).
        max_generated: stop once this many events were generated.
        max_seconds: stop starting chunks after this much wall time (at least one chunk is kept).
    """
    run = ChunkRun(parts)

    def n_kept() -> int:
        return run.total(kept)

    def n_gen() -> int:
        return run.total(generated) if generated is not None else 0

    def finished() -> bool:
        out_of_time = max_seconds is not None and run.done and run.wall_seconds > max_seconds
        return (n_kept() >= n_wanted or (max_generated is not None and n_gen() >= max_generated)
                or bool(out_of_time))

    bar = None
    if progress:
        from colliderlab.progress import progress as progress_bar

        bar = progress_bar(total=n_wanted, desc=desc, unit="ev", initial=min(n_kept(), n_wanted))
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn")) if workers > 1 else None
    try:
        pending: dict[int, Any] = {}
        next_chunk = len(run.done)
        while not finished():
            # keep up to `workers` chunks in flight, as many as the yield so far needs
            per_chunk = n_kept() / len(run.done) if run.done and n_kept() else expected_fraction * chunk_events
            gen_left = None if max_generated is None else max_generated - n_gen()
            while len(pending) < workers and (
                not pending
                or (n_kept() + len(pending) * per_chunk < n_wanted
                    and (gen_left is None or len(pending) * chunk_events < gen_left))
            ):
                p = str(part_path(parts, next_chunk))
                pending[next_chunk] = pool.submit(work, next_chunk, p) if pool else work(next_chunk, p)
                next_chunk += 1
            chunk = min(pending)
            fut = pending.pop(chunk)
            if pool:
                fut.result()
            run.load(chunk)
            if bar is not None:
                bar.n = min(n_kept(), n_wanted)
                if generated is not None:
                    bar.set_postfix(generated=n_gen(), refresh=False)
                bar.refresh()
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
        if bar is not None:
            bar.close()
    return run
