"""``colliderlab anomaly {to-adc,dijets,search,events}``."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import Any

from colliderlab.cli.common import add_cluster_args, cluster_config

__all__ = ["COMMANDS", "add_anomaly"]


def add_anomaly(sub: Any) -> None:
    """``colliderlab anomaly {to-adc,dijets,search,events}``."""
    p = sub.add_parser("anomaly", help="anomaly detection: dijet samples and weakly supervised resonance searches")
    anom = p.add_subparsers(dest="anomaly_command", required=True)
    q = anom.add_parser("to-adc", help="write an event file in the ADC2021 layout (arXiv:2107.02157)")
    q.add_argument("events", help="a colliderlab event file (colliderlab anomaly events / event_io)")
    q.add_argument("out", help="the ADC2021-layout HDF5 file to write (Particles (N, 19, 4))")
    q = anom.add_parser("dijets", help="LHC Olympics R&D dijets (QCD or W' -> X Y), resumable, to HDF5")
    q.add_argument("--kind", required=True, help="qcd or wprime")
    q.add_argument("--n", type=int, required=True, help="selected events (leading R=1 jet above 1.2 TeV)")
    q.add_argument("--out", required=True, help="output HDF5 (a killed run resumes from OUT.parts/)")
    q.add_argument("--seed", type=int, default=2020)
    add_cluster_args(q, workers_default=1)
    q.add_argument("--quiet", action="store_true")
    q = anom.add_parser("search", help="CWoLa hunting, ANODE, CATHODE + supervised/idealised bounds: peak SIC")
    q.add_argument("--background", required=True,
                   help="QCD dijet file, or an LHCO R&D features file (its label-0 events): the 'data' background")
    q.add_argument("--signal", required=True, help="W' dijet file, or an LHCO R&D file (label 1): the signal to inject")
    q.add_argument("--independent", required=True, nargs="+",
                   help="independent QCD file(s), concatenated: idealised template and test background")
    q.add_argument("--out-dir", default="runs/anomaly-search")
    q.add_argument("--n-signal", help="comma list of injected signal events (default: the LHCO S/sqrt(B) point)")
    q.add_argument("--runs", type=int, default=5, help="runs per point; figures are medians")
    q.add_argument("--methods", help="comma list of supervised, idealised, cathode, cwola, anode (default all)")
    q.add_argument("--flow-epochs", type=int, help="epochs of the conditional flows (default 40)")
    q.add_argument("--min-background", type=int, default=25, help="background test events a SIC point needs")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--json", action="store_true", help="print the summary as JSON")
    q = anom.add_parser("events", help="AE/VAE on the Standard-Model cocktail vs a supervised BDT per signal")
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--sm", help="comma list process=FILE of Standard-Model event files (mixed by sigma x eff.)")
    src.add_argument("--adc-background", help="an ADC2021 Standard-Model file (arXiv:2107.02157); --signals are "
                                              "then ADC2021 files too, and the inputs the 57 object numbers")
    q.add_argument("--signals", required=True, help="comma list name=FILE of signal event files")
    q.add_argument("--inputs", choices=("features", "objects"), default="features",
                   help="high-level features (arXiv:1811.10276) or the (pT, eta, phi) of the 19 ADC2021 slots")
    q.add_argument("--max-events", type=int, help="ADC2021 files: read at most this many events per file")
    q.add_argument("--out-dir", default="runs/anomaly-events")
    q.add_argument("--test-fraction", type=float, default=0.5, help="held-out Standard-Model share")
    q.add_argument("--epochs", type=int, help="training epochs of the AE and the VAE")
    q.add_argument("--preset", default="lite", help="anomaly_ae / anomaly_vae preset (lite or paper)")
    q.add_argument("--log-features", default="", help="comma list of heavy-tailed features taken as log(1+x)")
    q.add_argument("--no-trigger", action="store_true", help="skip the ONNX export and hls4ml emulation")
    q.add_argument("--json", action="store_true", help="print the metrics as JSON")


def _named_files(text: str, what: str) -> dict[str, str]:
    out = {}
    for item in (t for t in text.split(",") if t):
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{what} must be a comma list of name=FILE, got {item!r}")
        out[name] = path
    return out


def _events(a: argparse.Namespace) -> int:
    from colliderlab.anomaly.event_files import run_adc_files, run_event_files
    from colliderlab.anomaly.event_search import EventAnomalyConfig, efficiency_table_markdown

    config = EventAnomalyConfig(ae_preset=a.preset, vae_preset=a.preset, trigger=not a.no_trigger,
                                log_features=tuple(f for f in a.log_features.split(",") if f))
    if a.epochs:
        config = replace(config, trainer=replace(config.trainer, epochs=a.epochs))
    if a.adc_background:
        metrics = run_adc_files(a.adc_background, _named_files(a.signals, "--signals"), a.out_dir, config,
                                test_fraction=a.test_fraction, max_events=a.max_events)
    else:
        metrics = run_event_files(_named_files(a.sm, "--sm"), _named_files(a.signals, "--signals"), a.out_dir,
                                  config, test_fraction=a.test_fraction, inputs=a.inputs)
    print(json.dumps(metrics, default=str) if a.json else efficiency_table_markdown(metrics))
    return 0


def _to_adc(a: argparse.Namespace) -> int:
    from colliderlab.data.adc2021 import to_particles, write_adc2021
    from colliderlab.data.event_io import read_events

    particles = to_particles(read_events(a.events))
    write_adc2021(a.out, particles)
    print(f"wrote {len(particles)} events to {a.out} (ADC2021 layout)")
    return 0


def _dijets(a: argparse.Namespace) -> int:
    from colliderlab.data.dijet_io import generate_dijets
    from colliderlab.physics.dijet import DijetConfig

    summary = generate_dijets(a.out, a.kind, a.n, DijetConfig(seed=a.seed), cluster=cluster_config(a),
                              progress=not a.quiet)
    print(json.dumps(summary, indent=1))
    return 0


def _search(a: argparse.Namespace) -> int:
    from colliderlab.anomaly.dijet_search import load_samples, markdown_table, run_dijet_search
    from colliderlab.anomaly.weak import METHODS, SearchConfig

    methods = tuple(m for m in (a.methods or ",".join(METHODS)).split(",") if m)
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ValueError(f"unknown method(s) {bad}; valid: {', '.join(METHODS)}")
    config = SearchConfig(min_background=a.min_background)
    if a.flow_epochs:
        config = replace(config, flow=replace(config.flow, epochs=a.flow_epochs))
    n_signals = [int(v) for v in a.n_signal.split(",")] if a.n_signal else None
    bkg, sig, ind = load_samples(a.background, a.signal, a.independent)
    res = run_dijet_search(bkg, sig, ind, a.out_dir, config=config, n_signals=n_signals, runs=a.runs,
                           methods=methods, seed=a.seed, log=None if a.json else print)
    if a.json:
        print(json.dumps(res["summary"], default=float))
    else:
        print(markdown_table(res["summary"], methods))
        print(f"wrote {a.out_dir}/results.json, results.md and figures")
    return 0


_SUBCOMMANDS = {"events": _events, "to-adc": _to_adc, "dijets": _dijets, "search": _search}


def cmd_anomaly(a: argparse.Namespace) -> int:
    return _SUBCOMMANDS[a.anomaly_command](a)


COMMANDS = {"anomaly": cmd_anomaly}
