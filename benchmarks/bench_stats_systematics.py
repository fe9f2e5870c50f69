"""Generator systematics of the `make run` taggers (issue #18): eS and eB under every variation, and
the expected limit of the top-tagged mass fit with and without the systematics.

    python benchmarks/bench_stats_systematics.py [--n-jets 10000] [--runs runs/make-run] [--workers 2]

1. Samples of the `make run` set-up (toptag preset, atlas-like detector, no MPI) are generated with
   one seed for the nominal shower and for every variation (:mod:`colliderlab.physics.variations`):
   Vincia, FSR and ISR mu_R x 2 / x 0.5, Lund a and b +-0.1. Sharing the seed correlates the hard
   processes, so the shifts are less noisy than between independent samples.
2. Every tagger's cut is set at eS = 0.5 on the nominal sample; eS and eB of the same cut on every
   variation give the relative shifts (with binomial errors of the variation's counts).
3. ``colliderlab.stats.analyse_run`` of one tagger on its own test split with all variation samples as
   shape systematics gives the expected limit with and without them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

VARIATIONS = [("vincia", "nominal"), ("simple", "fsr-up"), ("simple", "fsr-down"), ("simple", "isr-up"),
              ("simple", "isr-down"), ("simple", "lund-a-up"), ("simple", "lund-a-down"),
              ("simple", "lund-b-up"), ("simple", "lund-b-down")]
MODELS = ("cut_based", "bdt", "dnn", "particlenet", "part")


def _samples(n_jets: int, out: Path, workers: int, seed: int) -> dict[str, Path]:
    from colliderlab.data.generate import generate_preset

    paths = {}
    for shower, var in [("simple", "nominal"), *VARIATIONS]:
        name = shower if var == "nominal" and shower != "simple" else var
        path = out / f"toptag_{name}_n{n_jets}_seed{seed}.h5"
        if not path.exists():
            t0 = time.perf_counter()
            generate_preset("toptag", n_jets, path, workers=workers, progress=False,
                            overrides={"detector": "atlas-like", "mpi": False, "seed": seed, "shower": shower,
                                       "variation": var})
            print(f"generated {path} in {time.perf_counter() - t0:.0f} s", flush=True)
        paths[name] = path
    return paths


def _effs(probs: np.ndarray, labels: np.ndarray, cut: float) -> tuple[float, float, int, int]:
    s, b = probs[labels == 1, 1], probs[labels == 0, 1]
    return float((s >= cut).mean()), float((b >= cut).mean()), len(s), len(b)


def shifts(runs: Path, paths: dict[str, Path]) -> dict[str, dict[str, dict[str, float]]]:
    from colliderlab.train.runs import load_run

    table: dict[str, dict[str, dict[str, float]]] = {}
    for model in MODELS:
        run_dir = runs / model / "seed0"
        if not run_dir.exists():
            continue
        run = load_run(run_dir)
        probs, labels = run.predict_proba(paths["nominal"])
        cut = float(np.quantile(probs[labels == 1, 1], 0.5))
        es0, eb0, _, nb0 = _effs(probs, labels, cut)
        row = {"nominal": {"eff_s": es0, "eff_b": eb0, "cut": cut}}
        for name, path in paths.items():
            if name == "nominal":
                continue
            p, y = run.predict_proba(path)
            es, eb, ns, nb = _effs(p, y, cut)
            row[name] = {"eff_s": es, "eff_b": eb, "shift_s": es / es0 - 1, "shift_b": eb / eb0 - 1,
                         "err_b": float(np.sqrt(eb * (1 - eb) / nb) / eb0) if eb > 0 else float("nan")}
        table[model] = row
        print(f"{model}: done", flush=True)
    return table


def _print(table: dict) -> None:
    names = [n for n in next(iter(table.values())) if n != "nominal"]
    print("\n| tagger | 1/eB nominal | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for model, row in table.items():
        cells = [f"{100 * row[n]['shift_s']:+.1f} / {100 * row[n]['shift_b']:+.0f}±{100 * row[n]['err_b']:.0f}"
                 for n in names]
        print(f"| {model} | {1 / row['nominal']['eff_b']:.0f} | " + " | ".join(cells) + " |")
    print("\ncells: relative shift of eS / eB in % at the nominal eS = 0.5 cut (± binomial error of eB)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-jets", type=int, default=10000, help="jets per class per variation")
    ap.add_argument("--runs", default="runs/make-run")
    ap.add_argument("--data-dir", default="data/variations")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--fit-model", default="part", help="the tagger of the limit with/without systematics")
    ap.add_argument("--lumi", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    ap.add_argument("--bins", type=int, default=6)
    ap.add_argument("--range", type=float, nargs=2, default=[100.0, 250.0])
    ap.add_argument("--min-mc-background", type=int, default=300)
    ap.add_argument("--skip-shifts", action="store_true", help="only the fit (the shifts are in shifts.json)")
    ap.add_argument("--out", default="runs/stats-systematics")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = _samples(a.n_jets, Path(a.data_dir), a.workers, a.seed)
    if not a.skip_shifts:
        table = shifts(Path(a.runs), paths)
        (out / "shifts.json").write_text(json.dumps(table, indent=1))
        _print(table)

    from colliderlab.stats.analysis import AnalysisConfig
    from colliderlab.stats.from_runs import run_inputs

    t0 = time.perf_counter()
    inputs = run_inputs(Path(a.runs) / a.fit_model / "seed0",
                        variations=[p for n, p in paths.items() if n != "nominal"])
    print(f"\nscored {a.fit_model} on its test split and {len(paths) - 1} variations in {time.perf_counter() - t0:.0f} s")
    fits = {}
    for lumi in a.lumi:
        cfg = AnalysisConfig(discriminant="mass", bins=a.bins, range=(a.range[0], a.range[1]), lumi_fb=lumi,
                             min_mc_background=a.min_mc_background)
        t0 = time.perf_counter()
        res = inputs.analyse(cfg)
        fits[lumi] = {k: v for k, v in res.items() if k not in ("workspace_stat_only", "scan")}
        f, s = res["fit"], res["fit_stat_only"]
        band = lambda x: " / ".join(f"{v:.3g}" for v in x)  # noqa: E731
        print(f"\n{a.fit_model}, jet mass {a.range[0]:g}-{a.range[1]:g} GeV in {a.bins} bins, {lumi:g} fb^-1: cut "
              f"{res['working_point']['cut']:.4f}, test eS {res['working_point']['test']['eff_s']:.3f} "
              f"eB {res['working_point']['test']['eff_b']:.4f} ({time.perf_counter() - t0:.0f} s)")
        print(f"  yields {json.dumps({k: round(v, 1) for k, v in res['yields'].items()})}, MC stat "
              f"{json.dumps({k: round(v, 3) for k, v in res['mc_stat_rel_error'].items()})}")
        print(f"  Z expected: {f['z_expected']:.3f} with systematics, {s['z_expected']:.3f} without "
              f"(single-bin Z_A {res['working_point']['test']['z_asimov']:.3f})")
        print(f"  95% CL limit on mu, -2..+2 sigma: with systematics {band(f['limit_expected'])}; "
              f"without {band(s['limit_expected'])}")
    (out / "fit.json").write_text(json.dumps(fits, indent=1))

if __name__ == "__main__":
    main()
