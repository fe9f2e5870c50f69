"""Shower generators on the three-layer CaloGAN-like geometry: fidelity and speed.

Simulates photons (log-uniform ``--emin``-``--emax`` GeV, normal incidence) with
``colliderlab calo simulate``'s engine into ``data/`` (a training file and an independent
reference file), trains each generator (``lite`` presets) through ``run_experiment`` within a
per-model epoch budget, and evaluates it against the reference with the fixed evaluation
classifier (high-level features and cells), FPD/KPD and per-observable separation power.
Also reports generation speed at batch 1 and 1000 (CPU) beside the simulator's own rate, and the
classifier's AUC for the reference against itself (a second independent sample) and against the
reference with layer 1 scaled by 10% (its power).

    python benchmarks/bench_calo_generators.py [--n 50000] [--models calo_vae,calo_wgan,calo_flow,calo_fm]
        [--epochs 30] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50000, help="showers per file")
    ap.add_argument("--particle", default="gamma")
    ap.add_argument("--emin", type=float, default=1.0)
    ap.add_argument("--emax", type=float, default=100.0)
    ap.add_argument("--models", default="calo_vae,calo_wgan,calo_flow,calo_fm")
    ap.add_argument("--epochs", default="calo_vae=40,calo_wgan=40,calo_flow=25,calo_fm=15")
    ap.add_argument("--out-dir", default="runs/bench-calo")
    ap.add_argument("--no-calibration", action="store_true", help="skip the classifier's sim-vs-sim checks")
    ap.add_argument("--json-out")
    ap.add_argument("--preset", default="lite")
    ap.add_argument("--model-options", default="{}", help='JSON config overrides for every model, e.g. \'{"hidden": 512}\'')
    ap.add_argument("--train-threshold", type=float, default=None,
                    help="readout threshold (GeV) applied to the training showers (default: the evaluation's, "
                         "fidelity.MIN_ENERGY; 0 trains on the raw cells)")
    a = ap.parse_args()

    import numpy as np
    import torch

    from colliderlab.data.calo_sim import simulate_to_file
    from colliderlab.features.calo import read_showers
    from colliderlab.generative import fidelity as fd
    from colliderlab.generative.evaluate import fidelity_report, generate_like
    from colliderlab.physics.calo import CaloShowers, simulate
    from colliderlab.train.experiment import experiment_from_dict, load_run, run_experiment

    torch.set_num_threads(2)
    tag = f"{a.particle}_{a.emin:g}-{a.emax:g}GeV_n{a.n}"
    train_file = Path("data") / f"calo_calogan_{tag}_seed1.h5"
    ref_file = Path("data") / f"calo_calogan_{tag}_seed2.h5"
    t0 = time.perf_counter()
    if not train_file.exists():  # reuse a finished sample
        simulate_to_file(train_file, "calogan", [a.particle], a.n, energy=(a.emin, a.emax), seed=1, progress=False)
    if not ref_file.exists():  # reuse a finished sample
        simulate_to_file(ref_file, "calogan", [a.particle], a.n, energy=(a.emin, a.emax), seed=2, progress=False)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    simulate("calogan", a.particle, 2000, energy=(a.emin, a.emax), rng=3)
    sim_rate = 2000 / (time.perf_counter() - t0)
    ref = read_showers(ref_file)
    result: dict = {"train_file": str(train_file), "reference": str(ref_file), "n": a.n,
                    "simulation_seconds_both_files": t_sim, "simulator_showers_per_second": sim_rate, "models": []}

    # the classifier's calibration and power on simulated showers
    other = read_showers(train_file)
    layout = fd.layout_of("calogan")

    def hl(s: CaloShowers) -> np.ndarray:
        cells = fd.zero_suppress(s.showers)  # the evaluation's readout threshold, as in fidelity_report
        return fd.highlevel_inputs(fd.shower_observables(cells, s.incident_energy, layout), s.incident_energy)

    if not a.no_calibration:
        _calibration(result, ref, other, hl, fd, CaloShowers)
    epochs = dict(item.split("=") for item in a.epochs.split(","))
    for name in a.models.split(","):
        run_dir = Path(a.out_dir) / name
        thr = fd.MIN_ENERGY if a.train_threshold is None else a.train_threshold
        d = {"name": f"calo-{name}", "data": {"path": str(train_file), "cache_dir": None},
             "representation": {"kind": "calo", "min_energy": thr},
             "model": {"name": name, "preset": a.preset, "options": json.loads(a.model_options)},
             "trainer": {"epochs": int(epochs.get(name, 30)), "batch_size": 256, "lr": 1e-3 if name != "calo_wgan" else 2e-4,
                         "schedule": "cosine", "patience": 0, "progress": False}}
        t0 = time.perf_counter()
        res = run_experiment(experiment_from_dict(d), run_dir, progress=False)
        train_wall = time.perf_counter() - t0
        model = load_run(run_dir).model
        gen = generate_like(model, ref)
        rep = fidelity_report(ref, gen)
        cond = torch.zeros(1000, 2)
        rates = {}
        for bs in (1, 1000):
            c = cond[:bs]
            model.sample(c)
            n_calls, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < 1.0:
                model.sample(c)
                n_calls += 1
            rates[f"showers_per_second_b{bs}"] = bs * n_calls / (time.perf_counter() - t0)
        row = {"model": name, "params": res["params"], "train_seconds": res["train_seconds"], "train_wall": train_wall,
               **rates, **{k: v for k, v in rep.items() if k != "observables"}, "observables": rep["observables"]}
        result["models"].append(row)
        print(f"# {name}: AUC high-level {row['auc_highlevel']:.4f}, cells {row['auc_cells']:.4f}, "
              f"FPD {row['fpd']:.3g}, b1000 {rates['showers_per_second_b1000']:.0f}/s", flush=True)
        if a.json_out:
            from colliderlab.atomic import write_text

            write_text(a.json_out, json.dumps(result, indent=2, default=float))

    print(f"Generators vs simulated {a.particle} showers ({a.emin:g}-{a.emax:g} GeV, calogan geometry), "
          f"{a.n} training and {a.n} reference showers")
    print("| model | params | AUC high-level | AUC cells | FPD | KPD | mean sep. power | showers/s b=1 | b=1000 | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in result["models"]:
        print(f"| {r['model']} | {r['params']:,} | {r['auc_highlevel']:.4f} | {r['auc_cells']:.4f} | {r['fpd']:.3g} | "
              f"{r['kpd']:.3g} | {r['mean_separation_power']:.3f} | {r['showers_per_second_b1']:,.0f} | "
              f"{r['showers_per_second_b1000']:,.0f} | {r['train_seconds']:.0f} |")


def _calibration(result, ref, other, hl, fd, CaloShowers) -> None:
    """The evaluation classifier on simulated vs simulated showers, and vs layer 1 scaled by 10%."""
    result["auc_sim_vs_sim_highlevel"] = fd.classifier_auc(hl(ref), hl(other))["auc"]
    result["auc_sim_vs_sim_cells"] = fd.classifier_auc(fd.cell_inputs(fd.zero_suppress(ref.showers), ref.incident_energy),
                                                       fd.cell_inputs(fd.zero_suppress(other.showers), other.incident_energy))["auc"]
    dist = CaloShowers(other.incident_energy, other.showers.copy(), other.particle, other.angle, other.geometry,
                       other.layer_shapes)
    sl = slice(288, 288 + 144)
    dist.showers[:, sl] *= 1.1
    result["auc_layer1_x1.1_highlevel"] = fd.classifier_auc(hl(ref), hl(dist))["auc"]
    result["auc_layer1_x1.1_cells"] = fd.classifier_auc(fd.cell_inputs(fd.zero_suppress(ref.showers), ref.incident_energy),
                                                        fd.cell_inputs(fd.zero_suppress(dist.showers), dist.incident_energy))["auc"]
    print(f"# classifier: sim vs sim {result['auc_sim_vs_sim_highlevel']:.4f} / {result['auc_sim_vs_sim_cells']:.4f}; "
          f"layer 1 x 1.1 {result['auc_layer1_x1.1_highlevel']:.4f} / {result['auc_layer1_x1.1_cells']:.4f}", flush=True)


if __name__ == "__main__":
    main()
