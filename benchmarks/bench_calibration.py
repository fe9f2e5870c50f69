"""Per-jet uncertainty and calibration of a top tagger (issue #19): the ECE before and after
temperature scaling (arXiv:1706.04599), with bootstrap errors, on the nominal shower and on Vincia,
and what a deep ensemble (arXiv:1612.01474) and MC dropout (arXiv:1506.02142) add.

    python benchmarks/bench_calibration.py [--runs runs/decor] [--k 5]

The taggers are ``bench_decorrelation.py``'s plain PFN (dropout 0.1, ``calibration: temperature``:
the temperature fitted on its validation split) and K - 1 more of the same experiment with other
seeds (trained here into RUNS/ensemble/seedN when missing). Evaluation on independent samples of one
seed, the nominal shower and Vincia (``bench_stats_systematics.py``'s, 20k jets each, half top).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_decorrelation import experiment, stream_logits  # noqa: E402


def _ece(p: np.ndarray, y: np.ndarray) -> str:
    from colliderlab.calibration import bootstrap_ece

    b = bootstrap_ece(p, y, n_boot=200)
    return f"{b['ece']:.4f} ± {b['std']:.4f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="runs/decor")
    ap.add_argument("--train", default="data/decor/toptag_n60000_seed19.h5")
    ap.add_argument("--nominal", default="data/variations/toptag_nominal_n10000_seed777.h5")
    ap.add_argument("--vincia", default="data/variations/toptag_vincia_n10000_seed777.h5")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--mc-samples", type=int, default=20)
    args = ap.parse_args()
    import torch

    from colliderlab.calibration import apply_temperature, load_calibration, reliability
    from colliderlab.metrics import auc
    from colliderlab.plots import plot_reliability
    from colliderlab.train.experiment import experiment_from_dict, run_experiment
    from colliderlab.train.uncertainty import mc_dropout_proba

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    runs = {"seed0": Path(args.runs) / "plain"}
    for seed in range(1, args.k):
        rd = Path(args.runs) / "ensemble" / f"seed{seed}"
        if not (rd / "results.json").exists():
            run_experiment(experiment_from_dict(experiment(Path(args.train), f"plain-seed{seed}", {}, args.epochs,
                                                           seed)), rd, progress=False)
        runs[f"seed{seed}"] = rd
    print(f"stage: {len(runs)} ensemble members ready ({time.perf_counter() - t0:.0f} s)", flush=True)
    t_ens = ensemble_temperature(runs, Path(args.train))
    print(f"stage: ensemble temperature {t_ens:.4f} on the shared validation split ({time.perf_counter() - t0:.0f} s)",
          flush=True)
    out: dict[str, dict] = {}
    lines = []
    for sample, path in (("nominal", args.nominal), ("vincia", args.vincia)):
        import h5py

        with h5py.File(path) as f:
            names = [str(n) for n in json.loads(f.attrs["label_names"])]
            y = (f["label"][:] == names.index("top")).astype(int)
        logits = stream_logits(runs, Path(path))
        raw = {k: apply_temperature(v, 1.0)[:, 1] for k, v in logits.items()}
        cal = {k: apply_temperature(v, load_calibration(runs[k]) or 1.0)[:, 1] for k, v in logits.items()}
        ens_raw, ens_cal = np.mean(list(raw.values()), 0), np.mean(list(cal.values()), 0)
        ens_pair = np.stack([1 - ens_cal, ens_cal], 1)
        ens_recal = apply_temperature(np.log(np.clip(ens_pair, 1e-300, None)), t_ens)[:, 1]
        t1 = time.perf_counter()
        mc_mean, mc_std, _ = mc_dropout_proba(runs["seed0"], path, n_samples=args.mc_samples)
        mc_s = time.perf_counter() - t1
        ens_std = np.std(list(cal.values()), 0, ddof=1)
        err = np.abs(ens_cal - y)
        out[sample] = {
            "single_auc": auc(cal["seed0"], y), "ensemble_auc": auc(ens_cal, y), "mc_dropout_auc": auc(mc_mean[:, 1], y),
            "member_aucs": [auc(v, y) for v in cal.values()],
            "ensemble_std_mean": float(ens_std.mean()), "mc_dropout_std_mean": float(mc_std[:, 1].mean()),
            "ensemble_std_vs_error_spearman": float(_spearman(ens_std, err)),
            "mc_dropout_seconds": mc_s, "n_jets": int(len(y)),
        }
        out[sample]["ensemble_recalibrated_auc"] = auc(ens_recal, y)
        for name, before, after in (("single", raw["seed0"], cal["seed0"]), ("ensemble", ens_raw, ens_cal),
                                    ("ensemble_recalibrated", ens_cal, ens_recal),
                                    ("mc_dropout", None, mc_mean[:, 1])):
            b = _ece(before, y) if before is not None else "—"
            a = _ece(after, y)
            out[sample][f"{name}_ece"] = {"before": b, "after": a}
            lines.append(f"| {sample} | {name} | {out[sample][f'{name}_auc']:.4f} | {b} | {a} |")
        plot_reliability({"T = 1": reliability(raw["seed0"], y), "temperature-scaled": reliability(cal["seed0"], y),
                          f"ensemble of {len(runs)}": reliability(ens_cal, y)},
                         Path(args.runs) / f"reliability_{sample}.png", title=f"top tagger, {sample} shower")
        print(f"stage: {sample} scored ({time.perf_counter() - t0:.0f} s)", flush=True)
    print("| sample | tagger | AUC | ECE before scaling | ECE after |")
    print("|---|---|---|---|---|")
    print("\n".join(lines))
    print(json.dumps(out, indent=1))
    (Path(args.runs) / "calibration.json").write_text(json.dumps(out, indent=1))


def ensemble_temperature(runs: dict[str, Path], train: Path) -> float:
    """A temperature for the ensemble as a whole (the mean of its members' calibrated probabilities,
    taken as the logits' softmax), fitted on the members' shared validation split of ``train``."""
    import h5py

    from colliderlab.calibration import apply_temperature, fit_temperature, load_calibration
    from colliderlab.data.dataset import split_indices

    with h5py.File(train) as f:
        names = [str(n) for n in json.loads(f.attrs["label_names"])]
        y = (f["label"][:] == names.index("top")).astype(int)
    _, va, _ = split_indices(len(y), 0.15, 0.15, 0)
    logits = stream_logits(runs, train)
    mean = np.mean([apply_temperature(v[va], load_calibration(runs[k]) or 1.0) for k, v in logits.items()], 0)
    return fit_temperature(np.log(np.clip(mean, 1e-300, None)), y[va])


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


if __name__ == "__main__":
    main()
