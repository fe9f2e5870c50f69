"""``colliderlab calo simulate`` and ``colliderlab calo evaluate``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from colliderlab.cli.common import add_cluster_args, cluster_config

__all__ = ["COMMANDS", "add_calo"]


def add_calo(sub: Any) -> None:
    """``colliderlab calo {simulate,evaluate}``."""
    p = sub.add_parser("calo", help="calorimeter showers: simulate, evaluate a generator")
    calo = p.add_subparsers(dest="calo_command", required=True)
    q = calo.add_parser("simulate", help="parametric showers (GFlash EM, parametrised hadronic) to HDF5")
    q.add_argument("--geometry", default="calogan", help="calogan, lcd or cms")
    q.add_argument("--particles", default="gamma", help="comma list of e-, e+, gamma, pi0, pi+, pi-")
    q.add_argument("--n", type=int, default=10000, help="showers per particle")
    q.add_argument("--energy", default="1,100", help="GeV: 'lo,hi' (log-uniform) or one value")
    q.add_argument("--angle", default="0", help="rad: 'lo,hi' (uniform) or one value")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--out", required=True, help="output HDF5 (CaloChallenge layout, MeV)")
    q.add_argument("--overwrite", action="store_true")
    add_cluster_args(q, workers_default=1)
    q.add_argument("--quiet", action="store_true")
    q = calo.add_parser("evaluate", help="fidelity of a trained generator against simulated showers")
    q.add_argument("run_dir")
    q.add_argument("--reference", help="simulated showers (default: the run's data file)")
    q.add_argument("--n", type=int, help="use the first N reference showers")
    q.add_argument("--out", help="output folder (default RUN_DIR/evaluation)")
    q.add_argument("--no-cells", action="store_true", help="skip the (slower) cell-level classifier")
    q.add_argument("--json", action="store_true")


def _range(text: str) -> float | tuple[float, float]:
    parts = [float(v) for v in text.split(",")]
    if len(parts) not in (1, 2):
        raise ValueError(f"expected one value or 'lo,hi', got {text!r}")
    return parts[0] if len(parts) == 1 else (parts[0], parts[1])


def cmd_calo(a: argparse.Namespace) -> int:
    if a.calo_command == "simulate":
        from colliderlab.data.calo_sim import simulate_to_file

        out = simulate_to_file(a.out, a.geometry, [p for p in a.particles.split(",") if p], a.n,
                               energy=_range(a.energy), angle=_range(a.angle), seed=a.seed,
                               progress=not a.quiet, overwrite=a.overwrite, cluster=cluster_config(a))
        print(f"wrote {out}")
        return 0
    from colliderlab.generative.evaluate import evaluate_generator

    res = evaluate_generator(a.run_dir, a.reference, n=a.n, out_dir=a.out, cells_classifier=not a.no_cells)
    if a.json:
        print(json.dumps(res, default=float))
        return 0
    for k, v in res.items():
        if not isinstance(v, dict):
            print(f"{k:>32}: {v}")
    print("| observable | W1 | separation power |\n|---|---|---|")
    for k, v in sorted(res["observables"].items()):
        print(f"| {k} | {v['w1']:.4g} | {v['separation']:.4f} |")
    return 0


COMMANDS = {"calo": cmd_calo}
