"""Streaming training memory: a PFN trained over a stream of 1M jets against one of 50k jets.

A base sample of Pythia jets (top and QCD, 14 TeV, pT 550-650 GeV, ideal detector, no MPI, 64
constituent slots) is generated once (``--base-jets``, cached in ``--work-dir``) and cut into
sharded samples with :func:`colliderlab.data.sharding.shard_file` ``repeat``: **the shards repeat the
same generated jets** (a 1M-jet sample is the base sample written over and over), which is
what a memory and throughput benchmark needs and says nothing about physics performance.

For each size a fresh process builds the training stream exactly as ``data.stream: true`` does
(:func:`colliderlab.train.stream.stream_splits`, standardiser fitted on the first 20k training
jets) and trains a PFN (``models/pfn.py``, lite) for ``--steps`` optimiser steps (or one pass
over the stream, whichever comes first) with ``--workers`` DataLoader processes. A background
thread samples the resident memory of the whole process tree (the training process and its
DataLoader workers, psutil) every 0.2 s; the peak is reported as the sum of RSS (pages shared by
forked workers are counted in each: an upper bound) and the sum of PSS (shared pages split among
the processes sharing them). For reference, ``--in-memory`` also trains the smallest size the
in-memory way (every jet's representation held, :func:`colliderlab.features.build.build_dataset`).

    python benchmarks/bench_stream_memory.py [--small] [--sizes 50000,1000000] [--steps 400]
        [--workers 1] [--base-jets 10000] [--work-dir /tmp/colliderlab-bench-stream] [--in-memory]
        [--json-out FILE]

``--small`` (a smoke check of about a minute): base 1000 jets, sizes 5000 and 50000, 60 steps.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

BATCH = 256


def _tree_memory() -> tuple[int, int]:
    """(RSS sum, PSS sum) in bytes of this process and all its descendants."""
    import psutil

    me = psutil.Process()
    rss = pss = 0
    for p in [me, *me.children(recursive=True)]:
        try:
            info = p.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return rss, pss


class _Sampler(threading.Thread):
    """Peak (RSS sum, PSS sum) of the process tree, sampled every ``interval`` seconds."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak_rss, self.peak_pss, self.samples = interval, 0, 0, 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            rss, pss = _tree_memory()
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.samples += 1
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def base_sample(work: Path, n_jets: int) -> Path:
    """The generated base sample (n_jets / 2 per class), reused when present."""
    from colliderlab.data.generate import generate_dataset
    from colliderlab.physics.processes import GenConfig

    path = work / f"base-{n_jets}.h5"
    if not path.exists():
        config = GenConfig(mpi=False, detector="ideal", seed=2024, chunk_events=200, n_particles=64)
        generate_dataset(("qcd", "top"), config, n_jets // 2, path, workers=1, progress=False)
    return path


def sharded_sample(work: Path, base: Path, n_jets: int, base_jets: int) -> Path:
    """A sharded sample of ``n_jets`` jets: the base sample repeated (reused when present)."""
    from colliderlab.data.sharding import shard_file

    repeat = max(n_jets // base_jets, 1)
    out = work / f"stream-{base_jets}x{repeat}.h5"
    if not out.exists():
        shard_file(base, out, shard_jets=min(50_000, base_jets * repeat), repeat=repeat, overwrite=True)
    return out


def _model(rep: Any, arrays: dict) -> Any:
    import torch

    from colliderlab.models.registry import build_config, resolve_model

    torch.manual_seed(0)
    spec = resolve_model("pfn")
    return spec.cls(build_config("pfn", "lite", **rep.dims(arrays), n_classes=2))


def run_one(path: str, steps: int, workers: int, in_memory: bool) -> dict[str, Any]:
    """Train on one sample in this process; returns jets, steps, jets/s and the memory peaks."""
    import torch

    from colliderlab.data.dataset import Standardizer
    from colliderlab.features.representations import representation_config
    from colliderlab.train.config import DataConfig
    from colliderlab.train.trainer import Trainer, TrainerConfig

    torch.set_num_threads(1)
    sampler = _Sampler()
    sampler.start()
    t0 = time.perf_counter()
    rep = representation_config("particles", n_particles=64, features="kinematic")
    data = DataConfig(path=path, stream=True, loader_workers=workers, cache_dir=None)
    if in_memory:
        from colliderlab.data.dataset import split_indices
        from colliderlab.features.build import build_dataset

        full, rep = build_dataset(path, rep)
        train = full.subset(split_indices(len(full), data.val_fraction, data.test_fraction, data.split_seed)[0])
        std = Standardizer.fit(train.arrays, rep.standardize)
        import dataclasses

        train = dataclasses.replace(train, arrays=std.apply(train.arrays))
        probe = train.arrays
    else:
        from colliderlab.train.stream import STANDARDIZER_JETS, stream_splits

        train, _, _, rep = stream_splits(data, rep)
        std = Standardizer.fit(train.subset(slice(0, STANDARDIZER_JETS)).arrays, rep.standardize)
        train = train.with_standardizer(std)
        probe = train.subset(slice(0, 64)).arrays
    setup = time.perf_counter() - t0
    trainer = Trainer(_model(rep, probe), TrainerConfig(epochs=1, max_steps=steps, batch_size=BATCH, lr=1e-3,
                                                        progress=False, device="cpu", amp=False))
    t1 = time.perf_counter()
    res = trainer.fit(train)
    seconds = time.perf_counter() - t1
    sampler.stop()
    return {"jets": len(train), "steps": res.steps, "train_seconds": seconds, "setup_seconds": setup,
            "jets_per_second": res.steps * BATCH / seconds, "peak_rss_mb": sampler.peak_rss / 2**20,
            "peak_pss_mb": sampler.peak_pss / 2**20, "memory_samples": sampler.samples,
            "train_loss": res.history[-1].get("train_loss") if res.history else None,
            "mode": "in-memory" if in_memory else f"stream, {workers} loader worker(s)"}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="smoke check: base 1000 jets, sizes 5k and 50k, 60 steps")
    ap.add_argument("--sizes", default="50000,1000000")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--base-jets", type=int, default=10_000)
    ap.add_argument("--work-dir", default="/tmp/colliderlab-bench-stream")
    ap.add_argument("--in-memory", action="store_true", help="also train the smallest size in memory")
    ap.add_argument("--json-out")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: train on this sample, print JSON
    ap.add_argument("--one-in-memory", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.steps, args.workers, args.one_in_memory)))
        return
    if args.small:
        args.sizes, args.steps, args.base_jets = "5000,50000", 60, 1000
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    base = base_sample(work, args.base_jets)
    print(f"base sample: {args.base_jets} generated Pythia jets ({time.perf_counter() - t0:.0f} s); the larger "
          "samples repeat these same jets over and over (shard_file repeat)", flush=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = [(n, sharded_sample(work, base, n, args.base_jets), False) for n in sizes]
    if args.in_memory:
        runs.insert(0, (sizes[0], runs[0][1], True))
    rows = []
    for n, path, in_memory in runs:
        cmd = [sys.executable, __file__, "--one", str(path), "--steps", str(args.steps), "--workers", str(args.workers)]
        out = subprocess.run(cmd + (["--one-in-memory"] if in_memory else []), capture_output=True, text=True)
        if out.returncode:
            sys.exit(f"training on {path} failed:\n{out.stderr[-3000:]}")
        row = {"sample_jets": n, **json.loads(out.stdout.strip().splitlines()[-1])}
        rows.append(row)
        print(f"{n:>9} jets ({row['mode']}): train split {row['jets']}, {row['steps']} steps of {BATCH}, "
              f"{row['jets_per_second']:.0f} jets/s, peak RSS sum {row['peak_rss_mb']:.0f} MB, "
              f"peak PSS sum {row['peak_pss_mb']:.0f} MB (setup {row['setup_seconds']:.1f} s)", flush=True)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"repeated_jets": True, "base_jets": args.base_jets,
                                                   "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
