"""Data-parallel training (DDP on CPU, gloo): parity with one process, and training speed.

Trains one experiment (a PFN without dropout on top-vs-QCD particle clouds, by default) three
ways, each as ``colliderlab train`` in a fresh process:

* 1 process x 2 torch threads (``--set trainer.num_threads=2``),
* 2 processes x 1 thread (``--nproc-per-node 2``, PyTorch's elastic launcher),
* optionally 1 process x 1 thread (``--single-thread``), for scale.

(a) Parity: at the same global batch (``trainer.batch_size``) the two processes take the same
optimiser steps as one, so the per-epoch training loss must agree; the benchmark prints the
losses and their relative differences and fails if any exceeds ``--tolerance`` (2%).
(b) Speed: training jets per second per epoch (jets stepped over / the epoch's
``train_seconds``, the slowest rank's), and the wall time of each command (start-up, data
loading and evaluation included).

    python benchmarks/bench_ddp.py [--data FILE] [--n-jets 6000] [--model pfn] [--epochs 3]
        [--batch-size 256] [--out-dir runs/bench-ddp] [--single-thread] [--json-out FILE]

Without ``--data`` a toptag sample of ``--n-jets`` jets is generated into ``data/`` first.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml


def _sample(a: argparse.Namespace) -> str:
    if a.data:
        return a.data
    path = Path("data") / f"toptag_bench-ddp_n{a.n_jets}.h5"
    if not path.exists():
        subprocess.run([sys.executable, "-m", "colliderlab.cli", "generate", "--preset", "toptag", "--n-jets",
                        str(a.n_jets), "--out", str(path)], check=True)
    return str(path)


def _experiment(a: argparse.Namespace, data: str, out: Path) -> Path:
    exp = {
        "name": "bench-ddp",
        "data": {"path": data, "n_jets": a.n_jets, "cache_dir": str(out / "cache")},
        "representation": {"kind": "particles", "n_particles": 64} if a.model != "dnn" else
        {"kind": "observables", "names": ["mass", "mass_sd", "tau21", "tau32", "n_constituents", "girth", "ptd"]},
        "model": {"name": a.model, "preset": "hls4ml" if a.model == "dnn" else "lite"},
        "trainer": {"epochs": a.epochs, "batch_size": a.batch_size, "lr": 1e-3, "patience": 0, "device": "cpu",
                    "progress": False, "amp": False},
    }
    path = out / "exp.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path


def _train(exp: Path, run_dir: Path, extra: list[str]) -> tuple[list[dict[str, float]], float]:
    """Train ``exp`` into ``run_dir`` (fresh) with ``extra`` CLI arguments; the metrics rows and wall time."""
    shutil.rmtree(run_dir, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "colliderlab.cli", "train", str(exp), "--run-dir", str(run_dir), "--quiet",
                    *extra], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    with open(run_dir / "metrics.csv") as f:
        rows = [{k: float(v) for k, v in r.items() if v != ""} for r in csv.DictReader(f)]
    return rows, wall


def _rates(rows: list[dict[str, float]], batch_size: int) -> list[float]:
    """Training jets per second of each epoch."""
    out, last = [], 0.0
    for r in rows:
        out.append((r["step"] - last) * batch_size / r["train_seconds"])
        last = r["step"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="jet file (default: generate a toptag sample into data/)")
    ap.add_argument("--n-jets", type=int, default=6000)
    ap.add_argument("--model", default="pfn", help="pfn (lite, no dropout) or dnn (hls4ml preset: no BN/dropout)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=256, help="the global batch")
    ap.add_argument("--out-dir", default="runs/bench-ddp")
    ap.add_argument("--tolerance", type=float, default=0.02, help="largest relative train-loss difference allowed")
    ap.add_argument("--single-thread", action="store_true", help="also time 1 process x 1 thread")
    ap.add_argument("--json-out")
    a = ap.parse_args()

    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    exp = _experiment(a, _sample(a), out)
    setups = {"1 process x 2 threads": ["--set", "trainer.num_threads=2"],
              "2 processes x 1 thread": ["--nproc-per-node", "2"]}
    if a.single_thread:
        setups["1 process x 1 thread"] = ["--set", "trainer.num_threads=1"]
    results = {}
    for i, (name, extra) in enumerate(setups.items()):
        rows, wall = _train(exp, out / f"run{i}", extra)
        results[name] = {"train_loss": [r["train_loss"] for r in rows], "jets_per_s": _rates(rows, a.batch_size),
                         "wall_s": wall}
    ref, ddp = results["1 process x 2 threads"], results["2 processes x 1 thread"]
    rel = [abs(d - r) / abs(r) for r, d in zip(ref["train_loss"], ddp["train_loss"], strict=True)]
    print(f"model {a.model}, {a.n_jets} jets, global batch {a.batch_size}, {a.epochs} epochs, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"{'epoch':>5} {'loss 1 proc':>14} {'loss 2 proc':>14} {'rel diff':>10}")
    for e, (r, d, x) in enumerate(zip(ref["train_loss"], ddp["train_loss"], rel, strict=True), 1):
        print(f"{e:>5} {r:>14.8f} {d:>14.8f} {x:>10.2e}")
    print(f"\n{'setup':<24} {'jets/s per epoch':<34} {'wall s':>7}")
    for name, res in results.items():
        rates = " ".join(f"{v:>9.0f}" for v in res["jets_per_s"])
        print(f"{name:<24} {rates:<34} {res['wall_s']:>7.1f}")
    ok = max(rel) <= a.tolerance
    print(f"\nparity: max relative train-loss difference {max(rel):.2e} ({'within' if ok else 'ABOVE'} {a.tolerance:.0%})")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps({"results": results, "relative_difference": rel,
                                                "load_average": os.getloadavg()}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
