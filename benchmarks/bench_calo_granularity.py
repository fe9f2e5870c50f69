"""How calorimeter granularity changes what networks can learn: gamma vs pi0 on the fine LCD cube
and on the same showers read out ATLAS-like and CMS-like.

Simulates ``--n`` photons and ``--n`` neutral pions (log-uniform ``--emin``-``--emax`` GeV) in the
``lcd`` geometry (25 x 25 x 25 cells of 5.1 mm W/Si), reads the same showers out with the
``lcd-atlas`` (3 layers: strips, ~1 R_M cells, coarse back) and ``lcd-cms`` (one layer of ~1 R_M
cells) geometries (``colliderlab.physics.calo.coarsen``), and trains at each granularity the BDT
on shower shapes and a CNN on the cells: the 3D ``calo_cnn3d`` on the fine cube (25 layer-wise
branches of 25 x 25 cells are too slow on a CPU), the layer-wise ``calo_cnn`` on the coarse readouts.
Reports AUC, pi0 rejection at 90% photon efficiency, training time and parameter count.

    python benchmarks/bench_calo_granularity.py [--n 6000] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--emin", type=float, default=10.0)
    ap.add_argument("--emax", type=float, default=100.0)
    ap.add_argument("--out-dir", default="runs/bench-calo-granularity")
    ap.add_argument("--json-out")
    a = ap.parse_args()

    import h5py

    from colliderlab import metrics
    from colliderlab.data.calo_io import write_calochallenge
    from colliderlab.data.calo_sim import simulate_to_file
    from colliderlab.features.calo import read_showers
    from colliderlab.physics.calo import coarsen
    from colliderlab.train.experiment import experiment_from_dict, run_experiment

    tag = f"gamma_pi0_{a.emin:g}-{a.emax:g}GeV_n{a.n}"
    fine_path = Path("data") / f"calo_lcd_{tag}.h5"
    if not fine_path.exists():  # reuse a finished sample
        simulate_to_file(fine_path, "lcd", ["gamma", "pi0"], a.n, energy=(a.emin, a.emax), seed=9, progress=False)
    paths = {"lcd": fine_path}
    fine = read_showers(fine_path)
    for g in ("lcd-atlas", "lcd-cms"):
        paths[g] = Path("data") / f"calo_{g}_{tag}.h5"
        if not paths[g].exists():
            write_calochallenge(paths[g], coarsen(fine, g))
    del fine
    rows = []
    for geometry, path in paths.items():
        setups = [("bdt", {"kind": "calo_features"}, {})]
        # the cube: one 3D CNN (weights shared over depth); coarse readouts: one 2D branch per layer
        cnn = "calo_cnn3d" if geometry == "lcd" else "calo_cnn"
        setups.append((cnn, {"kind": "calo", "normalize": "deposited"}, {"epochs": 30, "patience": 6, "batch_size": 128}))
        for model, rep, trainer in setups:
            d = {"name": f"gran-{geometry}-{model}", "data": {"path": str(path), "cache_dir": None},
                 "representation": rep, "model": {"name": model, "preset": "lite"},
                 "trainer": {"batch_size": 256, "lr": 1e-3, "progress": False, **trainer}}
            run = Path(a.out_dir) / geometry / model
            res = run_experiment(experiment_from_dict(d), run, progress=False, plots=False)
            with h5py.File(run / "test_scores.h5") as f:
                scores, labels = f["scores"][:], f["labels"][:]
            k = res["class_names"].index("gamma")
            s, is_sig = scores[:, k], labels == k
            rows.append({"geometry": geometry, "model": model, "auc": metrics.auc(s, is_sig),
                         "rejection_at_0.9": metrics.rejection_at(s, is_sig, 0.9), "n_test": res["n_test"],
                         "params": res["params"], "train_seconds": res.get("train_seconds")})
            print(f"# {rows[-1]}", flush=True)
    if a.json_out:
        from colliderlab.atomic import write_text

        write_text(a.json_out, json.dumps({"n_per_particle": a.n, "energy": [a.emin, a.emax], "rows": rows}, indent=2))
    print(f"gamma vs pi0, {a.emin:g}-{a.emax:g} GeV, {a.n} showers each, LCD cube at three granularities")
    print("| readout | cells | model | AUC | pi0 rejection @ 90% gamma eff. | train s | params |")
    print("|---|---|---|---|---|---|---|")
    cells = {"lcd": 15625, "lcd-atlas": 360, "lcd-cms": 169}
    for r in rows:
        secs = "-" if r["train_seconds"] is None else f"{r['train_seconds']:.0f}"
        print(f"| {r['geometry']} | {cells[r['geometry']]:,} | {r['model']} | {r['auc']:.4f} | "
              f"{r['rejection_at_0.9']:.2f} | {secs} | {r['params']:,} |")


if __name__ == "__main__":
    main()
