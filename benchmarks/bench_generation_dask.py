"""Generation on Dask (issue 17): scaling with local workers, what Dask adds to Pythia's own time,
the Dask path against the ProcessPool runner it replaced (interleaved ABBA), and a real localhost
cluster (``dask scheduler`` + ``dask worker`` processes started and stopped here).

    python benchmarks/bench_generation_dask.py [--n-jets 10000] [--abba-jets 3000] [--rounds 2] [--old-commit 650c30e]

Each timed run is a fresh ``colliderlab generate --preset toptag`` process (cluster start, Pythia
initialisation and writing included), so the figures are what a user waits for. The old runner is
run from a ``git worktree`` of ``--old-commit`` (the last commit before the Dask executor).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _generate(src: Path, out: Path, n_jets: int, extra: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, "-m", "colliderlab.cli", "generate", "--preset", "toptag", "--n-jets", str(n_jets),
           "--out", str(out), "--seed", "3", "--overwrite", "--quiet", *extra]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return time.perf_counter() - t0


def _stage_seconds(n_jets: int) -> dict:
    """Pythia's and every other stage's own seconds, summed over chunks, from an in-process run."""
    from colliderlab.data.generate import generate_preset

    with tempfile.TemporaryDirectory() as d:
        r = generate_preset("toptag", n_jets, Path(d) / "s.h5", progress=False)
    return {"wall_s": r.wall_seconds, "stages_s": r.seconds, "chunks": sum(r.n_chunks.values())}


def scaling(tmp: Path, n_jets: int) -> dict:
    """Wall time with 1 worker (in this process, no cluster) and 2 (a LocalCluster), and the fixed
    cost of each (a 20-jet run: interpreter, cluster start, Pythia initialisation per worker)."""
    src = ROOT / "src"
    out: dict = {}
    for w in (1, 2):
        t0 = _generate(src, tmp / f"fixed{w}.h5", 20, ["--workers", str(w)])
        t = _generate(src, tmp / f"w{w}.h5", n_jets, ["--workers", str(w)])
        out[w] = {"seconds": t, "jets_per_s": 2 * n_jets / t, "fixed_s": t0,
                  "jets_per_s_after_start": 2 * n_jets / (t - t0)}
    out["speedup_2_vs_1"] = out[2]["jets_per_s"] / out[1]["jets_per_s"]
    out["speedup_2_vs_1_after_start"] = out[2]["jets_per_s_after_start"] / out[1]["jets_per_s_after_start"]
    return out


def abba(tmp: Path, n_jets: int, rounds: int, old_src: Path) -> dict:
    """Dask runner (A) against the ProcessPool runner (B), A B B A per round, 2 workers each."""
    times: dict[str, list[float]] = {"dask": [], "processpool": []}
    for _ in range(rounds):
        for which in ("dask", "processpool", "processpool", "dask"):
            src = ROOT / "src" if which == "dask" else old_src
            times[which].append(_generate(src, tmp / f"{which}.h5", n_jets, ["--workers", "2"]))
    ratios = [a / b for a, b in zip(times["dask"], times["processpool"], strict=True)]
    return {"seconds": times, "ratio_dask_over_pool": statistics.mean(ratios),
            "ratio_spread": (min(ratios), max(ratios))}


def localhost_cluster(tmp: Path, n_jets: int) -> dict:
    """`dask scheduler` + 2 `dask worker` processes on 127.0.0.1; the sample must equal the local one."""
    import numpy as np

    from colliderlab.data.h5 import read_h5

    sched = tmp / "scheduler.json"
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(sched)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        for _ in range(300):
            if sched.exists():
                break
            time.sleep(0.2)
        for _ in range(2):
            procs.append(subprocess.Popen([str(BIN / "dask"), "worker", "--scheduler-file", str(sched),
                                           "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
        address = json.loads(sched.read_text())["address"]
        t = _generate(ROOT / "src", tmp / "remote.h5", n_jets, ["--scheduler", address])
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)
    a, b = read_h5(tmp / "remote.h5"), read_h5(tmp / "w2.h5")
    same = all(np.array_equal(v, b.arrays()[k]) for k, v in a.arrays().items())
    return {"seconds": t, "jets_per_s": 2 * n_jets / t, "identical_to_local": same}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-jets", type=int, default=10000, help="jets per class of the scaling runs")
    ap.add_argument("--rounds", type=int, default=2, help="ABBA rounds")
    ap.add_argument("--abba-jets", type=int, default=3000, help="jets per class of each ABBA run")
    ap.add_argument("--old-commit", default="650c30e", help="commit with the ProcessPool runner")
    ap.add_argument("--skip-abba", action="store_true")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-gen-"))
    old = tmp / "old"
    try:
        report = {"n_jets_per_class": a.n_jets, "abba_jets_per_class": a.abba_jets,
                  "load_before": os.getloadavg()}
        report["in_process_stages"] = _stage_seconds(a.n_jets)
        report["scaling"] = sc = scaling(tmp, a.n_jets)
        st = report["in_process_stages"]
        busy = sum(st["stages_s"].values())
        # worker-seconds of the 2-worker Dask run beyond the stages' own (Pythia next(), detector, ...)
        report["dask_overhead"] = {
            "stage_seconds": busy, "pythia_seconds": st["stages_s"].get("pythia"),
            "two_worker_wall_s": sc[2]["seconds"],
            "overhead_worker_s_per_chunk": (2 * (sc[2]["seconds"] - sc[2]["fixed_s"]) - busy) / st["chunks"],
            "overhead_fraction_of_stages": (2 * (sc[2]["seconds"] - sc[2]["fixed_s"]) - busy) / busy,
        }
        report["localhost_cluster"] = localhost_cluster(tmp, a.n_jets)
        if not a.skip_abba:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), a.old_commit],
                           check=True, capture_output=True)
            report["abba"] = abba(tmp, a.abba_jets, a.rounds, old / "src")
        report["load_after"] = os.getloadavg()
        print(json.dumps(report, indent=1, default=str))
    finally:
        if old.exists():
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
