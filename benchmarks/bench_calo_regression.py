"""Energy regression on simulated showers: linear calibration, BDT and CNN, and a CNN that predicts
its own resolution (Gaussian negative log-likelihood), each CNN with the absolute energy as its
target or the relative one log(E_inc / E_visible) (``data.target_transform: log_ratio``).

``--n`` electrons (log-uniform 1-100 GeV, calogan geometry); targets the incident energy. The
linear and BDT regressors see the shower shapes (``calo_features``, with log10 of the visible
energy), the CNN the cells normalised to the visible energy (``calo``, normalize deposited).
Reports bias, relative resolution (half the 16-84% interval of E_pred / E_true) overall and in
bins of the true energy, beside the simulator's configured sampling term a/sqrt(E), and for the
NLL heads the pull width and the 1-sigma coverage (pulls in GeV). Draws bias and resolution
against the true energy for every method (``--plot``, default ``OUT_DIR/resolution_vs_energy.png``).
``--models`` reruns only the methods named; the others are read from their run directories
under ``--out-dir`` when they are there.

    python benchmarks/bench_calo_regression.py [--n 20000] [--models "calo_cnn (log_ratio)"] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--particle", default="e-")
    ap.add_argument("--out-dir", default="runs/bench-calo-regression")
    ap.add_argument("--models", help="comma list of the methods to (re)run, e.g. linear_regression")
    ap.add_argument("--plot", help="bias and resolution vs true energy (default OUT_DIR/resolution_vs_energy.png)")
    ap.add_argument("--json-out")
    a = ap.parse_args()

    import h5py
    import numpy as np

    from colliderlab.data.calo_sim import simulate_to_file
    from colliderlab.metrics import response_in_bins
    from colliderlab.physics.calo import CALO_GEOMETRIES
    from colliderlab.plots import plot_response_vs_true
    from colliderlab.train.experiment import experiment_from_dict, run_experiment

    path = Path("data") / f"calo_calogan_{a.particle}_1-100GeV_n{a.n}.h5"
    if not path.exists():
        simulate_to_file(path, "calogan", [a.particle], a.n, energy=(1.0, 100.0), seed=13, progress=False)
    cnn_rep = {"kind": "calo", "normalize": "deposited"}
    cnn, nll = {"epochs": 40, "patience": 8}, {"epochs": 40, "patience": 8, "loss": "gaussian_nll"}
    relative = {"target_transform": "log_ratio"}  # learn log(E_inc / E_visible); GeV back with E_visible
    setups = {  # label -> data options, representation, trainer options, model options
        "linear_regression": ({}, {"kind": "calo_features"}, {}, {}),
        "bdt_regression": ({}, {"kind": "calo_features"}, {}, {}),
        "calo_cnn": ({}, cnn_rep, cnn, {}),
        "calo_cnn (Gaussian NLL)": ({}, cnn_rep, nll, {"dropout": 0.0}),
        "calo_cnn (log_ratio)": (relative, cnn_rep, cnn, {}),
        "calo_cnn (Gaussian NLL log_ratio)": (relative, cnn_rep, nll, {"dropout": 0.0}),
    }
    if a.models and (unknown := set(a.models.split(",")) - set(setups)):
        raise SystemExit(f"unknown --models {sorted(unknown)}; valid: {', '.join(setups)}")
    edges = np.array([1.0, 3.0, 10.0, 30.0, 100.0])
    rows, curves = [], {}
    for label, (data, rep, trainer, options) in setups.items():
        model = label.split(" ")[0]
        run = Path(a.out_dir) / label.replace(" ", "_").replace("(", "").replace(")", "")
        if a.models and label not in a.models.split(","):
            if not (run / "results.json").exists():
                continue
            res = json.loads((run / "results.json").read_text())  # an earlier run of this method
        else:
            d = {"name": f"reg-{model}",
                 "data": {"path": str(path), "cache_dir": None, "target": "incident_energy", **data},
                 "representation": rep, "model": {"name": model, "preset": "lite", "options": options},
                 "trainer": {"batch_size": 256, "lr": 1e-3, "progress": False, **trainer}}
            res = run_experiment(experiment_from_dict(d), run, progress=False, plots=False)
        with h5py.File(run / "test_scores.h5") as f:
            pred, true = f["predictions"][:, 0], f["targets"][:, 0]
        curves[label] = (pred, true)
        binned = response_in_bins(pred, true, edges)
        rows.append({"model": label, **{k: res.get(k) for k in ("r2", "bias", "response_median", "resolution",
                                                                    "pull_width", "coverage_1sigma", "params",
                                                                    "train_seconds")},
                     "resolution_bins": binned["resolution"].tolist(), "response_bins": binned["response"].tolist()})
        print(f"# {rows[-1]}", flush=True)
    a_stoch = CALO_GEOMETRIES["calogan"].stochastic
    centres = np.sqrt(edges[1:] * edges[:-1])
    e_ref = np.geomspace(1.0, 100.0, 100)
    figure = plot_response_vs_true(curves, np.geomspace(1.0, 100.0, 11),
                                   a.plot or Path(a.out_dir) / "resolution_vs_energy.png",
                                   reference=(e_ref, a_stoch / np.sqrt(e_ref), f"sampling term {a_stoch:.2f}/sqrt(E/GeV)"))
    print(f"figure: {figure}")
    out = {"file": str(path), "edges": edges.tolist(), "rows": rows, "figure": str(figure),
           "sampling_term_at_bin_centres": (a_stoch / np.sqrt(centres)).tolist()}
    if a.json_out:
        from colliderlab.atomic import write_text

        write_text(a.json_out, json.dumps(out, indent=2, default=float))
    bins = [f"{lo:g}-{hi:g} GeV" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    print(f"{a.particle} energy regression, calogan, {a.n} showers (1-100 GeV); relative resolution per bin")
    print("| method | R^2 | median response | resolution | " + " | ".join(bins) + " | pull width | 1-sigma coverage |")
    print("|---|---|---|---|" + "---|" * len(bins) + "---|---|")
    for r in rows:
        pw = f"{r['pull_width']:.3f}" if r.get("pull_width") is not None else "-"
        cov = f"{r['coverage_1sigma']:.3f}" if r.get("coverage_1sigma") is not None else "-"
        print(f"| {r['model']} | {r['r2']:.4f} | {r['response_median']:.4f} | {r['resolution']:.4f} | "
              + " | ".join(f"{v:.4f}" for v in r["resolution_bins"]) + f" | {pw} | {cov} |")
    print("| sampling term a/sqrt(E) at the bin centres | | | | "
          + " | ".join(f"{v:.4f}" for v in out["sampling_term_at_bin_centres"]) + " | | |")
    print("\nmedian response E_pred / E_true per bin")
    print("| method | " + " | ".join(bins) + " |")
    print("|---|" + "---|" * len(bins))
    for r in rows:
        print(f"| {r['model']} | " + " | ".join(f"{v:.4f}" for v in r["response_bins"]) + " |")


if __name__ == "__main__":
    main()
