"""Generate the LHC Olympics R&D-style dijet samples (issue #6) and record how long they took.

    python benchmarks/bench_dijet_generation.py --kind qcd --n 300000 [--workers 2] [--scheduler ADDRESS] [--seed 2020]
        [--out data/lhco_qcd_n300000_seed2020.h5]

Resumable: a killed run continues from its finished chunks (``OUT.parts/``) when called again
with the same arguments. Prints the summary (events, generated events, stage seconds, wall time)
as JSON and writes it beside the file (``OUT.json``).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main() -> None:
    from colliderlab.cli.cluster_args import add_cluster_args, cluster_config

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", default="qcd", help="qcd or wprime")
    ap.add_argument("--n", type=int, default=300_000, help="selected events (leading jet above 1.2 TeV)")
    add_cluster_args(ap, workers_default=max(1, min(2, os.cpu_count() or 1)))
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--out")
    a = ap.parse_args()

    from colliderlab.atomic import write_text
    from colliderlab.data.dijet_io import generate_dijets
    from colliderlab.physics.dijet import DijetConfig

    out = Path(a.out or f"data/lhco_{a.kind}_n{a.n}_seed{a.seed}.h5")
    summary = generate_dijets(out, a.kind, a.n, DijetConfig(seed=a.seed), cluster=cluster_config(a))
    summary["workers"] = a.workers
    summary["scheduler"] = a.scheduler
    text = json.dumps(summary, indent=2)
    write_text(out.with_name(out.name + ".json"), text)
    print(text)


if __name__ == "__main__":
    main()
