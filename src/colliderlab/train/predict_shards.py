"""Prediction over a sharded sample, one task per shard, on a Dask cluster or in this process.

:func:`predict_sharded` submits one task per input shard through
:func:`colliderlab.cluster.task_runner`. Each task (:func:`predict_shard`) loads the run itself
from its directory (safetensors + JSON: nothing is unpickled; cached per worker process), scores
its shard ``chunk_jets`` jets at a time (memory bounded by the chunk, not the shard or the
sample) and writes ``OUT.shards/scores-K.h5`` atomically. The client records each finished
shard in the score manifest and finally writes the master file ``OUT``, which reads like the
single score file of :func:`colliderlab.train.runs.predict_run` (layout:
:mod:`colliderlab.train.score_shards`).

A killed predict resumes: a finished score shard is kept when its sha256, its scores id and the
sha256 of the input shard it scored all match the manifest; the others are recomputed. A shards
folder holding the scores of another run or sample is refused unless ``overwrite``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.cluster import ClusterConfig, task_runner
from colliderlab.data.contract import parse_fields
from colliderlab.data.errors import DataFormatError
from colliderlab.data.shards import (
    Manifest,
    ShardInfo,
    file_sha256,
    open_sample,
    shard_problems,
    shards_dir,
)
from colliderlab.train.contract import check_run_inputs, with_allow_missing
from colliderlab.train.runs import LoadedRun, load_run, write_scores
from colliderlab.train.score_shards import SCORE_SHARDS, score_shard_name, write_score_master

__all__ = ["ShardJob", "predict_shard", "predict_sharded", "run_fingerprint"]

#: Jets scored at a time inside a shard (features of one chunk in memory).
CHUNK_JETS = 8192

_RUNS: dict[tuple[str, str], LoadedRun] = {}  # (run_dir, fingerprint) -> run, per process
_RUNS_LOCK = threading.Lock()


def run_fingerprint(run_dir: str | os.PathLike) -> str:
    """Digest of the files a run is scored from (the best checkpoint, or a baseline's files)."""
    run_dir = Path(run_dir)
    base = run_dir / "baseline"
    files = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else [
        run_dir / "checkpoint_best.safetensors", run_dir / "checkpoint_best.json"]
    if not base.is_dir():
        from colliderlab.train.checkpoint import checkpoint_exists

        checkpoint_exists(run_dir / "checkpoint_best")  # an old pickled run: the message says how to convert it
    h = hashlib.sha256()
    for p in files:
        if not p.is_file():
            raise FileNotFoundError(f"{run_dir} has no {p.name}: is it a finished colliderlab run directory?")
        h.update(f"{p.relative_to(run_dir)}:{file_sha256(p)}\n".encode())
    return h.hexdigest()[:24]


def _loaded_run(run_dir: str, run_id: str) -> LoadedRun:
    """The run, loaded once per process (the last one only: a worker keeps one model in memory)."""
    key = (str(Path(run_dir).resolve()), run_id)
    with _RUNS_LOCK:
        if key not in _RUNS:
            if run_fingerprint(run_dir) != run_id:
                raise RuntimeError(f"{run_dir} changed while predicting (its checkpoint is not the one the "
                                   "client started with)")
            _RUNS.clear()
            _RUNS[key] = load_run(run_dir)
        return _RUNS[key]


@dataclass(frozen=True)
class ShardJob:
    """One task: score input shard ``index`` (file ``source``) into ``out``.

    Attributes:
        run_dir, run_id: the run directory and its :func:`run_fingerprint`.
        allow_missing: input fields filled with zeros on purpose.
        source, source_sha256: the input shard and its sha256 in the sample's manifest.
        index: the input shard's index (the score shard's too).
        out: the score shard to write.
        scores_id: the scores id written into the shard.
        chunk_jets: jets scored at a time.
    """

    run_dir: str
    run_id: str
    allow_missing: tuple[str, ...]
    source: str
    source_sha256: str
    index: int
    out: str
    scores_id: str
    chunk_jets: int = CHUNK_JETS


def predict_shard(job: ShardJob) -> dict[str, Any]:
    """Score one input shard, ``job.chunk_jets`` jets at a time, and write its score shard
    atomically (the datasets and attributes of :func:`~colliderlab.train.runs.write_scores`, plus
    ``score_shard``). Runs on a worker; returns the shard's :class:`ShardInfo` as a dict."""
    import h5py

    run = with_allow_missing(_loaded_run(job.run_dir, job.run_id), job.allow_missing)
    inputs = check_run_inputs(run, job.source)
    with h5py.File(job.source, "r") as f:
        n = len(f["label"])
    if n == 0:
        scores, sigma, labels = None, None, None
    elif run.target:
        scores, sigma, labels = run.predict_regression(job.source, chunk_size=job.chunk_jets)
    else:
        (scores, labels), sigma = run.predict_proba(job.source, chunk_size=job.chunk_jets), None
    if scores is None:  # an empty shard
        scores = np.zeros((0, 1 if run.target else len(run.class_names)), np.float32)
    attrs = {**(inputs.to_dict() if inputs else {}),
             SCORE_SHARDS.attr: json.dumps({"sample_id": job.scores_id, "index": job.index})}
    out = Path(job.out)
    write_scores(out, scores, labels, run.class_names, run.target["name"] if run.target else None, sigma,
                 attrs=attrs)
    return asdict(ShardInfo(index=job.index, file=out.name, n=n, n_per_class=[],  # the client fills them in
                            bytes=out.stat().st_size, sha256=file_sha256(out),
                            extra={"source_sha256": job.source_sha256}))


def _old_manifest(folder: Path) -> Manifest | None:
    """The score manifest already in ``folder`` (None when there is no folder or it is empty).

    Raises:
        FileExistsError: the folder holds something else (a jet sample's shards, other files):
            it is never replaced, not even with ``overwrite``.
    """
    if not folder.is_dir() or not any(folder.iterdir()):
        return None
    try:
        return Manifest.load(folder, fmt=SCORE_SHARDS.format)
    except (FileNotFoundError, DataFormatError):
        raise FileExistsError(f"{folder} exists and is not a folder of score shards (no score manifest); it is "
                              "not replaced: choose another --out or remove it") from None


def _score_manifest(out: Path, settings: dict[str, Any], label_names: Sequence[str],
                    sources: dict[int, ShardInfo], overwrite: bool) -> Manifest:
    """The score manifest of ``out``: resumed (finished shards that still match kept) when the
    shards folder holds the same settings; the scores of another run or sample are refused
    unless ``overwrite``."""
    folder = shards_dir(out)
    identity = {k: settings[k] for k in ("sample_id", "run_id", "allow_missing")}
    manifest = Manifest.new(settings, label_names, 0)  # scores carry no particles
    manifest = dataclasses.replace(manifest, sample_id=Manifest.digest(identity), format=SCORE_SHARDS.format)
    old = _old_manifest(folder)
    if old is not None and old.sample_id != manifest.sample_id and not overwrite:
        raise FileExistsError(f"{folder} holds the scores of run {old.settings.get('run')} on sample "
                              f"{old.settings.get('sample_id')}, not of this run on this sample: shards of another "
                              "run or sample are refused. Choose another --out or pass --overwrite")
    if old is not None and (overwrite or old.sample_id != manifest.sample_id):
        shutil.rmtree(folder)
    elif old is not None:
        bad = shard_problems(folder, old, full=True, kind=SCORE_SHARDS)
        for s in old.shards:
            src = sources.get(s.index)
            if s.index not in bad and src is not None and s.extra.get("source_sha256") == src.sha256 \
                    and s.n == src.n:
                manifest.shards.append(s)
            else:
                (folder / s.file).unlink(missing_ok=True)
        for tmp in folder.glob(".*.tmp-*"):  # left by a killed worker
            tmp.unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    manifest.save(folder)
    return manifest


def predict_sharded(run_dir: str | os.PathLike, sample_master: str | os.PathLike, out: str | os.PathLike, *,
                    cluster: ClusterConfig | None = None, allow_missing: str | Sequence[str] = (),
                    chunk_jets: int = CHUNK_JETS, overwrite: bool = False, progress: bool = True) -> Path:
    """Score every jet of a sharded sample with a run, one task per shard, into sharded scores.

    Args:
        run_dir: the run directory.
        sample_master: the sample's master file (its shards are checked first).
        out: the master score file; score shards and manifest go to ``OUT.shards``.
        cluster: where the tasks run (None: in this process, shard after shard).
        allow_missing: input fields the sample may lack (filled with zeros, recorded).
        chunk_jets: jets scored at a time inside a task (bounds each process's memory).
        overwrite: replace an ``OUT.shards`` of another run or sample instead of refusing it.
        progress: report progress.
    Returns:
        ``out``, reading like the single file of :func:`~colliderlab.train.runs.predict_run`:
        ``scores`` (N, C) and ``labels`` (N,), or ``predictions``/``targets``/``sigma`` (N, 1),
        in the sample's jet order.
    """
    from colliderlab.progress import progress as bar

    sample = open_sample(sample_master)
    out = Path(out)
    if out.resolve() == sample.master.resolve():
        raise ValueError(f"--out {out} is the sample's own master file")
    run_id = run_fingerprint(run_dir)
    run = with_allow_missing(_loaded_run(str(run_dir), run_id), allow_missing)
    inputs = check_run_inputs(run, sample.master)  # a sample lacking a field the run reads: refused here
    settings = {"sample_id": sample.manifest.sample_id, "sample": str(sample.master.resolve()),
                "run": str(Path(run_dir).resolve()), "run_id": run_id,
                "allow_missing": sorted(parse_fields(allow_missing))}
    sources = {s.index: s for s in sample.manifest.shards}
    out.parent.mkdir(parents=True, exist_ok=True)
    manifest = _score_manifest(out, settings, sample.label_names, sources, overwrite)
    folder, kept = shards_dir(out), {s.index for s in manifest.shards}
    todo = [s for s in sorted(sources.values(), key=lambda s: s.index) if s.index not in kept]
    capacity = 1 if cluster is None or cluster.inline() else 2 * cluster.n_workers()
    with bar(total=len(sample), desc="predict", unit="jet", enabled=progress,
             initial=sum(s.n for s in manifest.shards)) as pbar, task_runner(cluster) as runner:
        for k, s in enumerate(todo):
            job = ShardJob(str(run_dir), run_id, tuple(run.allow_missing), str(sample.folder / s.file), s.sha256,
                           s.index, str(folder / score_shard_name(s.index)), manifest.sample_id, chunk_jets)
            runner.submit(f"predict-{s.index}", predict_shard, job)
            while runner.pending >= capacity or (k == len(todo) - 1 and runner.pending):
                info = ShardInfo.from_dict(runner.next_done()[1])
                info.n_per_class = list(sources[info.index].n_per_class)
                manifest.shards.append(info)
                manifest.save(folder)  # a kill from here on keeps this shard
                pbar.update(info.n)
    return write_score_master(out, manifest, attrs=inputs.to_dict() if inputs else None)
