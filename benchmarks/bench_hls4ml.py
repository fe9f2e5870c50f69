"""The hls4ml jet tagger in fixed point: precision sweep of the bit-accurate firmware emulation.

Duarte et al., "Fast inference of deep neural networks in FPGAs for particle physics"
(arXiv:1804.06913) put a 16 -> 64 -> 32 -> 32 -> 5 ReLU network (4,389 parameters) on 16 jet
substructure features into a Kintex UltraScale FPGA with hls4ml. This benchmark

1. generates the ``hls4ml`` preset sample (g, q, W, Z, t jets, 13 TeV, pT 800-1200 GeV, MPI on;
   ``--n-jets`` per class, reused when present),
2. trains the ``dnn`` ``hls4ml`` preset on the 16 hls4ml features through the experiment machinery
   (reused when the run directory holds a finished run),
3. converts it with hls4ml at ap_fixed<W,I> for W in 6..18, compiles each firmware emulation with
   g++ and compares it with the float model on the test split: accuracy, mean per-class AUC,
   the largest per-class AUC loss and the argmax agreement,
4. estimates multiplications, DSPs, latency and initiation interval at reuse factors 1, 2, 4
   beside the figures published for this network.

    python benchmarks/bench_hls4ml.py [--n-jets 4000] [--json-out runs/bench-hls4ml.json]

Softmax is applied outside the firmware (the model ends in its logits). The target checked:
at ap_fixed<16,6> no class loses more than 0.005 in AUC.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

# W -> integer bits I (sign included): 6 above 12 bits (the paper's ap_fixed<16,6>); narrower
# words keep a few fractional bits
PRECISIONS = {6: 3, 8: 4, 10: 5, 12: 6, 14: 6, 16: 6, 18: 6}
TARGET_AUC_LOSS = 0.005


def ensure_sample(n_per_class: int, workers: int) -> Path:
    from colliderlab.data.generate import generate_preset

    path = Path(f"data/hls4ml_13tev_n{n_per_class}.h5")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        generate_preset("hls4ml", n_per_class, path, workers=workers, progress=True)
    return path


def experiment_dict(sample: Path, epochs: int) -> dict:
    from colliderlab.features.observables import HLS4ML_FEATURES

    return {
        "name": "hls4ml-jet-tagger",
        "data": {"path": str(sample)},
        "representation": {"kind": "observables", "names": list(HLS4ML_FEATURES)},
        "model": {"name": "dnn", "preset": "hls4ml"},
        "trainer": {"epochs": epochs, "batch_size": 256, "lr": 1.0e-3, "patience": 5,
                    "device": "cpu", "num_threads": 1, "progress": False, "seed": 0},
    }


def held_out_split(cfg, run):
    """The experiment's own test split, standardised with the run's statistics."""
    from colliderlab.data.dataset import split_indices
    from colliderlab.features.build import build_dataset

    d = cfg.data
    cache = Path(d.path).resolve().parent / ".cache" if d.cache_dir == "auto" else d.cache_dir
    ds, _ = build_dataset(d.path, run.representation, stop=d.n_jets, cache_dir=cache)
    _, _, te = split_indices(len(ds), d.val_fraction, d.test_fraction, d.split_seed)
    test = ds.subset(te)
    x = run.standardizer.apply(test.arrays)["x"]
    return x, test.labels


def _table(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def report(results, sample, y, names, export, float_row, acts, rows, row16, passed, resources):
    """Markdown tables of the sweep and of the resource estimates beside the paper's figures."""
    print(f"\nhls4ml jet tagger (dnn/hls4ml preset, {results['params']:,} params), sample "
          f"{sample}, {len(y):,} test jets, classes {', '.join(names)}; hls4ml "
          f"{export['hls4ml_version']}, Vivado backend, io_parallel, Latency strategy. "
          "Softmax outside the firmware.")
    print(f"Float model: accuracy {float_row['accuracy']:.4f}, mean AUC "
          f"{float_row['mean_auc']:.4f}; "
          + ", ".join(f"{k} {v:.4f}" for k, v in float_row["per_class_auc"].items()))
    print("Max |pre-activation| of the float model's dense layers on the test jets: "
          + ", ".join(f"{v:.1f}" for v in acts) + " (ap_fixed<W,I> holds [-2^(I-1), 2^(I-1)))\n")
    _table(
        ["precision", "accuracy", "mean AUC", "max AUC loss", "argmax agreement",
         "max abs diff (logit)", "DSP est. (R=1)"],
        [["float32", f"{float_row['accuracy']:.4f}", f"{float_row['mean_auc']:.4f}",
          "-", "-", "-", "-"]]
        + [[r["precision"], f"{r['accuracy']:.4f}", f"{r['mean_auc']:.4f}",
            f"{r['max_auc_loss']:+.4f}", f"{r['argmax_agreement']:.4f}",
            f"{r['max_abs_diff']:.3g}", f"{r['dsp_reuse1']:,}"] for r in rows],
    )
    print("\nPer-class AUC loss (float - emulated):\n")
    _table(["precision", *names],
           [[r["precision"], *(f"{r['per_class'][n]['auc_loss']:+.4f}" for n in names)]
            for r in rows])
    print(f"\nTarget at ap_fixed<16,6>: max per-class AUC loss {row16['max_auc_loss']:+.4f} <= "
          f"{TARGET_AUC_LOSS} -> {'PASS' if passed else 'FAIL'}")
    from colliderlab.export.hls import PAPER_FIGURES as p

    print("\nResource estimate at ap_fixed<16,6> (pre-synthesis model of "
          "colliderlab.export.hls.resource_estimate) beside arXiv:1804.06913:\n")
    _table(
        ["reuse factor", "mults", "mults (non-zero)", "DSP est.", "latency est. (cycles / ns)",
         "II est.", "paper DSP", "paper latency", "paper II"],
        [[str(r["reuse_factor"]), f"{r['mults']:,}", f"{r['mults_nonzero']:,}", f"{r['dsp']:,}",
          f"{r['latency_cycles']} / {r['latency_ns']:.0f}", str(r["initiation_interval"]),
          p["dsp_reuse_1"] if r["reuse_factor"] == 1 else p["dsp_other_reuse_factors"],
          p["latency"]["value"] if r["reuse_factor"] == 1 else p["latency_clock_cycles"],
          p["initiation_interval"]] for r in resources],
    )
    print(f"\nPaper latency source: {p['latency']['source']}")
    for rel in p["related_hls4ml_synthesis_reports"]:
        print(f"Related (not the paper): {rel['what']} [{rel['source']}]")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n-jets", type=int, default=4000, help="jets per class when generating")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--run-dir", default="runs/bench-hls4ml/dnn-hls4ml")
    ap.add_argument("--json-out", default=None, help="write the results as JSON here")
    ap.add_argument("--keep-projects", action="store_true",
                    help="keep the HLS projects of the sweep under RUN_DIR/export/sweep")
    a = ap.parse_args()

    import torch

    from colliderlab.export import hls
    from colliderlab.train.experiment import experiment_from_dict, load_run, run_experiment

    ok, why = hls.hls4ml_available()
    if not ok:
        raise SystemExit(why)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    sample = ensure_sample(a.n_jets, a.workers)
    cfg = experiment_from_dict(experiment_dict(sample, a.epochs))
    run_dir = Path(a.run_dir)
    if not (run_dir / "results.json").exists():
        run_experiment(cfg, run_dir, progress=False, plots=True)
    results = json.loads((run_dir / "results.json").read_text())
    run = load_run(run_dir)
    names = list(run.class_names)
    x, y = held_out_split(cfg, run)
    with torch.no_grad():
        logits = run.model(torch.from_numpy(x)).numpy().astype(np.float64)
        acts, h = [], torch.from_numpy(x)
        for layer in run.model.net:
            h = layer(h)
            if isinstance(layer, torch.nn.Linear):
                acts.append(float(h.abs().max()))

    rows = []
    workdir = (run_dir / "export" / "sweep") if a.keep_projects else Path(tempfile.mkdtemp())
    for w, i in PRECISIONS.items():
        prec = f"ap_fixed<{w},{i}>"
        cfg_h = hls.HLSConfig(precision=prec, output_dir=str(workdir / f"ap_fixed_{w}_{i}"))
        t = time.perf_counter()
        handle = hls.convert(run.model, (x.shape[1],), cfg_h)
        compile_s = time.perf_counter() - t
        cmp = hls.compare(logits, hls.emulate(handle, x), y, names)
        est = hls.resource_estimate(run.model, (x.shape[1],), cfg_h)
        rows.append({
            "precision": prec, "width": w, "integer": i,
            "accuracy": cmp["accuracy_emulated"], "mean_auc": cmp["mean_auc_emulated"],
            "max_auc_loss": cmp["max_auc_loss"], "argmax_agreement": cmp["argmax_agreement"],
            "max_abs_diff": cmp["max_abs_diff"], "dsp_reuse1": est["dsp"],
            "compile_seconds": compile_s, "per_class": cmp["per_class"],
        })
        if not a.keep_projects:
            shutil.rmtree(workdir / f"ap_fixed_{w}_{i}", ignore_errors=True)
    float_row = {"accuracy": cmp["accuracy_float"], "mean_auc": cmp["mean_auc_float"],
                 "per_class_auc": {k: v["auc_float"] for k, v in cmp["per_class"].items()}}
    resources = []
    for r in (1, 2, 4):
        est = hls.resource_estimate(run.model, (x.shape[1],), hls.HLSConfig(reuse_factor=r))
        keys = ("mults", "mults_nonzero", "dsp", "dsp_all_weights", "latency_cycles",
                "latency_ns", "initiation_interval")
        resources.append({"reuse_factor": r, **{k: est[k] for k in keys}})
    if not a.keep_projects:
        workdir.rmdir()
    # the ap_fixed<16,6> project, for synthesis with the vendor tools
    export = hls.export_hls_run(run_dir, hls.HLSConfig())
    row16 = next(r for r in rows if r["precision"] == "ap_fixed<16,6>")
    passed = row16["max_auc_loss"] <= TARGET_AUC_LOSS

    report(results, sample, y, names, export, float_row, acts, rows, row16, passed, resources)
    print(f"HLS project for synthesis: {export['output_dir']} "
          f"(total {time.perf_counter() - t0:.0f} s)")

    out = {
        "sample": str(sample), "run_dir": str(run_dir), "n_test": int(len(y)), "class_names": names,
        "params": results["params"], "hls4ml_version": export["hls4ml_version"],
        "float": float_row, "max_abs_preactivation": acts, "sweep": rows,
        "resources": resources, "paper": hls.PAPER_FIGURES, "target_auc_loss": TARGET_AUC_LOSS,
        "target_passed": passed, "export_dir": export["output_dir"],
    }
    if a.json_out:
        path = Path(a.json_out)
        path.parent.mkdir(parents=True, exist_ok=True)
        from colliderlab.atomic import write_text

        write_text(path, json.dumps(out, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
