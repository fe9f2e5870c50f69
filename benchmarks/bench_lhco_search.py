"""Weakly supervised dijet resonance search (issue #6): peak SIC of the supervised classifier, the
idealised anomaly detector, CATHODE, CWoLa hunting and ANODE, median of 5 runs, against the amount
of injected signal.

    python benchmarks/bench_lhco_search.py [--background data/lhco_qcd_n300000_seed2020.h5]
        [--signal data/lhco_wprime_n30000_seed2022.h5] [--independent data/lhco_qcd_n300000_seed2021.h5[,MORE.h5]]
        [--sweep 0.5,2,4] [--runs 5] [--out-dir runs/bench-lhco]

The main point keeps the LHC Olympics S/sqrt(B) = 2.09 in the signal region; ``--sweep`` lists
multiples of it. The flows are trained once per point and shared by its runs (``--retrain-flows``
retrains them in every run of the main point); classifiers are retrained in every run. Writes OUT_DIR/results.{json,md} and the figures; prints the table.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--background", default="data/lhco_qcd_n300000_seed2020.h5")
    ap.add_argument("--signal", default="data/lhco_wprime_n30000_seed2022.h5")
    ap.add_argument("--independent", default="data/lhco_qcd_n300000_seed2021.h5",
                    help="independent QCD file(s), comma list; 'split:F' takes the last fraction F of --background")
    ap.add_argument("--sweep", default="0.5,2,4", help="multiples of the LHCO point ('' for none)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--flow-epochs", type=int, default=40)
    ap.add_argument("--retrain-flows", action="store_true",
                    help="retrain the flows in every run of the main point (default: once per point)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", default="runs/bench-lhco")
    a = ap.parse_args()

    from dataclasses import replace

    from colliderlab.anomaly.dijet_search import (
        LHCO_S_OVER_SQRT_B,
        load_samples,
        markdown_table,
        n_signal_for,
        run_dijet_search,
    )
    from colliderlab.anomaly.weak import METHODS, SearchConfig

    if a.independent.startswith("split:"):  # preliminary runs before the independent sample exists
        import numpy as np

        bkg, sig, _ = load_samples(a.background, a.signal, a.background)
        cut = int(len(bkg) * (1.0 - float(a.independent[6:])))
        bkg, ind = bkg.take(np.arange(cut)), bkg.take(np.arange(cut, len(bkg)))
    else:
        bkg, sig, ind = load_samples(a.background, a.signal, a.independent.split(","))
    config = SearchConfig()
    config = replace(config, flow=replace(config.flow, epochs=a.flow_epochs))
    main_n = n_signal_for(bkg, sig, config, s_over_sqrt_b=LHCO_S_OVER_SQRT_B)
    print(f"background {len(bkg)}, signal pool {len(sig)}, independent {len(ind)}; LHCO point: inject {main_n}",
          flush=True)
    res = run_dijet_search(bkg, sig, ind, os.path.join(a.out_dir, "main"), config=config, runs=a.runs,
                           seed=a.seed, retrain_flows=a.retrain_flows, log=lambda s: print(s, flush=True))
    summary = list(res["summary"])
    if a.sweep:
        ns = [int(round(float(k) * main_n)) for k in a.sweep.split(",")]
        sw = run_dijet_search(bkg, sig, ind, os.path.join(a.out_dir, "sweep"), config=config, n_signals=ns,
                              runs=a.runs, seed=a.seed + 1, retrain_flows=False, log=lambda s: print(s, flush=True))
        summary = sorted(summary + list(sw["summary"]), key=lambda r: r["n_signal"])
    print(markdown_table(summary, METHODS))


if __name__ == "__main__":
    main()
