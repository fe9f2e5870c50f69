"""Generation benchmark: jets/s per core and milliseconds per event for each stage.

Stages: Pythia's own ``next()``, conversion of the event record to awkward arrays (the rest
of ``nextBatch``) plus final-state extraction, the detector, FastJet clustering, truth
matching + padding, and writing HDF5. Runs in one process (one core). Target: everything
after ``next()`` adds at most 50% to Pythia's own time.

    python benchmarks/bench_generation.py [--events 1000] [--detector atlas-like] [--mpi]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402


def bench(process: str, config, n_chunks: int) -> dict:
    from colliderlab.data.h5 import write_h5
    from colliderlab.jets import JetBatch
    from colliderlab.physics import generator as gen
    from colliderlab.physics.processes import get_process

    recipe = get_process(process)
    gen.generate_chunk(recipe, replace(config, chunk_events=20), 10_000)  # warm-up: init, imports
    py = gen._pythia(tuple(recipe.pythia_settings(config)))
    totals: dict[str, float] = {}
    batches, events = [], 0
    next_only = 0.0
    for k in range(n_chunks):
        # Pythia's own time: the same events generated with plain next() calls.
        py.rndm.init(gen.chunk_seed(config.seed, recipe.name, k))
        t0 = time.perf_counter()
        for _ in range(config.chunk_events):
            py.next()
        next_only += time.perf_counter() - t0
        r = gen.generate_chunk(recipe, config, k)
        for s, v in r.seconds.items():
            totals[s] = totals.get(s, 0.0) + v
        batches.append(r.batch)
        events += r.n_events
    batch = JetBatch.concatenate(batches)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        write_h5(Path(d) / "bench.h5", batch)
        totals["write"] = time.perf_counter() - t0
    conversion = max(totals["pythia"] - next_only, 0.0)
    ms = {
        "pythia next()": next_only,
        "record -> awkward + extract": conversion + totals["extract"],
        "pileup": totals["pileup"],
        "detector": totals["detector"],
        "cluster": totals["cluster"],
        "match + pad": totals["match"],
        "write": totals["write"],
    }
    ms = {k: 1e3 * v / events for k, v in ms.items()}
    wall = sum(totals.values())  # the nextBatch path, as `generate` runs it, plus writing
    after = sum(v for k, v in ms.items() if k != "pythia next()")
    return {
        "process": process,
        "events": events,
        "jets": len(batch),
        "jets_per_s": len(batch) / wall,
        "ms": ms,
        "overhead": after / ms["pythia next()"],
    }


def main() -> None:
    from colliderlab.physics.processes import GenConfig, get_preset

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1000, help="events per process")
    ap.add_argument("--detector", default="atlas-like")
    ap.add_argument("--mpi", action="store_true", help="MPI on (default: off, as the toptag preset)")
    ap.add_argument("--processes", default="top,qcd")
    args = ap.parse_args()
    base = GenConfig(**get_preset("toptag").overrides)
    config = replace(base, detector=args.detector, mpi=args.mpi, chunk_events=200, seed=777)
    n_chunks = max(1, args.events // config.chunk_events)
    rows = [bench(p, config, n_chunks) for p in args.processes.split(",")]
    stages = list(rows[0]["ms"])
    print(f"\nGeneration, 1 core, toptag kinematics, MPI {'on' if args.mpi else 'off'}, detector {args.detector}\n")
    print("| process | events | jets | jets/s/core | " + " | ".join(f"{s} [ms/ev]" for s in stages) + " | after next() / next() |")
    print("|---" * (len(stages) + 5) + "|")
    for r in rows:
        cells = " | ".join(f"{r['ms'][s]:.3f}" for s in stages)
        print(f"| {r['process']} | {r['events']} | {r['jets']} | {r['jets_per_s']:.0f} | {cells} | {100 * r['overhead']:.0f}% |")


if __name__ == "__main__":
    main()
