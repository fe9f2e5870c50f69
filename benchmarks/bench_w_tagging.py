"""W vs QCD with recursive and message-passing networks, as in Henrion et al.'s table.

Henrion, Brehmer, Bruna, Cho, Cranmer, Louppe, Rochette, "Neural Message Passing for Jet Physics"
(DLPS 2017) compare the RecNN of Louppe et al. (arXiv:1702.00748) on kT trees with MPNNs of 1-3
iterations on W (pT 250-300 GeV) vs QCD jets: RecNN-kT AUC 0.9185, MPNN (2 iterations) 0.9223,
background rejection at 50% signal efficiency about 68-98 on their data. This benchmark trains the
same variants on a Pythia 8 sample of our own (13 TeV, anti-kT R = 1.0, 250 < pT < 300 GeV,
ATLAS-like card, no MPI) through the normal experiment machinery, K trainings each.

    python benchmarks/bench_w_tagging.py [--n-jets 8000] [--ensemble 1] [--json]

The sample is generated when missing (``data/wqcd_13tev_pt250-300_R1.0.h5``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

SAMPLE = Path("data/wqcd_13tev_pt250-300_R1.0.h5")
PUBLISHED = {"recnn_kt_simple": (0.9185, None), "mpnn_2it": (0.9223, None)}

# name -> (model, preset, options, representation)
VARIANTS = {
    "recnn_kt_simple": ("recnn", "paper", {"gated": False}, {"kind": "tree", "algorithm": "kt", "n_particles": 64}),
    "recnn_kt_gated": ("recnn", "paper", {}, {"kind": "tree", "algorithm": "kt", "n_particles": 64}),
    "recnn_cambridge_gated": ("recnn", "paper", {}, {"kind": "tree", "algorithm": "cambridge", "n_particles": 64}),
    "recnn_antikt_gated": ("recnn", "paper", {}, {"kind": "tree", "algorithm": "antikt", "n_particles": 64}),
    "mpnn_1it": ("mpnn", "paper", {"iterations": 1}, {"kind": "particles", "n_particles": 48}),
    "mpnn_2it": ("mpnn", "paper", {"iterations": 2}, {"kind": "particles", "n_particles": 48}),
    "mpnn_3it": ("mpnn", "paper", {"iterations": 3}, {"kind": "particles", "n_particles": 48}),
    "mpnn_2it_sym": ("mpnn", "paper", {"iterations": 2, "symmetric": True}, {"kind": "particles", "n_particles": 48}),
}


def ensure_sample(n_per_class: int) -> Path:
    if not SAMPLE.exists():
        cmd = [
            sys.executable, "-m", "colliderlab.cli", "generate", "w,qcd", "--n-jets", str(n_per_class),
            "--out", str(SAMPLE), "--sqrt-s", "13000", "--jet-r", "1.0", "--pt-min", "250", "--pt-max", "300",
            "--eta-max", "2.5", "--no-mpi", "--detector", "atlas-like", "--n-particles", "100", "--workers", "2",
        ]
        subprocess.run(cmd, check=True)
    return SAMPLE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-jets", type=int, default=8000, help="jets per class when generating")
    ap.add_argument("--ensemble", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out-dir", default="runs/bench-w-tagging")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    from colliderlab import metrics
    from colliderlab.train.benchmark import run_ensemble
    from colliderlab.train.experiment import (
        DataConfig,
        ExperimentConfig,
        ModelSection,
    )
    from colliderlab.train.trainer import TrainerConfig

    sample = ensure_sample(a.n_jets)
    rows = []
    for name in a.variants.split(","):
        model, preset, options, rep = VARIANTS[name]

        def experiment(k: int, name: str = name, model: str = model, preset: str = preset,
                       options: dict = options, rep: dict = rep) -> ExperimentConfig:
            return ExperimentConfig(
                name=f"w-{name}-seed{k}",
                data=DataConfig(path=str(sample)),
                representation=rep,
                model=ModelSection(model, preset, options),
                trainer=TrainerConfig(epochs=a.epochs, batch_size=128, lr=2e-3, patience=3, seed=k, progress=False),
            )

        runs = run_ensemble(experiment, Path(a.out_dir) / name, a.ensemble, report=True)
        ens = metrics.ensemble_summary(runs, ("auc", "rejection_at_0.5"))
        rows.append({"variant": name, "auc": ens["auc"]["median"], "auc_std": ens["auc"]["std"],
                     "rejection_at_0.5": ens["rejection_at_0.5"]["median"], "params": runs[0]["params"],
                     "train_seconds": runs[0]["train_seconds"], "n_test": runs[0]["n_test"]})
    if a.json:
        print(json.dumps({"variants": rows}))
        return
    print(f"W vs QCD, {sample}, K = {a.ensemble}")
    print("| variant | AUC | 1/eB @ eS=0.5 | params | train s | published AUC (Henrion et al.) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        pub = PUBLISHED.get(r["variant"], (None, None))[0]
        print(f"| {r['variant']} | {r['auc']:.4f} ({r['auc_std']:.4f}) | {r['rejection_at_0.5']:.1f} | "
              f"{r['params']:,} | {r['train_seconds']:.0f} | {pub if pub else '-'} |")


if __name__ == "__main__":
    main()
