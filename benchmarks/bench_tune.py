"""Issue #20: Optuna searches for better lite presets on the 40k-jet top-tagging sample.

For each model, one search (``colliderlab.train.tune.run_study``) over the space in
``benchmarks/tune/<model>_space.yaml`` starting from ``benchmarks/tune/<model>.yaml`` (the
``colliderlab benchmark toptag`` lite setting), tuned on validation AUC; the best setting is
retrained with 3 seeds and its test AUC (mean, spread) and train seconds are compared with the
lite setting's (also 3 seeds, trained here unless already on disk).

    python benchmarks/bench_tune.py --models efn,lstm,cnn --trials 24,16,12 [--out runs/tune-lite]

Prints one markdown row per model; the summaries are in OUT/<model>/summary.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent / "tune"


def lite_reference(model: str, out: Path, seeds: int) -> dict:
    """Test AUCs and train seconds of the unsearched lite setting, ``seeds`` trainings."""
    from colliderlab.train.tune import train_final

    exp = json.loads(json.dumps(_experiment(model).to_dict()))
    rows = [train_final(exp, str(out / "lite" / f"seed{k}"), k) for k in range(seeds)]
    return {"auc": [r["auc"] for r in rows], "train_seconds": [r["train_seconds"] for r in rows]}


def _experiment(model: str):
    from colliderlab.train.config import load_experiment

    return load_experiment(HERE / f"{model}.yaml")


def search(model: str, trials: int, out: Path, seeds: int, workers: int, variant: str = "") -> dict:
    from colliderlab.cluster import ClusterConfig
    from colliderlab.train.tune import TuneConfig, run_study
    from colliderlab.train.tune_space import load_space

    suffix = f"_{variant}" if variant else ""
    space = load_space(str(HERE / f"{model}_space{suffix}.yaml")).to_dict()
    cfg = TuneConfig(experiment=_experiment(model).to_dict(), space=space, n_trials=trials,
                     out_dir=str(out / f"search{suffix.replace('_', '-')}"), final_seeds=seeds)
    return run_study(cfg, ClusterConfig(workers=workers, dashboard=False))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="efn,lstm,cnn")
    p.add_argument("--trials", default="24,16,12", help="trials per model (one number, or one per model)")
    p.add_argument("--seeds", type=int, default=3, help="retrainings of the best setting")
    p.add_argument("--lite-seeds", type=int, default=3, help="trainings of the lite setting (for its AUC and time)")
    p.add_argument("--workers", type=int, default=1, help="parallel trials (Dask workers); 1: in this process")
    p.add_argument("--out", default="runs/tune-lite")
    p.add_argument("--variant", default="", help="a second space: benchmarks/tune/<model>_space_<variant>.yaml, "
                   "searched in OUT/<model>/search-<variant>")
    a = p.parse_args()
    models = a.models.split(",")
    trials = [int(t) for t in a.trials.split(",")]
    trials = trials * len(models) if len(trials) == 1 else trials
    print("| model | trials (complete/pruned) | search CPU min | best val AUC | test AUC tuned (3 seeds) | "
          "test AUC lite (3 seeds) | train s tuned / lite | best setting |")
    print("|---|---|---|---|---|---|---|---|")
    for model, n in zip(models, trials, strict=True):
        out = Path(a.out) / model
        lite = lite_reference(model, out, a.lite_seeds)
        s = search(model, n, out, a.seeds, a.workers, a.variant)
        tuned_t = np.mean([f["train_seconds"] for f in s["final"]])
        st = s["states"]
        row = (f"| {model} | {s['n_trials']} ({st.get('COMPLETE', 0)}/{st.get('PRUNED', 0)}) | "
               f"{s['search_cpu_minutes']:.1f} | {s['best_val_auc']:.4f} | "
               f"{s['test_auc_mean']:.4f} ± {s['test_auc_std']:.4f} | "
               f"{np.mean(lite['auc']):.4f} ± {np.std(lite['auc'], ddof=min(1, len(lite['auc']) - 1)):.4f} | "
               f"{tuned_t:.0f} / {np.mean(lite['train_seconds']):.0f} | {s['best_params']} |")
        print(row, flush=True)
        (out / f"row{'-' + a.variant if a.variant else ''}.md").write_text(row + "\n")
        (out / "lite.json").write_text(json.dumps(lite))


if __name__ == "__main__":
    main()
