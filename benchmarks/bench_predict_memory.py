"""Distributed prediction: peak memory of the whole process tree and jets/s over a sharded sample.

Target (issue 17): ``colliderlab predict`` over 1M jets stays within 2 GB of peak memory, summed
over the whole process tree (Dask's nanny and worker processes are processes of their own).

Trains a tiny PFN run (a few hundred steps at most; its accuracy is irrelevant here), cuts a
jet file into a sharded sample of ~``--n-jets`` jets by writing it ``repeat`` times over
(:func:`colliderlab.data.sharding.shard_file`: the copies are identical jets, which the output
says), then runs ``colliderlab predict RUN --data SAMPLE --out OUT --workers N`` in a subprocess
for each ``--workers`` value, sampling the resident set size (RSS) of that process and all its
descendants every 0.2 s. RSS summed over processes counts shared pages once per process, so the
sum is an upper bound of the memory really used. The scores of every worker count are checked
to be equal.

    python benchmarks/bench_predict_memory.py [--data FILE] [--n-jets 1000000] [--small]
        [--workers 1,2] [--shard-jets 50000 (10000 with --small)] [--work-dir runs/bench-predict] [--json-out FILE]

Without ``--data`` a toptag sample of 20k jets per class is generated first (Pythia, minutes).
``--small`` is ``--n-jets 100000``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

GB = 1e9
TARGET_GB = 2.0


class TreeRSS(threading.Thread):
    """Samples the summed RSS of a process and all its descendants every ``every`` seconds."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak, self.peak_procs, self.max_procs, self.samples = 0, 0, 0, 0
        self.per_process: dict[int, int] = {}  # pid -> its own peak RSS
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psutil

        root = psutil.Process(self.pid)
        while not self._stop_event.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            total = 0
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    total += rss
                    self.per_process[p.pid] = max(self.per_process.get(p.pid, 0), rss)
                except psutil.NoSuchProcess:  # a process that ended between listing and reading
                    pass
            self.samples += 1
            self.max_procs = max(self.max_procs, len(procs))
            if total > self.peak:
                self.peak, self.peak_procs = total, len(procs)
            self._stop_event.wait(self.every)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def source_file(a: argparse.Namespace, work: Path) -> Path:
    """The jet file to repeat: ``--data``, or a generated toptag sample (reused when present)."""
    if a.data:
        return Path(a.data)
    from colliderlab.data.generate import generate_preset

    out = work / "toptag_n20000.h5"
    if not out.exists():
        generate_preset("toptag", 20_000, out, workers=a.gen_workers, progress=True)
    return out


def train_tiny_run(src: Path, work: Path) -> Path:
    """A PFN (lite) trained one epoch on 4000 jets: only its forward pass matters here."""
    from colliderlab.train.experiment import experiment_from_dict, run_experiment

    run = work / "pfn-run"
    if (run / "checkpoint_best.safetensors").exists():
        return run
    cfg = experiment_from_dict({
        "name": "bench-predict-pfn", "data": {"path": str(src), "n_jets": 4000, "cache_dir": str(work / "cache")},
        "representation": {"kind": "particles"}, "model": {"name": "pfn", "preset": "lite"},
        "trainer": {"epochs": 1, "batch_size": 128, "lr": 1e-3, "progress": False, "patience": 0},
    })
    run_experiment(cfg, run, progress=False, plots=False)
    return run


def sharded_sample(src: Path, work: Path, n_jets: int, shard_jets: int) -> tuple[Path, int, int]:
    """A sharded sample of about ``n_jets`` jets: ``src`` written ``repeat`` times over."""
    from colliderlab.data.readers import count_jets
    from colliderlab.data.sharding import shard_file
    from colliderlab.data.shards import open_sample

    n_src = count_jets(src)
    repeat = max(1, round(n_jets / n_src))
    out = work / f"sample_{src.stem}_x{repeat}_s{shard_jets}.h5"
    if out.exists():
        sample = open_sample(out)
    else:
        sample = shard_file(src, out, shard_jets=shard_jets, repeat=repeat, overwrite=True)
    return sample.master, len(sample), repeat


def predict(run: Path, sample: Path, out: Path, workers: int) -> dict:
    """``colliderlab predict`` in a subprocess; wall time and the process tree's peak RSS."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "colliderlab.cli", "predict", str(run), "--data", str(sample), "--out", str(out),
           "--workers", str(workers), "--overwrite", "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    monitor = TreeRSS(proc.pid)
    monitor.start()
    log, _ = proc.communicate()
    wall = time.perf_counter() - t0
    monitor.stop()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{log[-3000:]}")
    return {"workers": workers, "wall_s": wall, "peak_rss_gb": monitor.peak / GB,
            "processes_at_peak": monitor.peak_procs, "max_processes": monitor.max_procs,
            "rss_samples": monitor.samples, "command": " ".join(cmd[1:]),
            "client_peak_rss_gb": monitor.per_process.get(proc.pid, 0) / GB,
            "other_processes_peak_rss_gb": sorted((v / GB for k, v in monitor.per_process.items() if k != proc.pid),
                                                  reverse=True)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="jet file to repeat (default: generate 20k toptag jets per class)")
    ap.add_argument("--n-jets", type=int, default=1_000_000, help="jets in the sharded sample (about)")
    ap.add_argument("--small", action="store_true", help="--n-jets 100000: a quick check")
    ap.add_argument("--workers", default="1,2", help="comma list of --workers values to run")
    ap.add_argument("--shard-jets", type=int, help="jets per shard (default 50000; 10000 with --small)")
    ap.add_argument("--gen-workers", type=int, default=2, help="workers generating the sample (no --data)")
    ap.add_argument("--work-dir", default="runs/bench-predict")
    ap.add_argument("--json-out")
    a = ap.parse_args()
    n_jets = 100_000 if a.small else a.n_jets
    a.shard_jets = a.shard_jets or (10_000 if a.small else 50_000)

    import numpy as np
    import torch

    from colliderlab.train.score_shards import read_scores

    torch.set_num_threads(1)
    work = Path(a.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    src = source_file(a, work)
    t0 = time.perf_counter()
    run = train_tiny_run(src, work)
    print(f"tiny PFN run: {run} ({time.perf_counter() - t0:.0f} s)", flush=True)
    t0 = time.perf_counter()
    sample, n, repeat = sharded_sample(src, work, n_jets, a.shard_jets)
    print(f"sample: {sample}: {n:,} jets = {src} ({n // repeat:,} jets) written {repeat} times over "
          f"(identical copies), shards of {a.shard_jets:,} ({time.perf_counter() - t0:.0f} s)", flush=True)
    rows, ref = [], None
    for w in (int(x) for x in a.workers.split(",")):
        out = work / f"scores_w{w}.h5"
        r = predict(run, sample, out, w)
        r.update(n_jets=n, jets_per_s=n / r["wall_s"], within_target=r["peak_rss_gb"] <= TARGET_GB)
        scores = read_scores(out)[0]["scores"]
        if ref is None:
            ref = scores
        r["scores_equal_to_first"] = bool(np.allclose(scores, ref, rtol=0, atol=1e-6))
        rows.append(r)
        print(f"workers {w}: {n:,} jets in {r['wall_s']:.1f} s = {r['jets_per_s']:,.0f} jets/s; peak RSS "
              f"{r['peak_rss_gb']:.2f} GB summed over {r['processes_at_peak']} processes (client "
              f"{r['client_peak_rss_gb']:.2f} GB, others {', '.join(f'{x:.2f}' for x in r['other_processes_peak_rss_gb'])}"
              f" GB at their own peaks; target <= "
              f"{TARGET_GB:g} GB: {'ok' if r['within_target'] else 'EXCEEDED'}); scores equal to the first: "
              f"{r['scores_equal_to_first']}", flush=True)
    result = {"sample": str(sample), "source": str(src), "repeat": repeat, "n_jets": n,
              "shard_jets": a.shard_jets, "load_average": os.getloadavg(), "cpus": os.cpu_count(), "runs": rows}
    print(json.dumps(result, default=float))
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
