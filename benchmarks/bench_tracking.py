"""Tracking benchmark (issue #21): GNN track finding and the classical baseline on ttbar events.

Every step is a ``colliderlab tracking`` command (printed before it runs), so each figure in
BENCHMARKS.md has the command that made it:

    python benchmarks/bench_tracking.py --train-events 300 --test-events 20 --pileup 0,50,200 \\
        --pileup-events 5,3 --epochs 12

1. simulate a training sample (ttbar at ``--train-mu``) and test samples at each pileup;
2. train the GNN pipeline (learned graph cuts, edge filter, interaction network);
3. evaluate the GNN and the baseline on every test sample: efficiency (double majority,
   pT > 1 GeV and all pT), fake and duplicate rates, TrackML score, seconds per event.

Samples and runs are kept under ``--workdir`` and reused when present (``--retrain`` to train
again). The summary is one JSON line per (method, pileup).
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path

from colliderlab.cli import main as cli


def _run(args: list[str]) -> None:
    print("$ colliderlab " + shlex.join(args), flush=True)
    t0 = time.perf_counter()
    code = cli(args)
    if code:
        raise SystemExit(f"colliderlab {' '.join(args[:2])} failed with exit code {code}")
    print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)


def _sample(work: Path, name: str, events: int, mu: float, seed: int, workers: int) -> Path:
    out = work / name
    _run(["tracking", "simulate", "--out", str(out), "--events", str(events), "--mu", str(mu), "--seed", str(seed),
          "--workers", str(workers)])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", default="runs/tracking")
    p.add_argument("--train-events", type=int, default=300)
    p.add_argument("--train-mu", type=float, default=0.0)
    p.add_argument("--test-events", type=int, default=20, help="test events without pileup")
    p.add_argument("--pileup", default="0,50,200", help="pileup values of the test samples")
    p.add_argument("--pileup-events", default="5,3", help="test events at each non-zero pileup, in order")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--filter-epochs", type=int, default=4)
    p.add_argument("--graph", default="cuts", choices=("cuts", "module_map", "metric"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=1, help="Dask workers for the simulation")
    p.add_argument("--methods", default="gnn,baseline")
    p.add_argument("--retrain", action="store_true")
    p.add_argument("--tag", default="", help="suffix of the run directory")
    a = p.parse_args()
    work = Path(a.workdir)
    train = _sample(work, f"train-mu{a.train_mu:g}", a.train_events, a.train_mu, 5, a.workers)
    run = work / f"gnn-mu{a.train_mu:g}-{a.graph}{a.tag}"
    if a.retrain or not (run / "run.json").is_file():
        _run(["tracking", "train", "--data", str(train), "--out", str(run), "--epochs", str(a.epochs),
              "--filter-epochs", str(a.filter_epochs), "--threads", str(a.threads), "--val-events",
              str(max(5, a.train_events // 10))] + (["--graph", a.graph] if a.graph != "cuts" else []))
    counts = iter([int(c) for c in a.pileup_events.split(",")])  # one per non-zero pileup, in order
    for mu in (float(m) for m in a.pileup.split(",")):
        n = a.test_events if mu == 0 else next(counts)
        test = _sample(work, f"test-mu{mu:g}", n, mu, 77, a.workers)
        for method in a.methods.split(","):
            out = work / f"eval-{method}{'-' + run.name if method == 'gnn' else ''}-mu{mu:g}.json"
            _run(["tracking", "evaluate", "--data", str(test), "--method", method, "--threads", str(a.threads),
                  "--out", str(out)] + (["--run", str(run)] if method == "gnn" else []))
            summary = json.loads(out.read_text())
            keep = ("method", "n_events", "efficiency", "efficiency_all_pt", "fake_rate", "duplicate_rate", "score",
                    "hits_per_event", "seconds_per_event")
            print(json.dumps({"pileup": mu, "run": run.name if method == "gnn" else None,
                              **{k: summary.get(k) for k in keep}}), flush=True)


if __name__ == "__main__":
    main()
