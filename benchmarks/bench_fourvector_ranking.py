"""Do the particle models beat the observable taggers on four-vectors alone? (issue #16, item 6)

Trains the BDT and DNN (the 17 observables ``auto`` resolves to on the toptag preset: no ``n_charged``)
and ParticleNet / ParT (the 7 kinematic features) on the same toptag-preset sample and split, then prints
each particle model's AUC gap to the best observable tagger with its paired-bootstrap spread
(:func:`colliderlab.train.heldout.ranking_gaps`) and, with ``--heldout N``, every model's AUC on an
independent public-format sample of N jets beside its test AUC (:func:`colliderlab.train.heldout.heldout_check`).

    python benchmarks/bench_fourvector_ranking.py --n-jets 40000 \\
        --models bdt,dnn,particlenet:32:20,particlenet:64:16,part:32:14 --heldout 20000
    python benchmarks/bench_fourvector_ranking.py --n-jets 100000 --seed 1 --models bdt,particlenet:32:8

A particle model is ``name:particles:epochs`` (batch 128, AdamW, lr 2e-3 (ParT 1e-3), cosine, no early
stopping); the observable taggers keep the benchmark's ``MODEL_SETUPS`` trainer settings. Figures and their
reading: BENCHMARKS.md, "Main job".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from colliderlab.features.highlevel import CHARGE_OBSERVABLES, DEFAULT_OBSERVABLES
from colliderlab.train.benchmark import MODEL_SETUPS, BenchmarkConfig, ensure_toptag_sample
from colliderlab.train.config import experiment_from_dict
from colliderlab.train.experiment import run_experiment
from colliderlab.train.heldout import ensure_public_toptag_sample, heldout_check, ranking_gaps

OBSERVABLE_MODELS = ("cut_based", "bdt", "dnn")


def _experiment(spec: str, sample: Path, n_jets: int, threads: int) -> tuple[str, dict]:
    name, *rest = spec.split(":")
    if name in OBSERVABLE_MODELS:
        trainer = dict(MODEL_SETUPS[name].get("trainer", {}))
        # what `auto` resolves to on the toptag preset, spelt out so that a sample generated before
        # presets recorded their information content gives the same inputs
        rep = {"kind": "observables", "names": [n for n in DEFAULT_OBSERVABLES if n not in CHARGE_OBSERVABLES]}
    else:
        n_particles, epochs = (int(x) for x in rest)
        rep = {"kind": "particles", "n_particles": n_particles, "features": "kinematic"}  # toptag's `auto`
        trainer = {"epochs": epochs, "batch_size": 128, "lr": 1e-3 if name == "part" else 2e-3, "patience": 0}
    d = {"name": spec, "data": {"path": str(sample), "n_jets": n_jets, "split_seed": 0},
         "representation": rep, "model": {"name": name, "preset": "lite"},
         "trainer": {"seed": 0, "num_threads": threads, "progress": False, **trainer}}
    return spec.replace(":", "-"), d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-jets", type=int, default=40000)
    ap.add_argument("--seed", type=int, default=0, help="sample seed (the benchmark's; 0 = make run's sample)")
    ap.add_argument("--models", default="bdt,dnn,particlenet:32:20,part:32:14")
    ap.add_argument("--heldout", type=int, default=0, help="jets of the independent public-format sample (0: none)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out-dir", default="runs/bench-fourvector")
    a = ap.parse_args()
    cfg = BenchmarkConfig(n_jets=a.n_jets, seed=a.seed)
    sample = ensure_toptag_sample(cfg)
    runs, rows = {}, {}
    for spec in a.models.split(","):
        key, d = _experiment(spec, sample, a.n_jets, a.threads)
        run_dir = Path(a.out_dir) / f"n{a.n_jets}-seed{a.seed}" / key
        res = (json.loads((run_dir / "results.json").read_text()) if (run_dir / "results.json").exists()
               else run_experiment(experiment_from_dict(d), run_dir, progress=False, plots=False))
        runs[key] = run_dir
        rows[key] = {"auc": res["auc"], "train_seconds": res["train_seconds"], "n_test": res["n_test"]}
        print(f"{key}: AUC {res['auc']:.4f}, {res['train_seconds']:.0f} s", flush=True)
    gaps = ranking_gaps(runs, OBSERVABLE_MODELS)
    for key, g in gaps.items():
        print(f"{key} - {g['reference']}: {g['diff']:+.4f} +- {g['std']:.4f}")
    out = {"rows": rows, "gaps": gaps}
    if a.heldout:
        path = ensure_public_toptag_sample(a.heldout, cfg.data_dir, seed=a.seed, workers=a.threads)
        out["heldout"] = {k: heldout_check(d, path) for k, d in runs.items()}
        for key, h in out["heldout"].items():
            print(f"{key}: test {h['auc_test']:.4f}, held-out {h['auc_heldout']:.4f}, "
                  f"{h['delta']:+.4f} +- {h['delta_std']:.4f}, within: {h['within']}")
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
