"""``colliderlab stats {run,dijets,fit}``: from scores to significances and limits with pyhf."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["COMMANDS", "add_stats"]

_HIDDEN = ("workspace", "workspace_stat_only", "scan")  # written to files, not printed


def _analysis_args(q: argparse.ArgumentParser, discriminant: str) -> None:
    q.add_argument("--discriminant", default=discriminant, help=f"template variable (default {discriminant})")
    q.add_argument("--bins", type=int, default=12, help="equal-width bins of the templates")
    q.add_argument("--range", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="bin range (default: 0.5%%-99.5%% quantiles of the selected background)")
    q.add_argument("--lumi", type=float, default=140.0, help="integrated luminosity, fb^-1 (default 140)")
    q.add_argument("--xsec", action="append", default=[], metavar="NAME=PB",
                   help="effective cross section (sigma x efficiency, pb) of a class, for files without one")
    q.add_argument("--inject-mu", type=float, default=1.0, help="signal strength of the pseudo-data")
    q.add_argument("--seed", type=int, default=0, help="seed of the pseudo-data (and of the dijet split)")
    q.add_argument("--cl", type=float, default=0.95)
    q.add_argument("--min-mc-background", type=int, default=100,
                   help="cuts keeping fewer validation background jets are not considered")
    q.add_argument("--objective", default="z_asimov_mc", choices=("z_asimov_mc", "z_asimov"),
                   help="what the cut maximises: Z_A with the background's MC statistical error (default) or Z_A")
    q.add_argument("--out-dir", help="write summary.json, workspace.json (pyhf/cabinetry) and the plots here")
    q.add_argument("--no-plots", action="store_true")


def add_stats(sub: Any) -> None:
    """``colliderlab stats {run,dijets,fit}``."""
    p = sub.add_parser("stats", help="working point, templates and pyhf fits: significance and CLs limits")
    st = p.add_subparsers(dest="stats_command", required=True)
    q = st.add_parser("run", help="a trained tagger on its sample (validation picks the cut, test fills templates)")
    q.add_argument("run_dir")
    q.add_argument("--data", help="another labelled sample (split in half: validation, test)")
    q.add_argument("--signal", help="the signal class (default the run's last)")
    q.add_argument("--variation", action="append", default=[], metavar="SAMPLE",
                   help="a sample generated with another shower/variation (named from its provenance): "
                        "a shape systematic (repeatable)")
    _analysis_args(q, "mass")
    q = st.add_parser("dijets", help="the LHCO-style W' -> XY search: tagger on jet substructure, m_JJ fit")
    q.add_argument("--signal", required=True, help="W' dijet file (colliderlab anomaly dijets --kind wprime)")
    q.add_argument("--background", required=True, help="QCD dijet file")
    _analysis_args(q, "mjj")
    q = st.add_parser("fit", help="significance and limits of a HistFactory workspace JSON")
    q.add_argument("workspace")
    q.add_argument("--cl", type=float, default=0.95)


def _xsec(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--xsec takes NAME=PB, got {item!r}")
        out[name] = float(value)
    return out


def _config(a: argparse.Namespace, signal: str | None) -> Any:
    from colliderlab.stats.analysis import AnalysisConfig

    return AnalysisConfig(discriminant=a.discriminant, bins=a.bins, range=tuple(a.range) if a.range else None,
                          lumi_fb=a.lumi, signal=signal, cl=a.cl, inject_mu=a.inject_mu, seed=a.seed,
                          min_mc_background=a.min_mc_background, objective=a.objective)


def _report(res: dict[str, Any], a: argparse.Namespace, xlabel: str) -> int:
    from colliderlab.atomic import write_json

    summary = {k: v for k, v in res.items() if k not in _HIDDEN}
    if a.out_dir:
        out = Path(a.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "summary.json", summary)
        write_json(out / "workspace.json", res["workspace"])
        write_json(out / "workspace_stat_only.json", res["workspace_stat_only"])
        write_json(out / "scan.json", res["scan"])
        if not a.no_plots:
            from colliderlab.stats.plots import write_plots

            summary["plots"] = [str(p) for p in write_plots(res, out, xlabel=xlabel)]
    print(json.dumps(summary, indent=1))
    return 0


def cmd_stats(a: argparse.Namespace) -> int:
    if a.stats_command == "fit":
        from colliderlab.stats.fit import discovery_significance, upper_limits

        spec = json.loads(Path(a.workspace).read_text())
        print(json.dumps({"z_expected": discovery_significance(spec), "z_observed":
                          discovery_significance(spec, observed=True), **upper_limits(spec, cl=a.cl)}, indent=1))
        return 0
    if a.stats_command == "dijets":
        from colliderlab.stats.dijet_analysis import analyse_dijets

        res = analyse_dijets(a.signal, a.background, config=_config(a, "wprime"), xsec_pb=_xsec(a.xsec))
        return _report(res, a, "$m_{JJ}$ [GeV]")
    from colliderlab.stats.discriminants import DISCRIMINANTS
    from colliderlab.stats.from_runs import analyse_run

    res = analyse_run(a.run_dir, data=a.data, variations=a.variation, config=_config(a, a.signal),
                      xsec_pb=_xsec(a.xsec))
    label = DISCRIMINANTS[a.discriminant].label if a.discriminant in DISCRIMINANTS else a.discriminant
    return _report(res, a, label)


COMMANDS = {"stats": cmd_stats}
