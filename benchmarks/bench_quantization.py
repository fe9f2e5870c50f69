"""Accuracy and AUC against fixed-point bit width: post-training quantisation of trained taggers,
and quantisation-aware training of the dense tagger at the same formats.

PTQ: trained runs (default: seed 0 of the top-tagging benchmark's dnn, pfn, cnn and particlenet
in ``runs/benchmark-toptag``) are quantised at ``ap_fixed<W, I>`` for each W (weights, biases,
layer outputs and inputs; I per tensor from the calibrated range, see
``colliderlab.export.quantize.calibrate``) and scored on an independent toptag sample.
QAT: the ``dnn`` (18 observables) is trained with ``quantization: {weights: ap_fixed<W,2>,
activations: ap_fixed<W,W//2+1>}`` and compared with PTQ of the float dnn at the same formats.

    python benchmarks/bench_quantization.py [--runs runs/benchmark-toptag] [--eval FILE]
        [--widths 4,6,8,10,12,14,16] [--qat-widths 4,6,8] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _eval_inputs(run, path: str):
    import torch

    from colliderlab.features.build import build_dataset

    ds, _ = build_dataset(path, run.representation, cache_dir=Path(path).parent / ".cache")
    arrays = run.standardizer.apply(ds.arrays)
    labels = run.map_labels(ds)
    return [torch.from_numpy(arrays[k]) for k in run.model.input_names], labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="runs/benchmark-toptag")
    ap.add_argument("--models", default="dnn,pfn,cnn,particlenet")
    ap.add_argument("--eval", default="data/toptag_atlas-like_nompi_n5000_seed0.h5")
    ap.add_argument("--widths", default="4,6,8,10,12,14,16")
    ap.add_argument("--qat-widths", default="4,6,8")
    ap.add_argument("--out-dir", default="runs/bench-quantization")
    ap.add_argument("--json-out")
    a = ap.parse_args()

    import torch

    from colliderlab.export.quantize import FixedPoint, ptq_sweep, quantize_model
    from colliderlab.train.experiment import experiment_from_dict, load_run, run_experiment

    torch.set_num_threads(2)
    widths = [int(w) for w in a.widths.split(",")]
    result: dict = {"eval": a.eval, "ptq": {}, "qat": []}
    for name in a.models.split(","):
        run_dir = Path(a.runs) / name / "seed0"
        if not (run_dir / "checkpoint_best.json").exists():
            print(f"# skip {name}: no trained run in {run_dir}")
            continue
        run = load_run(run_dir)
        inputs, labels = _eval_inputs(run, a.eval)
        rows = ptq_sweep(run.model, inputs, labels, widths)
        result["ptq"][name] = rows
        print(f"# {name} done", flush=True)

    # QAT of the dense tagger vs PTQ of the float one at the same formats
    float_run = Path(a.runs) / "dnn" / "seed0"
    cfg = json.loads(json.dumps(__import__("yaml").safe_load((float_run / "config.yaml").read_text())))
    base = load_run(float_run)
    inputs, labels = _eval_inputs(base, a.eval)
    from colliderlab.train.runs import score_metrics

    def score(model):
        with torch.no_grad():
            p = torch.softmax(model(*inputs), 1).numpy()
        m = score_metrics(p, labels, ["qcd", "top"])
        return {"accuracy": m["accuracy"], "auc": m["auc"]}

    for w in [int(x) for x in a.qat_widths.split(",") if x]:
        fmts = {"weights": f"ap_fixed<{w},2>", "activations": f"ap_fixed<{w},{w // 2 + 1}>"}
        d = {**cfg, "name": f"qat-{w}", "quantization": fmts}
        d["trainer"] = {**d["trainer"], "progress": False}
        qrun = Path(a.out_dir) / f"dnn-qat-w{w}"
        run_experiment(experiment_from_dict(d), qrun, progress=False, plots=False)
        qat = score(load_run(qrun).model)
        ptq_model = quantize_model(base.model, FixedPoint.parse(fmts["weights"]), FixedPoint.parse(fmts["activations"]))
        ptq = score(ptq_model)
        result["qat"].append({"width": w, **fmts, "qat_accuracy": qat["accuracy"], "qat_auc": qat["auc"],
                              "ptq_accuracy": ptq["accuracy"], "ptq_auc": ptq["auc"]})
        print(f"# qat {w} done", flush=True)
    result["float_dnn"] = score(base.model)

    if a.json_out:
        from colliderlab.atomic import write_text

        write_text(a.json_out, json.dumps(result, indent=2, default=float))
    print(f"PTQ, AUC (accuracy) on {a.eval}; ap_fixed<W, I> with I per tensor from the calibrated range")
    print("| model | float | " + " | ".join(f"W={w}" for w in widths) + " |")
    print("|---|---|" + "---|" * len(widths))
    for name, rows in result["ptq"].items():
        cells = [f"{r['auc']:.4f} ({r['accuracy']:.3f})" for r in rows]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    print(f"QAT vs PTQ, dnn on 18 observables (float AUC {result['float_dnn']['auc']:.4f})")
    print("| W | weights | activations | QAT AUC (acc) | PTQ AUC (acc) |")
    print("|---|---|---|---|---|")
    for r in result["qat"]:
        print(f"| {r['width']} | {r['weights']} | {r['activations']} | {r['qat_auc']:.4f} ({r['qat_accuracy']:.3f}) | "
              f"{r['ptq_auc']:.4f} ({r['ptq_accuracy']:.3f}) |")


if __name__ == "__main__":
    main()
