"""Jet autoencoders trained on QCD only, with top and W jets as the anomalies (issue #6).

After Heimel et al. (arXiv:1808.08992) and Farina et al. (arXiv:1808.08979). Pythia jets with
the ``toptag`` preset kinematics (14 TeV, anti-kT R=0.8, pT 550-650 GeV, |eta| < 2, no MPI,
ATLAS-like detector): ``--n-qcd`` QCD jets (the first ``--n-train`` train, the next ``--n-val``
validate, the rest are the QCD test jets) and ``--n-signal`` top and W jets each (all test),
generated once into ``data/`` and reused. Each autoencoder (``jet_image_ae`` on 40x40 pT images,
``particle_cloud_ae`` on the ``--n-particles`` hardest constituents) trains on QCD alone through
the project's trainer (early stopping on the QCD validation loss) and scores the test jets by
reconstruction error.

Reported per model and anomaly: AUC, background rejection 1/eps_B at 30% and 50% signal
efficiency, the AUC of the jet mass alone (reference), and on QCD the Pearson and Spearman
correlation of the score with the jet mass (mass sculpting). Writes JSON (``--json-out``), a
markdown table (``OUT_DIR/table.md``, printed too), ROC curves and a mass-sculpting figure per
model under ``--out-dir``.

    nice -n 5 python benchmarks/bench_jet_anomaly.py [--n-qcd 27000] [--n-signal 5000] \\
        [--models jet_image_ae:lite,particle_cloud_ae:lite] [--epochs 30] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPRESENTATIONS = {"jet_image_ae": ("image", {"size": 40}), "particle_cloud_ae": ("particles", {})}


def _jets(a: argparse.Namespace):
    from colliderlab.data.generate import generate_dataset
    from colliderlab.data.h5 import read_h5
    from colliderlab.physics.processes import GenConfig, get_preset

    base = GenConfig(**get_preset("toptag").overrides)
    files = {
        "qcd": (("qcd",), 31, a.n_qcd, Path("data") / f"jetae_toptag_qcd_n{a.n_qcd}_seed31.h5"),
        "signal": (("top", "w"), 32, a.n_signal, Path("data") / f"jetae_toptag_top_w_n{a.n_signal}_seed32.h5"),
    }
    out = {}
    for key, (procs, seed, n, path) in files.items():
        if not path.exists():
            t0 = time.perf_counter()
            rep = generate_dataset(procs, replace(base, seed=seed), n, path, workers=a.workers, progress=False)
            print(rep.summary(), f"({time.perf_counter() - t0:.0f} s)", flush=True)
        out[key] = read_h5(path)
    return out["qcd"], out["signal"]


def _table(results: dict) -> str:
    lines = [
        "| model | params | anomaly | AUC | 1/eB @ eS=0.3 | 1/eB @ eS=0.5 | mass-only AUC | QCD score-mass Pearson | Spearman | epochs | train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, r in results.items():
        corr = r["metrics"]["mass_correlation"]
        for sig, row in r["metrics"]["signals"].items():
            lines.append(
                f"| {label} | {r['params']:,} | {sig} | {row['auc']:.3f} | {row['rejection@0.3']:.1f} | "
                f"{row['rejection@0.5']:.1f} | {row['mass_auc']:.3f} | {corr['pearson']:.2f} | {corr['spearman']:.2f} | "
                f"{r['epochs']} | {r['train_seconds']:.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-qcd", type=int, default=27000)
    ap.add_argument("--n-train", type=int, default=20000)
    ap.add_argument("--n-val", type=int, default=2000)
    ap.add_argument("--n-signal", type=int, default=5000)
    ap.add_argument("--n-particles", type=int, default=32, help="constituents seen by particle_cloud_ae")
    ap.add_argument("--models", default="jet_image_ae:lite,particle_cloud_ae:lite", help="comma list NAME:PRESET")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", default="runs/bench-jet-anomaly")
    ap.add_argument("--json-out", default="runs/bench_jet_anomaly.json")
    a = ap.parse_args()
    if a.n_train + a.n_val >= a.n_qcd:
        ap.error(f"--n-train + --n-val ({a.n_train + a.n_val}) must leave QCD test jets out of --n-qcd {a.n_qcd}")

    import numpy as np
    import torch

    from colliderlab.anomaly.jet_ae_train import plot_mass_sculpting, train_jet_anomaly
    from colliderlab.features.representations import representation_config
    from colliderlab.metrics import roc_curve
    from colliderlab.models.registry import count_params, create_model
    from colliderlab.plots import plot_roc
    from colliderlab.train.trainer import TrainerConfig

    torch.set_num_threads(1)
    qcd, signal = _jets(a)
    train, val, qcd_test = qcd[: a.n_train], qcd[a.n_train : a.n_train + a.n_val], qcd[a.n_train + a.n_val :]
    tests = {"qcd": qcd_test}
    for k, name in enumerate(signal.label_names):
        tests[name] = signal[signal.label == k]
    print("jets:", {"train": len(train), "val": len(val), **{k: len(v) for k, v in tests.items()}}, flush=True)

    out_dir = Path(a.out_dir)
    results: dict = {}
    for item in a.models.split(","):
        name, _, preset = item.partition(":")
        preset = preset or "lite"
        if name not in REPRESENTATIONS:
            ap.error(f"unknown model {name!r}; valid: {', '.join(REPRESENTATIONS)}")
        kind, opts = REPRESENTATIONS[name]
        if kind == "particles":
            opts = {**opts, "n_particles": a.n_particles}
        rep = representation_config(kind, **opts)
        rep_train = rep.resolve(train) if hasattr(rep, "resolve") else rep
        dims = rep_train.dims(rep_train.compute(train[:8]))
        extra = {"n_out": a.n_particles} if kind == "particles" else {}
        torch.manual_seed(a.seed)
        model = create_model(name, preset, **dims, **extra)
        label = f"{name} ({preset})"
        cfg = TrainerConfig(epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, patience=a.patience, progress=False,
                            seed=a.seed, schedule="cosine")
        run_dir = out_dir / f"{name}-{preset}"
        print(f"training {label}: {count_params(model):,} parameters", flush=True)
        t0 = time.perf_counter()
        res = train_jet_anomaly(model, rep, train, tests, cfg, val=val, run_dir=run_dir)
        print(f"  {label}: {time.perf_counter() - t0:.0f} s, metrics {json.dumps(res.metrics)}", flush=True)
        results[label] = {"model": name, "preset": preset, "representation": {"kind": kind, **opts},
                          "params": count_params(model), "epochs": len(res.history),
                          "train_seconds": res.train_seconds, "metrics": res.metrics,
                          "history": res.history}
        curves = {}
        for sig in tests:
            if sig == "qcd":
                continue
            s = np.r_[res.scores[sig], res.scores["qcd"]]
            y = np.r_[np.ones(len(res.scores[sig])), np.zeros(len(res.scores["qcd"]))]
            es, eb, _ = roc_curve(s, y)
            curves[f"{sig}: {label}"] = (es, eb)
            m = np.r_[res.masses[sig], res.masses["qcd"]]
            es, eb, _ = roc_curve(m, y)
            curves[f"{sig}: jet mass"] = (es, eb)
        plot_roc(curves, run_dir / "roc.png", title=f"{label} trained on QCD")
        plot_mass_sculpting(res.scores["qcd"], res.masses["qcd"], run_dir / "mass_sculpting.png",
                            title=f"{label}, QCD test jets")
        np.savez_compressed(run_dir / "scores.npz", **{f"score_{k}": v for k, v in res.scores.items()},
                            **{f"mass_{k}": v for k, v in res.masses.items()})
        # written after every model, so a killed run keeps what it finished
        summary = {"jets": {"train": len(train), "val": len(val), **{k: len(v) for k, v in tests.items()}},
                   "args": vars(a), "results": results}
        Path(a.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json_out).write_text(json.dumps(summary, indent=1, default=float))
    table = _table(results)
    (out_dir / "table.md").write_text(table + "\n")
    print(table, flush=True)


if __name__ == "__main__":
    main()
