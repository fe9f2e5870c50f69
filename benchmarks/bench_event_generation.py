"""Generate the event-level samples of issue #6: the SM cocktail behind the single-lepton trigger and the four signals.

For each process writes ``data/events_<process>_n<N>_seed<S>.h5`` (an existing file is read, not
regenerated; a killed run resumes from its ``.parts`` folder), then prints per process the
worker ms per generated event, Pythia's sigmaGen, the filter and trigger efficiencies, and the
cocktail fractions sigma x filter x trigger efficiency of the SM processes, as JSON.

    python benchmarks/bench_event_generation.py [--n w_lnu=20000 --n qcd=500 ...] [--seed 0]
        [--workers 1] [--scheduler ADDRESS] [--qcd-max-generated 300000] [--qcd-deadline 14:12]
        [--json-out runs/bench_event_generation.json]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

# Triggered events wanted per process, in generation order (QCD, last, is in practice limited by
# --qcd-max-generated or --qcd-deadline: its generator-level filter passes ~1e-3 of the events).
DEFAULT_N = {
    "z_ll": 4000,
    "ttbar": 1500,
    "w_lnu": 16000,
    "a_4l": 2000,
    "lq_btau": 2000,
    "hpm_taunu": 2000,
    "h0_tautau": 1500,
    "qcd": 5000,
}


def main() -> None:
    from colliderlab.cli.cluster_args import add_cluster_args, cluster_config

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--n",
        action="append",
        default=[],
        metavar="PROCESS=N",
        help="triggered events of a process",
    )
    ap.add_argument(
        "--processes", default=",".join(DEFAULT_N), help="comma-separated processes, in order"
    )
    ap.add_argument("--seed", type=int, default=0)
    add_cluster_args(ap)
    ap.add_argument("--detector", default="cms-like")
    ap.add_argument("--chunk-events", type=int, default=1000)
    ap.add_argument("--qcd-chunk-events", type=int, default=5000)
    ap.add_argument("--qcd-max-generated", type=int, default=300_000)
    ap.add_argument(
        "--qcd-deadline", help="UTC time HH:MM after which QCD starts no new chunk (time-boxed)"
    )
    ap.add_argument("--out-dir", default="data")
    ap.add_argument("--json-out")
    a = ap.parse_args()

    from colliderlab.data.event_io import cocktail, generate_events, read_events
    from colliderlab.physics.sm_events import SM_PROCESSES, EventConfig, check_process

    n_wanted = dict(DEFAULT_N)
    for item in a.n:
        name, _, value = item.partition("=")
        n_wanted[check_process(name)] = int(value)
    processes = [check_process(p) for p in a.processes.split(",") if p]
    base = EventConfig(seed=a.seed, detector=a.detector, chunk_events=a.chunk_events)
    out_dir = Path(a.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    rows, paths = {}, {}
    t_all = time.perf_counter()
    for proc in processes:
        n = n_wanted[proc]
        path = out_dir / f"events_{proc}_n{n}_seed{a.seed}.h5"
        paths[proc] = path
        if path.exists():
            s = read_events(path)
            row = {
                k: s[k]
                for k in (
                    "n_generated",
                    "n_filtered",
                    "sigma_gen_pb",
                    "filter_efficiency",
                    "trigger_efficiency",
                    "sigma_pb",
                )
            }
            row.update(path=str(path), n_events=len(s["features"]), reused=True)
            row["ms_per_event"] = 1e3 * sum(s["seconds"]) / max(s["n_generated"], 1)
            row["seconds"] = dict(
                zip(("pythia", "detector", "reconstruction"), s["seconds"], strict=True)
            )
        else:
            cfg = replace(base, chunk_events=a.qcd_chunk_events) if proc == "qcd" else base
            max_seconds = None
            if proc == "qcd" and a.qcd_deadline:
                now = datetime.now(UTC)
                hh, mm = (int(x) for x in a.qcd_deadline.split(":"))
                max_seconds = (now.replace(hour=hh, minute=mm, second=0) - now).total_seconds()
            row = generate_events(
                path,
                proc,
                n,
                cfg,
                cluster=cluster_config(a),
                progress=True,
                max_generated=a.qcd_max_generated if proc == "qcd" else None,
                max_seconds=max_seconds,
            )
        rows[proc] = row
        print(json.dumps({proc: row}, default=float), flush=True)

    sm = {p: paths[p] for p in SM_PROCESSES if p in paths}
    mix = cocktail(sm) if sm else None
    result = {
        "processes": rows,
        "cocktail": None
        if mix is None
        else {
            "fractions": mix["fractions"],
            "weights_pb": mix["weights_pb"],
            "counts": mix["counts"],
            "n_events": int(len(mix["process"])),
        },
        "paper_fractions_1811.10276": {"w_lnu": 0.59, "qcd": 0.34, "z_ll": 0.07, "ttbar": 0.003},
        "wall_seconds": time.perf_counter() - t_all,
        "seed": a.seed,
        "workers": a.workers,
        "detector": a.detector,
    }
    text = json.dumps(result, indent=2, default=float)
    print(text)
    if a.json_out:
        Path(a.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json_out).write_text(text + "\n")


if __name__ == "__main__":
    main()
