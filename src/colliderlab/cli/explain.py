"""``colliderlab explain``: SHAP values, attributions, attention maps and filters of a trained run
(:mod:`colliderlab.explain`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["COMMANDS", "add_explain"]


def add_explain(sub: Any) -> None:
    """``colliderlab explain RUN_DIR --data FILE [--n-jets N] [--out DIR]``."""
    p = sub.add_parser("explain", help="what a trained run looks at: SHAP values, integrated gradients, saliency, "
                       "attention maps, EFN filters, and the three-prong check of a top tagger")
    p.add_argument("run_dir")
    p.add_argument("--data", required=True, help="jet file (any format colliderlab reads); labelled for per-class maps")
    p.add_argument("--n-jets", type=int, default=1000, help="jets explained (the first of the file)")
    p.add_argument("--out", help="output directory (default RUN_DIR/explain-<file>)")
    p.add_argument("--steps", type=int, default=32, help="integrated-gradients steps")
    p.add_argument("--radius", type=float, default=0.2, help="cone around each truth decay quark (prong check)")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def cmd_explain(a: argparse.Namespace) -> int:
    from colliderlab.explain.report import ExplainConfig, explain_run

    cfg = ExplainConfig(n_jets=a.n_jets, n_steps=a.steps, radius=a.radius, plots=not a.no_plots)
    s = explain_run(a.run_dir, a.data, a.out, cfg)
    if a.json:
        print(json.dumps(s, default=float))
        return 0
    if "shap" in s:
        top = ", ".join(f"{n} {v:.3f}" for n, v in s["shap"]["ranking"][:5])
        print(f"SHAP ({s['shap']['method']}): {top}")
    if "integrated_gradients" in s:
        print(f"integrated gradients: completeness error median {s['integrated_gradients']['median_relative_error']:.2%}")
    for key, how in (("prong_check", "integrated gradients"), ("prong_check_occlusion", "occlusion")):
        if key in s:
            c = s[key]
            print(f"prong check, {how} ({c['n_jets']} {c['class']} jets, dR < {c['radius']}): attribution share "
                  f"{c['attribution_share']:.3f} vs pT share {c['pt_share']:.3f} -> "
                  f"{'passed' if c['passed'] else 'FAILED'}")
    print(f"{s['n_jets']} jets in {s['seconds']['total']:.1f} s")
    return 0


COMMANDS = {"explain": cmd_explain}
