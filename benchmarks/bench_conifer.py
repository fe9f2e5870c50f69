"""The xgboost top tagger as FPGA firmware: conifer's fixed-point emulation vs xgboost.

Trains the project's BDT baseline (``BDTConfig`` defaults: up to 300 trees of depth 4, early
stopping on a validation split) on the 18 default observables of top vs QCD jets, standardised
as ``colliderlab train`` does, converts it with conifer (arXiv:2002.02534) at several
``ap_fixed<W,I>`` precisions, and compares the bit-accurate C++ emulation with xgboost's raw
margins on the test split.

    python benchmarks/bench_conifer.py [--n-jets 20000] [--precisions "ap_fixed<18,8>" ...]
                                       [--cache] [--json out.json]

Sample: the first ``--n-jets`` jets of ``data/toptag_atlas-like_nompi_n20000_seed0.h5`` when it
exists, else a small toptag sample generated into a temporary directory. ``compile s`` is the
g++ build of conifer's C++ emulation (uncached unless ``--cache``); ``emulation jets/s`` runs
conifer's compiled ``decision_function`` (one Python call per jet, as conifer does).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

SAMPLE = Path("data/toptag_atlas-like_nompi_n20000_seed0.h5")
# "IN+SCORE" sets a separate score (leaf and sum) precision; AP_RND,AP_SAT round and saturate
PRECISIONS = (
    "ap_fixed<12,4>",
    "ap_fixed<12,4>+ap_fixed<16,6>",
    "ap_fixed<16,6>",
    "ap_fixed<18,8>",
    "ap_fixed<18,8,AP_RND,AP_SAT>",
    "ap_fixed<24,10>",
)


def load_sample(n_jets: int, workdir: Path):
    from colliderlab.features.build import build_dataset
    from colliderlab.features.highlevel import DEFAULT_OBSERVABLES, ObservablesConfig

    rep = ObservablesConfig(names=DEFAULT_OBSERVABLES)
    if SAMPLE.exists():
        path, cache = SAMPLE, SAMPLE.parent / ".cache"
    else:
        from colliderlab.data.generate import generate_preset

        n_jets = min(n_jets, 2000)
        path, cache = workdir / "toptag.h5", None
        print(f"{SAMPLE} not found: generating {n_jets} toptag jets into {path}", file=sys.stderr)
        generate_preset("toptag", n_jets // 2, path, workers=1, progress=False)
    ds, rep = build_dataset(path, rep, stop=n_jets, cache_dir=cache)
    return ds, rep, path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-jets", type=int, default=20000)
    ap.add_argument("--precisions", nargs="+", default=list(PRECISIONS),
                    help="ap_fixed<W,I> types; INPUT+SCORE for a separate score precision")
    ap.add_argument("--cache", action="store_true", help="reuse cached C++ builds")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    from colliderlab.data.dataset import Standardizer, split_indices
    from colliderlab.export.bdt import ConiferConfig, bdt_parity, bdt_resources, convert_bdt
    from colliderlab.models.bdt import BDTClassifier, BDTConfig

    work = Path(tempfile.mkdtemp(prefix="bench-conifer-"))
    ds, rep, path = load_sample(args.n_jets, work)
    tr, va, te = split_indices(len(ds), 0.15, 0.15, 0)
    std = Standardizer.fit(ds.subset(tr).arrays, rep.standardize)
    x = std.apply(ds.arrays)["x"]
    y = ds.labels.astype(int)
    bdt = BDTClassifier(BDTConfig(), rep.feature_names())
    t0 = time.perf_counter()
    bdt.fit(x[tr], y[tr], x[va], y[va])
    train_s = time.perf_counter() - t0
    x_te, y_te = x[te], y[te]
    t0 = time.perf_counter()
    bdt._model.predict(x_te, output_margin=True)
    xgb_rate = len(x_te) / (time.perf_counter() - t0)

    rows = []
    for prec in args.precisions:
        tag = "".join(c if c.isalnum() else "_" for c in prec)
        inp, _, score = prec.partition("+")
        cfg = ConiferConfig(precision=inp, score_precision=score or None,
                            output_dir=str(work / tag), cache_builds=args.cache)
        handle = convert_bdt(bdt, cfg)
        par = bdt_parity(bdt, handle, x_te, y_te)
        res = bdt_resources(handle)
        rows.append({"precision": prec, "compile_seconds": handle.compile_seconds,
                     "build_cached": handle.build_cached, "parity": par, "resources": res,
                     "base_score": handle.base_score, "splits": handle.splits})

    res = rows[0]["resources"]
    est = res.get("conifer_estimates", {}).get("xilinxhls", {})
    print(f"\nconifer BDT emulation vs xgboost margins: {path.name}, {len(ds)} jets "
          f"({len(tr)} train / {len(va)} val / {len(te)} test), {len(rep.feature_names())} "
          f"standardised observables; BDT {res['n_trees']} trees (early stopping, "
          f"{bdt.config.n_estimators} max) depth <= {res['max_depth']}, {res['n_nodes']} nodes, "
          f"{res['comparisons_per_inference']} comparators per inference; trained in "
          f"{train_s:.1f} s; xgboost {xgb_rate:,.0f} jets/s (batch of {len(te)})")
    if est:
        print(f"conifer's own HLS estimate (experimental, no synthesis): latency "
              f"{est.get('latency')} clocks, {est.get('lut')} LUT, {est.get('ff')} FF")
    print()
    print("| precision | max abs diff | mean abs diff | decision agreement | AUC xgboost | "
          "AUC conifer | inputs / scores out of range | trees / nodes | compile s | "
          "emulation jets/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        p, rs = r["parity"], r["resources"]
        print(f"| `{r['precision']}` | {p['max_abs_diff']:.3g} | {p['mean_abs_diff']:.3g} | "
              f"{p['decision_agreement']:.4f} | {p['auc_xgboost']:.4f} | {p['auc_conifer']:.4f} | "
              f"{p['input_out_of_range_fraction']:.2%} / {p['score_out_of_range_fraction']:.2%} | "
              f"{rs['n_trees']} / {rs['n_nodes']} | "
              f"{r['compile_seconds']:.1f}{' (cached)' if r['build_cached'] else ''} | "
              f"{p['emulation_jets_per_second']:,.0f} |")
    if args.json:
        meta = {"sample": str(path), "n_jets": len(ds), "n_test": len(te), "train_seconds": train_s,
                "xgboost_jets_per_second": xgb_rate, "bdt_config": dataclasses.asdict(bdt.config)}
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2, default=float))


if __name__ == "__main__":
    main()
