"""Commands on jet samples: ``generate``, ``inspect``, ``list``, ``demo`` and ``models``."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from typing import Any

from colliderlab.cli.common import add_cluster_args, cluster_config

__all__ = ["COMMANDS", "add_generate", "add_inspect", "add_list", "add_demo", "add_models", "add_shards"]


def add_generate(sub: Any) -> None:
    """``colliderlab generate``: processes or a preset, the generator config flags."""
    p = sub.add_parser("generate", help="generate labelled jets with Pythia 8 + detector + FastJet")
    p.add_argument("processes", nargs="?", help="comma list of processes, e.g. top,qcd (label order)")
    p.add_argument("--preset", help="a dataset preset (toptag, quark-gluon, hls4ml)")
    p.add_argument("--n-jets", type=int, required=True, help="accepted jets per class")
    p.add_argument("--out", required=True, help="output: the master HDF5 file of a sharded sample (shards in OUT.shards/)")
    p.add_argument("--detector", help="detector card name or YAML file (default: ideal, or the preset's)")
    p.add_argument("--seed", type=int, help="master seed (default 12345)")
    add_cluster_args(p, workers_default=None)
    p.add_argument("--overwrite", action="store_true", help="replace an existing sample")
    p.add_argument("--sqrt-s", type=float, dest="sqrt_s", help="centre-of-mass energy, GeV")
    p.add_argument("--jet-r", type=float, dest="jet_r", help="anti-kT radius")
    p.add_argument("--pt-min", type=float, dest="pt_min", help="jet pT window low edge, GeV")
    p.add_argument("--pt-max", type=float, dest="pt_max", help="jet pT window high edge, GeV")
    p.add_argument("--eta-max", type=float, dest="abs_eta_max", help="max |eta| of the jet")
    p.add_argument("--mpi", action=argparse.BooleanOptionalAction, default=None, help="multiple parton interactions")
    p.add_argument("--pileup", type=float, dest="pileup_mu", help="mean number of pileup events")
    p.add_argument("--n-particles", type=int, dest="n_particles", help="constituent slots per jet (default 200)")
    p.add_argument("--chunk-events", type=int, dest="chunk_events", help="events per work unit")
    p.add_argument("--shower", help="parton shower: simple (Pythia's default) or vincia")
    p.add_argument("--variation", help="generator variation for systematics: nominal, fsr-up, fsr-down, "
                   "isr-up, isr-down, lund-a-up, lund-a-down, lund-b-up, lund-b-down")
    p.add_argument("--pythia", action="append", default=[], metavar="SETTING", help="extra Pythia setting (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

def add_shards(sub: Any) -> None:
    """``colliderlab shards verify|make``."""
    p = sub.add_parser("shards", help="sharded samples: verify one against its manifest, or cut a file into one")
    sp = p.add_subparsers(dest="shards_command", required=True)
    v = sp.add_parser("verify", help="check every shard of a sample or of predict's scores (exists, size, "
                                     "sample id, sha256)")
    v.add_argument("master", help="the master file of a sample or of sharded scores")
    m = sp.add_parser("make", help="cut a jet file of any format into a sharded sample (streamed)")
    m.add_argument("source", help="jet file (any format colliderlab reads)")
    m.add_argument("--out", required=True, help="master file of the new sample")
    m.add_argument("--shard-jets", type=int, default=100_000, help="jets per shard")
    m.add_argument("--repeat", type=int, default=1, help="write the source's jets this many times (benchmarks)")
    m.add_argument("--overwrite", action="store_true")


def add_inspect(sub: Any) -> None:
    """``colliderlab inspect FILE``."""
    p = sub.add_parser("inspect", help="counts and observable quantiles per label of a jet file (any format)")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="OUT.png", help="write histograms of mass, pT, tau32, multiplicity per label")
    p.add_argument("--max-jets", type=int, help="only the first N jets")
    p.add_argument("--lumi", type=float, help="integrated luminosity (fb^-1): expected jets per class from the "
                   "stored cross sections")


def add_list(sub: Any) -> None:
    """``colliderlab list``."""
    sub.add_parser("list", help="list processes, presets and detector cards")


def add_demo(sub: Any) -> None:
    """``colliderlab demo``."""
    p = sub.add_parser("demo", help="the main job: toptag sample -> observables -> BDT -> metrics and plots")
    p.add_argument("--n-jets", type=int, help="jets per class (default 8000)")
    p.add_argument("--workers", type=int, help="worker processes (default: all cores)")
    p.add_argument("--out-dir", help="where plots and metrics go (default runs/demo)")
    p.add_argument("--data-dir", help="where the cached sample goes (default data)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_models(sub: Any) -> None:
    """``colliderlab models``."""
    sub.add_parser("models", help="registered models with their representations, presets and published sizes")


def cmd_generate(a: argparse.Namespace) -> int:
    from colliderlab.data.generate import generate_dataset
    from colliderlab.physics.processes import GenConfig, get_preset, parse_processes

    if bool(a.processes) == bool(a.preset):
        raise ValueError("give either a comma list of processes or --preset NAME (not both)")
    if a.preset:
        preset = get_preset(a.preset)
        processes, base = preset.processes, dict(preset.overrides)
    else:
        processes, base = parse_processes(a.processes), {}
    names = {f.name for f in fields(GenConfig)}
    given = {k: v for k, v in vars(a).items() if k in names and v is not None}
    if a.pythia:
        given["extra_settings"] = tuple(a.pythia)
    config = GenConfig(**{**base, **given})
    report = generate_dataset(
        processes, config, a.n_jets, a.out, cluster=cluster_config(a), overwrite=a.overwrite,
        progress=not a.quiet, preset=a.preset or None,
    )
    print(report.summary())
    return 0


def cmd_shards(a: argparse.Namespace) -> int:
    from colliderlab.data.sharding import shard_file
    from colliderlab.data.shards import verify_sample

    if a.shards_command == "verify":
        from colliderlab.train.score_shards import check_scores

        scores = check_scores(a.master, full=True)  # a master score file of `predict`, or None
        if scores is not None:
            print(f"{a.master}: {scores.n_jets} scored jets in {len(scores.shards)} score shards, all matching "
                  f"the manifest (sha256 included)")
            return 0
        sample = verify_sample(a.master)
    else:
        sample = shard_file(a.source, a.out, shard_jets=a.shard_jets, repeat=a.repeat, overwrite=a.overwrite)
    counts = dict(zip(sample.label_names, sample.manifest.n_per_class(), strict=True))
    print(f"{sample.master}: {len(sample)} jets in {len(sample.shards)} shards, all matching the manifest "
          f"(sample {sample.manifest.sample_id}); per class {counts}")
    return 0


def cmd_inspect(a: argparse.Namespace) -> int:
    from colliderlab.summary import format_summary, summarize_file

    if a.lumi is not None and a.lumi <= 0:
        raise ValueError(f"--lumi must be positive (fb^-1), got {a.lumi}")
    s = summarize_file(a.file, max_jets=a.max_jets, keep_values=bool(a.plot), lumi_fb=a.lumi)
    if a.plot:
        from colliderlab.plots import plot_observables

        plot_observables(s.pop("values"), s.pop("label"), s.pop("label_names"), a.plot)
    print(json.dumps(s) if a.json else format_summary(s))
    return 0


def cmd_list(a: argparse.Namespace) -> int:
    from colliderlab.physics.detector import CARDS
    from colliderlab.physics.processes import PRESETS, PROCESSES

    print("processes:")
    for name, r in PROCESSES.items():
        print(f"  {name:<8} {r.description}")
    print("presets:")
    for name, p in PRESETS.items():
        print(f"  {name:<12} {p.description}")
    print("detector cards: " + ", ".join(CARDS) + " (or a YAML file)")
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from colliderlab.demo import DemoConfig, run_demo

    given = {"n_jets": a.n_jets, "workers": a.workers, "out_dir": a.out_dir, "data_dir": a.data_dir}
    config = DemoConfig(**{k: v for k, v in given.items() if v is not None}, progress=not a.quiet)
    run_demo(config)
    return 0


def cmd_models(a: argparse.Namespace) -> int:
    from colliderlab.models.registry import list_models, model_spec

    for name in list_models():
        spec = model_spec(name)
        line = f"  {name:<16} {'/'.join(spec.representations):<24} presets: {', '.join(spec.presets):<24}"
        if spec.paper_params:
            line += f" published params {spec.paper_params:,}"
        print(line + (f"  [{spec.reference}]" if spec.reference else ""))
    from colliderlab.models.baselines import BASELINES

    print("baselines: " + ", ".join(BASELINES))
    return 0


COMMANDS = {
    "generate": cmd_generate,
    "inspect": cmd_inspect,
    "list": cmd_list,
    "demo": cmd_demo,
    "models": cmd_models,
    "shards": cmd_shards,
}
