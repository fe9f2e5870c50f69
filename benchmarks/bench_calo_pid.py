"""Particle identification on simulated showers: BDT and DNN on shower shapes vs a CNN on cells.

Simulates ``--n`` showers of each particle of a pair (default gamma vs pi0, log-uniform
``--emin``-``--emax`` GeV, the three-layer CaloGAN-like geometry) and trains, through
``run_experiment`` with a 70/15/15 split: the xgboost BDT and the ``dnn`` on the ``calo_features``
shower shapes (visible-energy fractions per layer, centroids, widths, depth, sparsity, log10 of the
visible energy) and the layer-wise ``calo_cnn`` on the cells (``calo`` representation, normalised to
the visible energy). Reports AUC and the background rejection 1/eps_B at 90% signal efficiency
(the first particle is the signal).

    python benchmarks/bench_calo_pid.py [--pair gamma,pi0] [--n 20000] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pair", default="gamma,pi0")
    ap.add_argument("--geometry", default="calogan")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--emin", type=float, default=1.0)
    ap.add_argument("--emax", type=float, default=100.0)
    ap.add_argument("--out-dir", default="runs/bench-calo-pid")
    ap.add_argument("--json-out")
    a = ap.parse_args()

    import h5py

    from colliderlab import metrics
    from colliderlab.data.calo_sim import simulate_to_file
    from colliderlab.train.experiment import experiment_from_dict, run_experiment

    sig, bkg = a.pair.split(",")
    path = Path("data") / f"calo_{a.geometry}_{sig}_{bkg}_{a.emin:g}-{a.emax:g}GeV_n{a.n}.h5"
    if not path.exists():  # reuse a finished sample
        simulate_to_file(path, a.geometry, [sig, bkg], a.n, energy=(a.emin, a.emax), seed=7, progress=False)
    setups = {
        "bdt": ({"kind": "calo_features"}, {}),
        "dnn": ({"kind": "calo_features"}, {"epochs": 30, "patience": 6}),
        "calo_cnn": ({"kind": "calo", "normalize": "deposited"}, {"epochs": 30, "patience": 6, "batch_size": 128}),
    }
    rows = []
    for model, (rep, trainer) in setups.items():
        d = {"name": f"pid-{model}", "data": {"path": str(path), "cache_dir": None}, "representation": rep,
             "model": {"name": model, "preset": "lite"},
             "trainer": {"batch_size": 256, "lr": 1e-3, "progress": False, **trainer}}
        if (Path(a.out_dir) / f"{sig}-{bkg}" / model / "results.json").exists():
            import shutil  # a rerun retrains (settings may have changed)

            shutil.rmtree(Path(a.out_dir) / f"{sig}-{bkg}" / model)
        run = Path(a.out_dir) / f"{sig}-{bkg}" / model
        res = run_experiment(experiment_from_dict(d), run, progress=False)
        with h5py.File(run / "test_scores.h5") as f:
            scores, labels = f["scores"][:], f["labels"][:]
        names = res["class_names"]
        s = scores[:, names.index(sig)]
        is_sig = labels == names.index(sig)
        rows.append({"model": model, "auc": metrics.auc(s, is_sig), "rejection_at_0.9": metrics.rejection_at(s, is_sig, 0.9),
                     "rejection_at_0.5": metrics.rejection_at(s, is_sig, 0.5), "accuracy": res["accuracy"],
                     "params": res["params"], "train_seconds": res["train_seconds"], "n_test": res["n_test"]})
        print(f"# {model}: {rows[-1]}", flush=True)
    out = {"pair": [sig, bkg], "file": str(path), "n_per_particle": a.n, "energy": [a.emin, a.emax], "models": rows}
    if a.json_out:
        from colliderlab.atomic import write_text

        write_text(a.json_out, json.dumps(out, indent=2, default=float))
    print(f"{sig} (signal) vs {bkg}, {a.geometry} geometry, {a.emin:g}-{a.emax:g} GeV, {a.n} showers each, "
          f"{rows[0]['n_test']} test showers")
    print("| model | inputs | AUC | 1/eB @ eS=0.9 | 1/eB @ eS=0.5 | accuracy | params | train s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        inputs = "cells" if r["model"] == "calo_cnn" else "shower shapes"
        print(f"| {r['model']} | {inputs} | {r['auc']:.4f} | {r['rejection_at_0.9']:.2f} | {r['rejection_at_0.5']:.1f} | "
              f"{r['accuracy']:.4f} | {r['params']:,} | {r['train_seconds']:.0f} |")


if __name__ == "__main__":
    main()
