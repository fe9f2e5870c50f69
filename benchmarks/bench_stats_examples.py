"""The README's worked examples of issue #18: a W' -> XY dijet search in m_JJ and a top-tagged jet-mass
spectrum, each from Pythia samples and a tagger to pyhf's expected significance and CLs limits.

    python benchmarks/bench_stats_examples.py [--qcd 30000] [--wprime 5000] [--lumi-dijet 100] [--lumi-top 1]

1. W': `colliderlab anomaly dijets` samples (the LHCO R&D recipe, arXiv:2101.08320: 13 TeV, W' 3.5 TeV ->
   X (500) Y (100), both -> q q; QCD with pT-hat > 1.1 TeV; leading R = 1.0 jet above 1.2 TeV), a supervised
   xgboost tagger on (mj1, delta_mj, tau21_j1, tau21_j2), templates in m_JJ
   (`colliderlab stats dijets`). The W' cross section is Pythia's for `Wprime:coup2WZ = 1`.
2. Top: the `make run` ParT tagger on its own test split, templates in the jet mass, with the generator
   variations of `bench_stats_systematics.py` as shape systematics (`colliderlab stats run
   runs/make-run/part/seed0 --variation ...`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def _dijets(kind: str, n: int, out: Path, seed: int, workers: int) -> Path:
    from colliderlab.data.dijet_io import generate_dijets
    from colliderlab.physics.dijet import DijetConfig

    if not out.exists():
        t0 = time.perf_counter()
        generate_dijets(out, kind, n, DijetConfig(seed=seed), workers=workers, progress=False)
        print(f"generated {out} in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def _line(name: str, res: dict, t: float) -> None:
    f, s, wp = res["fit"], res["fit_stat_only"], res["working_point"]
    band = " / ".join(f"{v:.3g}" for v in f["limit_expected"])
    print(f"\n## {name} ({t:.0f} s)")
    print(f"cut {wp['cut']:.4f} (validation): test eS {wp['test']['eff_s']:.3f}, eB {wp['test']['eff_b']:.2e}; "
          f"expected before the cut: {json.dumps({k: round(v, 1) for k, v in res['expected_before_cut'].items()})}")
    print(f"after the cut, in [{res['edges'][0]:.0f}, {res['edges'][-1]:.0f}] GeV ({len(res['edges']) - 1} bins): "
          f"{json.dumps({k: round(v, 1) for k, v in res['yields'].items()})}; MC stat. "
          f"{json.dumps({k: round(v, 3) for k, v in res['mc_stat_rel_error'].items()})}")
    print(f"single-bin Z_A {wp['test']['z_asimov']:.2f}; pyhf Z expected {f['z_expected']:.2f} "
          f"(without the systematics {s['z_expected']:.2f}); nuisances {res['nuisances']}")
    print(f"95% CL limit on mu, expected -2/-1/0/+1/+2 sigma: {band}; without the systematics: "
          + " / ".join(f"{v:.3g}" for v in s["limit_expected"]))
    print(f"pseudo-data at mu = {res['config']['inject_mu']:g} (seed {res['config']['seed']}): Z observed "
          f"{f['z_observed']:.2f}, limit observed {f['limit_observed']:.3g}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--qcd", type=int, default=30000)
    ap.add_argument("--wprime", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data-dir", default="data/stats")
    ap.add_argument("--lumi-dijet", type=float, default=100.0)
    ap.add_argument("--lumi-top", type=float, default=1.0)
    ap.add_argument("--top-run", default="runs/make-run/part/seed0")
    ap.add_argument("--out", default="runs/stats-examples")
    ap.add_argument("--variations", default="data/variations",
                    help="generator-variation samples (bench_stats_systematics.py) for the top fit's histosys")
    a = ap.parse_args()
    from colliderlab.stats.analysis import AnalysisConfig
    from colliderlab.stats.dijet_analysis import analyse_dijets
    from colliderlab.stats.from_runs import run_inputs
    from colliderlab.stats.plots import write_plots

    variations = sorted(p for p in Path(a.variations).glob("toptag_*_n*.h5") if "_nominal_" not in p.name)
    data, out = Path(a.data_dir), Path(a.out)
    data.mkdir(parents=True, exist_ok=True)
    qcd = _dijets("qcd", a.qcd, data / f"dijet_qcd_{a.qcd}.h5", 2020, a.workers)
    wprime = _dijets("wprime", a.wprime, data / f"dijet_wprime_{a.wprime}.h5", 2022, a.workers)
    for name, job in (
        ("wprime", lambda: analyse_dijets(wprime, qcd, config=AnalysisConfig(
            discriminant="mjj", signal="wprime", bins=10, range=(2500.0, 4500.0), lumi_fb=a.lumi_dijet))),
        ("top", lambda: run_inputs(a.top_run, variations=variations).analyse(AnalysisConfig(
            discriminant="mass", bins=6, range=(100.0, 250.0), lumi_fb=a.lumi_top, min_mc_background=100))),
    ):
        t0 = time.perf_counter()
        res = job()
        t = time.perf_counter() - t0
        (out / name).mkdir(parents=True, exist_ok=True)
        (out / name / "summary.json").write_text(json.dumps({k: v for k, v in res.items() if k != "scan"}, indent=1))
        write_plots(res, out / name, xlabel="$m_{JJ}$ [GeV]" if name == "wprime" else "jet mass [GeV]")
        _line(f"{name}: {res['config']['lumi_fb']:g} fb^-1", res, t)


if __name__ == "__main__":
    main()
