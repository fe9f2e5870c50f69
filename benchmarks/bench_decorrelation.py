"""Mass decorrelation of a top tagger (issue #19): DisCo (arXiv:2001.05310) and adversarial
(arXiv:1611.01046, 1703.03507) PFNs and the DDT (arXiv:1603.00027) of tau32, on top vs QCD in the wide
mass window 50-300 GeV, at eS = 0.5, on >= 200k streamed background test jets.

    python benchmarks/bench_decorrelation.py [--train data/decor/toptag_n60000_seed19.h5]
        [--background data/decor/qcd_n280000_seed20.h5] [--out runs/decor] [--epochs 15]

Samples (toptag settings: 14 TeV, no MPI, atlas-like detector, anti-kT 0.8, pT 550-650 GeV)::

    colliderlab generate --preset toptag --n-jets 60000 --seed 19 --n-particles 128 \\
        --out data/decor/toptag_n60000_seed19.h5
    colliderlab generate qcd --sqrt-s 14000 --no-mpi --detector atlas-like --jet-r 0.8 --pt-min 550 \\
        --pt-max 650 --eta-max 2 --n-particles 128 --n-jets 280000 --seed 20 --out data/decor/qcd_n280000_seed20.h5

1. Every tagger trains through an experiment file (``decorrelation:`` section, ``calibration:
   temperature``) on the first sample's split (70/15/15); runs already finished are reused.
2. Signal: the top jets of the runs' test split. Background: every jet of the second sample,
   streamed in chunks (the representation computed once per chunk for all taggers). Both in 50-300 GeV.
3. Each tagger's cut keeps eS = 0.5; rejection 1/eB and 1/JSD of the background mass spectra that pass
   and fail (:func:`colliderlab.sculpting.decorrelation_metrics`, 25 bins of 10 GeV), beside the floor: a
   random score with the same eB (:func:`colliderlab.sculpting.random_cut_floor`).

The DDT is the paper's procedure (a linear fit of the background's mean against rho' = ln(m^2/pT/mu))
applied to tau32, the N-subjettiness ratio that tags tops; the paper's tau21 tags two-prong W jets.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

WINDOW = (50.0, 300.0)
REP = {"kind": "particles", "n_particles": 64}


DISCO_LAMBDAS = (0.3, 1.0, 3.0, 5.0, 7.0, 10.0)
ADVERSARY_LAMBDAS = (0.5, 2.0, 10.0)
MIXTURE_LAMBDAS = (1.0, 5.0)


def taggers(disco: tuple[float, ...] = DISCO_LAMBDAS, adversary: tuple[float, ...] = ADVERSARY_LAMBDAS,
            mixture: tuple[float, ...] = MIXTURE_LAMBDAS) -> dict[str, dict]:
    """name -> experiment overrides."""
    out: dict[str, dict] = {"plain": {}}
    for lam in disco:
        out[f"disco_{lam:g}"] = {"decorrelation": {"method": "disco", "variable": "mass", "lambda": lam}}
    for lam in adversary:
        out[f"adversary_{lam:g}"] = {"decorrelation": {
            "method": "adversary", "variable": "mass", "lambda": lam,
            "adversary": {"mode": "bins", "n_bins": 10, "adv_steps": 3, "lr": 5e-3, "warmup_steps": 100}}}
    for lam in mixture:  # the mixture density of the mass (arXiv:1611.01046's adversary)
        out[f"mdn_{lam:g}"] = {"decorrelation": {
            "method": "adversary", "variable": "mass", "lambda": lam,
            "adversary": {"mode": "mixture", "n_components": 5, "adv_steps": 3, "lr": 5e-3, "warmup_steps": 100}}}
    return out


def experiment(train: Path, name: str, extra: dict, epochs: int, seed: int = 0, batch_size: int = 1024) -> dict:
    return {
        "name": name,
        "data": {"path": str(train), "cache_dir": None},
        "representation": REP,
        "model": {"name": "pfn", "preset": "lite", "options": {"dropout": 0.1}},
        "trainer": {"epochs": epochs, "batch_size": batch_size, "lr": 2e-3, "schedule": "cosine", "patience": 0,
                    "seed": seed, "num_threads": 2, "progress": False},
        "calibration": "temperature",
        **extra,
    }


def train_all(train: Path, out: Path, epochs: int, names: list[str] | None = None, batch_size: int = 1024,
              **grid: tuple[float, ...]) -> dict[str, Path]:
    from colliderlab.train.experiment import experiment_from_dict, run_experiment

    runs = {}
    for name, extra in taggers(**grid).items():
        if names and name not in names:
            continue
        run = out / name
        if not (run / "results.json").exists():
            t0 = time.perf_counter()
            res = run_experiment(experiment_from_dict(experiment(train, name, extra, epochs, 0, batch_size)), run,
                                 progress=False)
            print(f"{name}: trained in {time.perf_counter() - t0:.0f} s, test AUC {res['auc']:.4f}", flush=True)
        runs[name] = run
    return runs


def stream_logits(runs: dict[str, Path], path: Path, chunk: int = 20_000) -> dict[str, np.ndarray]:
    """Logits (N, C) of every run on every jet of ``path``, read in chunks, the representation computed
    once per chunk for all runs (which must share it)."""
    from colliderlab.features.build import iter_datasets
    from colliderlab.train.runs import load_run

    loaded = {k: load_run(v) for k, v in runs.items()}
    first = next(iter(loaded.values()))
    logits: dict[str, list] = {k: [] for k in loaded}
    for ds in iter_datasets(path, first.representation, chunk_size=chunk):
        for k, run in loaded.items():
            std = dataclasses.replace(ds, arrays=run.standardizer.apply(ds.arrays))
            logits[k].append(run._outputs(std, 4096))
    return {k: np.concatenate(v) for k, v in logits.items()}


def stream_scores(runs: dict[str, Path], path: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Calibrated signal probabilities of every run on every jet of ``path`` and the jets' mass."""
    from colliderlab.calibration import apply_temperature, load_calibration
    from colliderlab.train.decorrelation import variable_values

    logits = stream_logits(runs, path)
    scores = {k: apply_temperature(v, load_calibration(runs[k]) or 1.0)[:, 1] for k, v in logits.items()}
    return scores, variable_values(path, "mass")


def test_split(train: Path, runs: dict[str, Path]) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Labels, scores and mass of the runs' own test split of the training file."""
    import h5py

    from colliderlab.data.dataset import split_indices
    from colliderlab.train.decorrelation import variable_values

    with h5py.File(next(iter(runs.values())) / "test_scores.h5") as f:
        labels = f["labels"][:]
        n_test = len(labels)
    mass_all = variable_values(train, "mass")
    _, _, te = split_indices(len(mass_all), 0.15, 0.15, 0)
    assert len(te) == n_test
    scores = {}
    for k, run in runs.items():
        with h5py.File(run / "test_scores.h5") as f:
            scores[k] = f["scores"][:, 1]
    return labels, scores, mass_all[te]


def ddt_scores(train: Path, background: Path, n_train_bkg: int, var: str = "tau32") -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """DDT of ``var`` (tau32 for tops, tau21 for W) fitted on training background in the window; returns
    -var' of the training file's test split and of the background file, and the DDT slope."""
    from colliderlab.data.dataset import split_indices
    from colliderlab.data.formats import iter_jets
    from colliderlab.features.ddt import DDT
    from colliderlab.features.observables import compute_observables

    def obs(path: Path) -> dict[str, np.ndarray]:
        parts = [compute_observables(j, names=["mass", "pt", var]) for j in iter_jets(path, chunk_size=20_000)]
        return {k: np.concatenate([p[k] for p in parts]) for k in ("mass", "pt", var)}

    import h5py

    o = obs(train)
    with h5py.File(train) as f:
        label = f["label"][:]
    tr, _, te = split_indices(len(label), 0.15, 0.15, 0)
    bkg = tr[label[tr] == 0][:n_train_bkg]
    ok = bkg[(o["mass"][bkg] > WINDOW[0]) & (o["mass"][bkg] < WINDOW[1])]
    ddt = DDT.fit(o[var][ok], o["mass"][ok], o["pt"][ok], np.zeros(len(ok), bool), fit_range=(1.5, 5.0))
    b = obs(background)
    return (-ddt.transform(o[var][te], o["mass"][te], o["pt"][te]),
            -ddt.transform(b[var], b["mass"], b["pt"]), np.array([ddt.slope]))


def table(sig_scores: dict[str, np.ndarray], bkg_scores: dict[str, np.ndarray], bkg_mass: np.ndarray,
          aucs: dict[str, float]) -> dict[str, dict]:
    """Rejection and 1/JSD at eS = 0.5 per tagger (both samples inside the mass window), with the
    random-score floor at each tagger's eB."""
    from colliderlab.sculpting import decorrelation_metrics, random_cut_floor

    rows = {}
    for k, s_sig in sig_scores.items():
        s = np.concatenate([s_sig, bkg_scores[k]])
        y = np.concatenate([np.ones(len(s_sig)), np.zeros(len(bkg_scores[k]))])
        m = np.concatenate([np.full(len(s_sig), 150.0), bkg_mass])  # signal mass is not used by the metrics
        dm = decorrelation_metrics(s, y, m)
        floor = random_cut_floor(bkg_mass, dm["eff_b"], repeats=10)
        rows[k] = {"auc": aucs.get(k, float("nan")), "rejection": dm["rejection"], "inv_jsd": dm["inv_jsd"],
                   "floor": floor["inv_jsd_mean"], "floor_std": floor["inv_jsd_std"], "eff_b": dm["eff_b"],
                   "n_background": dm["n_background"]}
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", default="data/decor/toptag_n60000_seed19.h5")
    ap.add_argument("--background", default="data/decor/qcd_n280000_seed20.h5")
    ap.add_argument("--out", default="runs/decor")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=1024, help="also the jets DisCo's dCorr is estimated on")
    ap.add_argument("--only", nargs="*", help="train only these taggers")
    ap.add_argument("--ddt", default="tau32", help="the DDT's variable: tau32 (top), tau21 (W)")
    ap.add_argument("--disco-lambdas", type=float, nargs="*", default=DISCO_LAMBDAS)
    ap.add_argument("--adversary-lambdas", type=float, nargs="*", default=ADVERSARY_LAMBDAS)
    ap.add_argument("--mixture-lambdas", type=float, nargs="*", default=MIXTURE_LAMBDAS)
    args = ap.parse_args()
    import torch

    from colliderlab.metrics import auc
    from colliderlab.plots import plot_mass_sculpting
    from colliderlab.sculpting import MASS_BINS, sculpting_curves

    torch.set_num_threads(2)
    out = Path(args.out)
    t0 = time.perf_counter()
    runs = train_all(Path(args.train), out, args.epochs, args.only, args.batch_size, disco=tuple(args.disco_lambdas),
                     adversary=tuple(args.adversary_lambdas), mixture=tuple(args.mixture_lambdas))
    print(f"stage: trained {len(runs)} taggers ({time.perf_counter() - t0:.0f} s)", flush=True)
    labels, test_scores, test_mass = test_split(Path(args.train), runs)
    t1 = time.perf_counter()
    bkg_scores, bkg_mass = stream_scores(runs, Path(args.background))
    print(f"stage: scored {len(bkg_mass)} background jets with {len(runs)} taggers "
          f"({time.perf_counter() - t1:.0f} s)", flush=True)
    ddt_test, ddt_bkg, slope = ddt_scores(Path(args.train), Path(args.background), 40_000, args.ddt)
    test_scores[f"ddt_{args.ddt}"], bkg_scores[f"ddt_{args.ddt}"] = ddt_test, ddt_bkg
    in_sig = (labels == 1) & (test_mass > WINDOW[0]) & (test_mass < WINDOW[1])
    in_bkg = (bkg_mass > WINDOW[0]) & (bkg_mass < WINDOW[1])
    in_test_bkg = (labels == 0) & (test_mass > WINDOW[0]) & (test_mass < WINDOW[1])
    aucs = {k: auc(np.concatenate([v[in_sig], v[in_test_bkg]]),
                   np.concatenate([np.ones(in_sig.sum()), np.zeros(in_test_bkg.sum())])) for k, v in test_scores.items()}
    rows = table({k: v[in_sig] for k, v in test_scores.items()}, {k: v[in_bkg] for k, v in bkg_scores.items()},
                 bkg_mass[in_bkg], aucs)
    print("| tagger | AUC (window) | 1/eB at eS=0.5 | 1/JSD | random-score floor |")
    print("|---|---|---|---|---|")
    for k, r in rows.items():
        print(f"| {k} | {r['auc']:.4f} | {r['rejection']:.1f} | {r['inv_jsd']:.1f} | "
              f"{r['floor']:.0f} ± {r['floor_std']:.0f} |")
    print(f"background jets in the window: {int(in_bkg.sum())}; signal jets: {int(in_sig.sum())}; DDT slope {slope[0]:.4f}")
    out.mkdir(parents=True, exist_ok=True)
    for k in ("plain", "disco_3", "disco_10", "adversary_2", f"ddt_{args.ddt}"):
        if k in bkg_scores:
            curves = sculpting_curves(bkg_mass[in_bkg], bkg_scores[k][in_bkg], (1.0, 0.3, 0.1, 0.02))
            plot_mass_sculpting(curves, MASS_BINS, out / f"mass_sculpting_{k}.png", title=k)
    (out / "decorrelation.json").write_text(json.dumps({"rows": rows, "ddt_slope": float(slope[0]),
                                                        "n_background": int(in_bkg.sum())}, indent=1))
    print(f"wrote {out / 'decorrelation.json'} ({time.perf_counter() - t0:.0f} s in all)")


if __name__ == "__main__":
    main()
