"""Resumable generation in numbered chunks, on any :class:`~colliderlab.cluster.TaskRunner`.

The one chunk runner of colliderlab (jets, dijets, SM events, calorimeter showers). A sample is
made of *streams* (the processes or particle types of the sample), each of chunks 0, 1, 2, ...;
chunk ``k`` of stream ``s`` is computed by a picklable ``work(s, k, path)`` that saves one
``.npz`` atomically with :func:`save_part` and returns its :class:`ChunkStats` as a dict. The
seeds of a chunk derive from (sample seed, stream, chunk index) only, so a chunk re-run after a
lost worker or a killed client gives the same arrays.

Finished chunks live in a ``parts`` folder beside a manifest of the settings: a run started again
with the same settings reuses them (and stats passed in ``known``), other settings start over.
Each stream takes its chunks in order until it has ``n_wanted`` rows, so the rows of every stream
are the same whatever the number of workers or the scheduler. At most ``capacity`` chunks are in
flight, and no more than the yield so far says are needed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import replacing, write_json
from colliderlab.cluster import ClusterConfig, TaskRunner, task_runner

__all__ = [
    "ChunkRun", "ChunkStats", "chunk_runner", "load_part", "plan_cluster", "prepare_parts", "returned", "run_chunks",
    "save_chunk", "save_part", "write_parts_h5",
]

_STATS_KEY = "_chunk_stats"


@dataclass
class ChunkStats:
    """What one finished chunk holds: rows kept, events generated, seconds per stage and Pythia's
    cross-section sums of its events (:func:`colliderlab.physics.xsec.chunk_counts`)."""

    rows: int
    events: int
    seconds: dict[str, float] = field(default_factory=dict)
    xsec: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ChunkStats:
        return cls(rows=int(d["rows"]), events=int(d["events"]),
                   seconds={str(k): float(v) for k, v in dict(d.get("seconds", {})).items()},
                   xsec={str(k): dict(v) for k, v in dict(d.get("xsec", {})).items()})


def save_part(arrays: Mapping[str, Any], path: str | os.PathLike, stats: ChunkStats) -> dict[str, Any]:
    """Write ``arrays`` and ``stats`` to ``path`` (.npz) atomically; returns ``stats`` as a dict."""
    with replacing(path, keep_suffix=True) as tmp:  # np.savez appends .npz to any other name
        np.savez(tmp, **arrays, **{_STATS_KEY: np.bytes_(json.dumps(asdict(stats)).encode())})
    return asdict(stats)


def save_chunk(arrays: Mapping[str, Any], path: str | os.PathLike, rows_key: str,
               stages: Sequence[str]) -> dict[str, Any]:
    """:func:`save_part` of a chunk dict that carries ``n_generated`` and per-stage ``seconds``
    (in ``stages`` order), and optionally Pythia's cross-section sums ``xsec`` (a dict, kept in the
    stats), beside its arrays; rows are counted on ``arrays[rows_key]``."""
    arrays = dict(arrays)
    xsec = arrays.pop("xsec", {})
    stats = ChunkStats(rows=len(arrays[rows_key]), events=int(arrays["n_generated"]),
                       seconds=dict(zip(stages, np.asarray(arrays["seconds"]).tolist(), strict=True)), xsec=xsec)
    return save_part(arrays, path, stats)


def load_part(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a part file (without its stats)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files if k != _STATS_KEY}


def returned(work: Callable[[str, int, str], Mapping[str, Any]], stream: str, chunk: int,
             path: str) -> dict[str, Any]:
    """Task for clusters without a shared filesystem: run ``work`` into a worker-local temporary
    file and return the part's bytes with its stats (the client writes them to ``path``)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="colliderlab-part-") as d:
        local = str(Path(d) / Path(path).name)
        stats = dict(work(stream, chunk, local))
        stats["payload"] = Path(local).read_bytes()
    return stats


def _keep(stats: Mapping[str, Any], path: Path) -> ChunkStats:
    """The stats of a finished task, writing the part it returned when it returned one."""
    payload = stats.get("payload")
    if payload is not None:
        with replacing(path, keep_suffix=True) as tmp:
            tmp.write_bytes(payload)
    return ChunkStats.from_dict(stats)


def _part_stats(path: Path) -> ChunkStats:
    with np.load(path, allow_pickle=False) as z:
        return ChunkStats.from_dict(json.loads(bytes(z[_STATS_KEY]).decode()))


def plan_cluster(workers: int, cluster: ClusterConfig | None) -> tuple[ClusterConfig, int]:
    """The cluster of a chunked job (``cluster``, else ``workers`` local processes; 1: in this
    process) and its capacity: chunks in flight, twice the workers so that none waits."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    config = cluster if cluster is not None else ClusterConfig(workers=workers)
    return config, 1 if config.inline() else 2 * max(config.n_workers(), 1)


@contextmanager
def chunk_runner(workers: int, cluster: ClusterConfig | None, *, fastjet: bool = False
                 ) -> Iterator[tuple[TaskRunner, ClusterConfig, int]]:
    """``(runner, cluster, capacity)`` of a chunked job (:func:`plan_cluster`), its client open for
    the block. With ``fastjet``, FastJet's citation banner is printed here once when the chunks run
    elsewhere (the workers' copies are silenced)."""
    config, capacity = plan_cluster(workers, cluster)
    with task_runner(config) as runner:
        if fastjet and not config.inline():
            from colliderlab.physics.clustering import fastjet_banner_once

            fastjet_banner_once()
        yield runner, config, capacity


def prepare_parts(parts: Path, manifest: Mapping[str, Any]) -> Path:
    """The folder ``parts``, emptied when it holds another manifest's chunks."""
    manifest = json.loads(json.dumps(manifest, default=str))  # tuples -> lists, as read back
    mfile = parts / "manifest.json"
    if parts.exists():
        try:
            same = json.loads(mfile.read_text()) == manifest
        except (OSError, ValueError):
            same = False
        if not same:
            shutil.rmtree(parts)  # another run's parts: start over
    parts.mkdir(parents=True, exist_ok=True)
    write_json(mfile, manifest)
    return parts


class ChunkRun:
    """The finished chunks of every stream: ``stats[s][k]`` and where their parts are."""

    def __init__(self, parts: Path, streams: Sequence[str],
                 known: Mapping[str, Mapping[int, ChunkStats]] | None = None) -> None:
        self.parts = Path(parts)
        self.streams = tuple(streams)
        self.stats: dict[str, dict[int, ChunkStats]] = {s: dict((known or {}).get(s, {})) for s in self.streams}
        self.resumed = sum(len(v) for v in self.stats.values())
        self.t0 = time.perf_counter()
        for s in self.streams:  # parts of a killed run, in order
            k = 0
            while True:
                if k not in self.stats[s]:
                    p = self.path(s, k)
                    if not p.exists():
                        break
                    try:
                        self.stats[s][k] = _part_stats(p)
                        self.resumed += 1
                    except Exception:  # an unreadable part: redo it (and only it)
                        p.unlink(missing_ok=True)
                k += 1

    def path(self, stream: str, chunk: int) -> Path:
        return self.parts / f"{stream}-{chunk:06d}.npz"

    def prefix(self, stream: str) -> list[ChunkStats]:
        """Stats of the stream's finished chunks 0, 1, ... up to its first gap."""
        out, k = [], 0
        while k in self.stats[stream]:
            out.append(self.stats[stream][k])
            k += 1
        return out

    def rows(self, stream: str) -> int:
        return sum(c.rows for c in self.prefix(stream))

    def events(self, stream: str) -> int:
        return sum(c.events for c in self.stats[stream].values())

    def used(self, stream: str, n_wanted: int) -> list[int]:
        """Rows taken from each of the stream's chunks 0, 1, ... to make ``n_wanted`` rows."""
        take, total = [], 0
        for c in self.prefix(stream):
            if total >= n_wanted:
                break
            take.append(min(c.rows, n_wanted - total))
            total += take[-1]
        return take

    @property
    def wall_seconds(self) -> float:
        return time.perf_counter() - self.t0


class _Schedule:
    """Which chunk to start next: of the stream furthest from ``n_wanted`` rows, counting the
    chunks in flight at the mean yield so far, as long as what is in flight may not be enough."""

    def __init__(self, run: ChunkRun, n_wanted: int, chunk_events: int, expected_fraction: float,
                 max_generated: int | None, max_chunks: int | None) -> None:
        self.run, self.n_wanted, self.max_generated, self.max_chunks = run, n_wanted, max_generated, max_chunks
        self.first_guess = max(expected_fraction * chunk_events, 0.5)
        self.next_chunk = {s: len(run.prefix(s)) for s in run.streams}
        self.inflight: dict[str, tuple[str, int]] = {}

    def complete(self, s: str) -> bool:
        run = self.run
        return run.rows(s) >= self.n_wanted or (self.max_generated is not None
                                                and run.events(s) >= self.max_generated)

    def finished(self) -> bool:
        return all(self.complete(s) for s in self.run.streams)

    def expected(self, s: str) -> float:
        """Rows of the finished chunks (after a gap too) and those in flight, over ``n_wanted``."""
        got = [c.rows for c in self.run.stats[s].values()]
        per = max(np.mean(got), 0.5) if got else self.first_guess
        pending = sum(1 for ss, _ in self.inflight.values() if ss == s)
        return (sum(got) + pending * per) / self.n_wanted

    def startable(self, s: str) -> bool:
        while self.next_chunk[s] in self.run.stats[s]:  # known from an earlier run
            self.next_chunk[s] += 1
        return not self.complete(s) and (self.max_chunks is None or self.next_chunk[s] < self.max_chunks)

    def start(self) -> tuple[str, int] | None:
        """The next ``(stream, chunk)`` to start, or None to wait for the chunks in flight."""
        todo = [s for s in self.run.streams if self.startable(s)]
        s = min(todo, key=self.expected) if todo else None
        if s is None or (self.inflight and self.expected(s) >= 1.0):
            return None
        self.next_chunk[s] += 1
        return s, self.next_chunk[s] - 1


def run_chunks(
    parts: Path,
    work: Callable[[str, int, str], Mapping[str, Any]],
    streams: Sequence[str],
    n_wanted: int,
    *,
    runner: TaskRunner,
    chunk_events: int,
    expected_fraction: float = 1.0,
    capacity: int = 1,
    known: Mapping[str, Mapping[int, ChunkStats]] | None = None,
    max_generated: int | None = None,
    max_seconds: float | None = None,
    max_empty: int | None = 25,
    max_chunks: int | None = None,
    shared_fs: bool = True,
    desc: str = "chunks",
    unit: str = "row",
    progress: bool = True,
) -> ChunkRun:
    """Run ``work`` over the chunks of every stream until each has ``n_wanted`` rows.

    Args:
        parts: folder of :func:`prepare_parts`; finished parts there are reused.
        work: ``work(stream, chunk, path)`` computes a chunk, saves it with :func:`save_part` and
            returns its stats; a module-level function (or a ``functools.partial`` of one).
        streams: stream names (e.g. process names), in label order.
        runner: where the chunks run (:func:`colliderlab.cluster.task_runner`).
        chunk_events: events per chunk; ``expected_fraction`` of them are expected to be kept
            before a chunk of the stream has finished (plans how many chunks to start).
        capacity: chunks in flight (twice the workers keeps every worker busy).
        known: stats of chunks already used elsewhere (e.g. by written shards) whose parts are gone.
        max_generated: stop a stream once it generated this many events.
        max_seconds: stop starting chunks after this much wall time (at least one chunk is kept).
        max_empty: give up on a stream without any row after this many chunks (None: never).
        max_chunks: a stream has chunks 0 .. max_chunks - 1 only (a finite plan); None: no end.
        shared_fs: whether the workers write to a filesystem this process reads; without one, each
            task returns its part's bytes through Dask and this process writes them (:func:`returned`).
    """
    from colliderlab.progress import progress as progress_bar

    run = ChunkRun(parts, streams, known)
    plan = _Schedule(run, n_wanted, chunk_events, expected_fraction, max_generated, max_chunks)
    bar = progress_bar(total=n_wanted * len(run.streams), desc=desc, unit=unit, enabled=progress)
    shown = 0

    def show() -> None:
        nonlocal shown
        now = sum(min(run.rows(s), n_wanted) for s in run.streams)
        bar.update(now - shown)
        shown = now

    def out_of_time() -> bool:
        return max_seconds is not None and run.wall_seconds > max_seconds and all(run.prefix(s) for s in run.streams)

    show()
    try:
        while not plan.finished() and not (out_of_time() and not plan.inflight):
            while len(plan.inflight) < capacity and not out_of_time():
                chunk = plan.start()
                if chunk is None:
                    break  # what is in flight should finish every stream: wait for it
                name = f"{desc}-{chunk[0]}-{chunk[1]}"
                plan.inflight[name] = chunk
                if shared_fs:
                    runner.submit(name, work, *chunk, str(run.path(*chunk)))
                else:
                    runner.submit(name, returned, work, *chunk, str(run.path(*chunk)))
            if not plan.inflight:
                break  # the streams left have run all their max_chunks chunks
            name, stats = runner.next_done()
            s, k = plan.inflight.pop(name)
            run.stats[s][k] = _keep(stats, run.path(s, k))
            show()
            if max_empty is not None and k + 1 >= max_empty and run.rows(s) == 0:
                raise RuntimeError(f"{s!r} produced no row in {k + 1} chunks of {chunk_events} events: "
                                   "check its settings (window, cuts)")
    finally:
        runner.cancel()
        bar.close()
    return run


def write_parts_h5(path: str | os.PathLike, pieces: Sequence[tuple[str | os.PathLike, int]],
                   keys: Sequence[str], attrs: Mapping[str, Any]) -> int:
    """Assemble parts into one HDF5 file, atomically, with one part in memory at a time.

    Dataset ``k`` of ``path`` is the rows ``[:take]`` of array ``k`` of every part ``(file, take)``
    of ``pieces``, in order (gzip, fletcher32); the root attributes are ``attrs``, sealed
    (:func:`colliderlab.data.formats._common.seal_attrs`). Returns the number of rows.
    """
    import h5py

    from colliderlab.data.formats._common import seal_attrs

    n = sum(int(take) for _, take in pieces)
    with replacing(path) as tmp, h5py.File(tmp, "w", libver=("v110", "latest")) as f:  # checksummed metadata
        row = 0
        for i, (part, take) in enumerate(pieces):
            with np.load(part, allow_pickle=False) as z:
                for k in keys:
                    a = z[k][:take]
                    if i == 0:  # same shape and dtype as create_dataset(data=all rows) would give
                        f.create_dataset(k, shape=(n, *a.shape[1:]), dtype=a.dtype, compression="gzip",
                                         fletcher32=True)
                    if len(a):
                        f[k][row:row + len(a)] = a
            row += int(take)
        f.attrs.update(attrs)
        seal_attrs(f.attrs)  # the string attributes live outside HDF5's checksummed metadata
    return n
