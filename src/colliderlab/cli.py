"""Command line: a thin adapter from arguments to dataclasses and library calls.

    colliderlab generate top,qcd --n-jets 1000 --out jets.h5 [--detector atlas-like] [--workers 2]
    colliderlab generate --preset toptag --n-jets 1000 --out toptag.h5
    colliderlab inspect FILE [--json] [--plot OUT.png]
    colliderlab list                # processes, presets, detector cards
    colliderlab demo                # observables + BDT on a small toptag sample
    colliderlab models              # registered models, presets, parameter counts
    colliderlab train EXPERIMENT.yaml [--set trainer.lr=3e-4 ...] [--run-dir DIR]
    colliderlab evaluate RUN_DIR --data FILE
    colliderlab predict RUN_DIR --data FILE --out SCORES.h5
    colliderlab convert-run RUN_DIR [--keep-legacy]   # old pickled checkpoints -> safetensors + JSON
    colliderlab benchmark toptag [--n-jets N] [--models a,b] [--ensemble K] [--heldout N] [--json]
    colliderlab export RUN_DIR --to onnx|torch-export|hls4ml|conifer [--data FILE]
                      [--config OPTIONS.yaml] [--set key=value ...]
    colliderlab calo simulate --geometry calogan --particles gamma,pi0 --n 10000 --out showers.h5
    colliderlab calo evaluate RUN_DIR [--reference FILE] [--n N]
    colliderlab anomaly dijets --kind qcd|wprime --n N --out FILE [--seed S] [--workers W]
    colliderlab anomaly search --background F --signal F --independent F [F ...] [--n-signal N,...] [--runs 5]
    colliderlab anomaly events --sm w_lnu=F,z_ll=F,... --signals a_4l=F,... [--inputs objects] [--epochs N]
    colliderlab anomaly events --adc-background F --signals a_4l=F,... [--max-events N]   (ADC2021 files)
    colliderlab anomaly to-adc EVENTS.h5 OUT.h5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import fields

__all__ = ["main", "build_parser"]


def _add_generate(sub) -> None:
    p = sub.add_parser("generate", help="generate labelled jets with Pythia 8 + detector + FastJet")
    p.add_argument("processes", nargs="?", help="comma list of processes, e.g. top,qcd (label order)")
    p.add_argument("--preset", help="a dataset preset (toptag, quark-gluon, hls4ml)")
    p.add_argument("--n-jets", type=int, required=True, help="accepted jets per class")
    p.add_argument("--out", required=True, help="output HDF5 file")
    p.add_argument("--detector", help="detector card name or YAML file (default: ideal, or the preset's)")
    p.add_argument("--seed", type=int, help="master seed (default 12345)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--sqrt-s", type=float, dest="sqrt_s", help="centre-of-mass energy, GeV")
    p.add_argument("--jet-r", type=float, dest="jet_r", help="anti-kT radius")
    p.add_argument("--pt-min", type=float, dest="pt_min", help="jet pT window low edge, GeV")
    p.add_argument("--pt-max", type=float, dest="pt_max", help="jet pT window high edge, GeV")
    p.add_argument("--eta-max", type=float, dest="abs_eta_max", help="max |eta| of the jet")
    p.add_argument("--mpi", action=argparse.BooleanOptionalAction, default=None, help="multiple parton interactions")
    p.add_argument("--pileup", type=float, dest="pileup_mu", help="mean number of pileup events")
    p.add_argument("--n-particles", type=int, dest="n_particles", help="constituent slots per jet (default 200)")
    p.add_argument("--chunk-events", type=int, dest="chunk_events", help="events per work unit")
    p.add_argument("--pythia", action="append", default=[], metavar="SETTING", help="extra Pythia setting (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="colliderlab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_generate(sub)

    p = sub.add_parser("inspect", help="counts and observable quantiles per label of a jet file (any format)")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="OUT.png", help="write histograms of mass, pT, tau32, multiplicity per label")
    p.add_argument("--max-jets", type=int, help="only the first N jets")

    sub.add_parser("list", help="list processes, presets and detector cards")

    p = sub.add_parser("demo", help="the main job: toptag sample -> observables -> BDT -> metrics and plots")
    p.add_argument("--n-jets", type=int, help="jets per class (default 8000)")
    p.add_argument("--workers", type=int, help="worker processes (default: all cores)")
    p.add_argument("--out-dir", help="where plots and metrics go (default runs/demo)")
    p.add_argument("--data-dir", help="where the cached sample goes (default data)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    sub.add_parser("models", help="registered models with their representations, presets and published sizes")

    p = sub.add_parser("train", help="train a model from a YAML experiment file into a run directory")
    p.add_argument("experiment", help="YAML file: data, representation, model, trainer")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config entry, e.g. trainer.lr=3e-4 or model.preset=paper (repeatable)")
    p.add_argument("--run-dir", help="run directory (default runs/<experiment name>)")
    p.add_argument("--no-resume", action="store_true", help="refuse to continue an existing run")
    p.add_argument("--quiet", action="store_true", help="no progress bars")

    p = sub.add_parser("evaluate", help="metrics and plots of a trained run on a labelled jet file")
    p.add_argument("run_dir")
    p.add_argument("--data", required=True, help="jet file (any format colliderlab reads)")
    p.add_argument("--out-dir", help="where results.json and plots go (default RUN_DIR/eval-<file>)")
    p.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamplings for uncertainties")
    p.add_argument("--allow-missing", metavar="FIELD,...", default="",
                   help="input fields the file may lack (e.g. charge,pid,d0,dz): filled with zeros on purpose "
                        "and recorded in the output; without it such a file is refused")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("predict", help="write class probabilities of every jet of a file to HDF5")
    p.add_argument("run_dir")
    p.add_argument("--data", required=True, help="jet file (any format colliderlab reads)")
    p.add_argument("--out", required=True, help="output HDF5: scores (N, C), labels (N,) when known")
    p.add_argument("--allow-missing", metavar="FIELD,...", default="",
                   help="input fields the file may lack (e.g. charge,pid,d0,dz): filled with zeros on purpose "
                        "and recorded in the output; without it such a file is refused")

    p = sub.add_parser(
        "convert-run",
        help="convert a run directory's old pickled checkpoints (*.pt) to safetensors + JSON; "
             "this unpickles them, so only for runs you trust",
    )
    p.add_argument("run_dir")
    p.add_argument("--keep-legacy", action="store_true", help="keep the old .pt files (default: remove them)")

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
    q.add_argument("--quiet", action="store_true")
    q = calo.add_parser("evaluate", help="fidelity of a trained generator against simulated showers")
    q.add_argument("run_dir")
    q.add_argument("--reference", help="simulated showers (default: the run's data file)")
    q.add_argument("--n", type=int, help="use the first N reference showers")
    q.add_argument("--out", help="output folder (default RUN_DIR/evaluation)")
    q.add_argument("--no-cells", action="store_true", help="skip the (slower) cell-level classifier")
    q.add_argument("--json", action="store_true")

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
    q.add_argument("--workers", type=int, default=1, help="local worker processes")
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

    p = sub.add_parser("export", help="export a trained run: ONNX, torch.export, hls4ml or conifer")
    p.add_argument("run_dir")
    p.add_argument("--to", required=True, help="onnx, torch-export, hls4ml or conifer")
    p.add_argument("--out", help="output folder (default RUN_DIR/export)")
    p.add_argument("--data", help="jets for the parity check (default: the run's training file)")
    p.add_argument("--n-jets", type=int, default=256, help="jets compared in the parity check")
    p.add_argument("--allow-missing", metavar="FIELD,...", default="",
                   help="input fields the file may lack (e.g. charge,pid,d0,dz): filled with zeros on purpose "
                        "and recorded in the output; without it such a file is refused")
    p.add_argument("--config", help="YAML of format options (hls4ml: precision, reuse factor, per-layer ...)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="one format option, e.g. --set reuse_factor=2 (repeatable)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")

    p = sub.add_parser("benchmark", help="train every model on one sample and print the comparison table")
    p.add_argument("task", choices=["toptag"])
    p.add_argument("--n-jets", type=int, help="jets in total, half top and half QCD (default 40000)")
    p.add_argument("--models", help="comma list of models, or 'all' (default: the standard lineup)")
    p.add_argument("--ensemble", type=int, help="trainings per model, K (default 3)")
    p.add_argument("--preset", help="model preset: lite (default) or paper")
    p.add_argument("--epochs", type=int, help="epochs per training (default 10)")
    p.add_argument("--detector", help="detector card (default atlas-like)")
    p.add_argument("--workers", type=int, help="generation worker processes (default: all cores)")
    p.add_argument("--out-dir", help="default runs/benchmark-toptag")
    p.add_argument("--data-dir", help="default data")
    p.add_argument("--device", help="auto (default), cpu or cuda")
    p.add_argument("--json", action="store_true", help="print one JSON object {models: [...]}")
    p.add_argument("--no-train", action="store_true", help="only summarise the trainings already in --out-dir")
    p.add_argument("--heldout", type=int, help="also score every tagger on N jets of an independent sample in "
                   "the public top-tagging layout (another Pythia seed), beside its test AUC")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _cmd_generate(a: argparse.Namespace) -> int:
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
        processes, config, a.n_jets, a.out, workers=a.workers, overwrite=a.overwrite, progress=not a.quiet,
        preset=a.preset or None,
    )
    print(report.summary())
    return 0


def _cmd_inspect(a: argparse.Namespace) -> int:
    from colliderlab.summary import format_summary, summarize_file

    s = summarize_file(a.file, max_jets=a.max_jets, keep_values=bool(a.plot))
    if a.plot:
        from colliderlab.plots import plot_observables

        plot_observables(s.pop("values"), s.pop("label"), s.pop("label_names"), a.plot)
    print(json.dumps(s) if a.json else format_summary(s))
    return 0


def _cmd_list(a: argparse.Namespace) -> int:
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


def _cmd_demo(a: argparse.Namespace) -> int:
    from colliderlab.demo import DemoConfig, run_demo

    given = {"n_jets": a.n_jets, "workers": a.workers, "out_dir": a.out_dir, "data_dir": a.data_dir}
    config = DemoConfig(**{k: v for k, v in given.items() if v is not None}, progress=not a.quiet)
    run_demo(config)
    return 0


def _cmd_models(a: argparse.Namespace) -> int:
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


def _cmd_train(a: argparse.Namespace) -> int:
    from colliderlab.train.experiment import load_experiment, run_experiment

    cfg = load_experiment(a.experiment, a.overrides)
    if a.quiet:
        from dataclasses import replace

        cfg = replace(cfg, trainer=replace(cfg.trainer, progress=False))
    run_dir = a.run_dir or f"runs/{cfg.name}"
    res = run_experiment(cfg, run_dir, resume=not a.no_resume, progress=not a.quiet)
    print(json.dumps({k: v for k, v in res.items() if not isinstance(v, dict)}, default=float))
    print(f"run directory: {run_dir}")
    return 0


def _cmd_evaluate(a: argparse.Namespace) -> int:
    from colliderlab.train.runs import evaluate_run

    res = evaluate_run(a.run_dir, a.data, out_dir=a.out_dir, progress=not a.json, bootstrap=a.bootstrap,
                       allow_missing=a.allow_missing)
    if a.json:
        print(json.dumps(res, default=float))
    else:
        for k, v in res.items():
            print(f"{k:>24}: {v}")
    return 0


def _cmd_predict(a: argparse.Namespace) -> int:
    from colliderlab.train.runs import predict_run

    out = predict_run(a.run_dir, a.data, a.out, allow_missing=a.allow_missing)
    print(f"wrote {out}")
    return 0


def _cmd_convert_run(a: argparse.Namespace) -> int:
    from colliderlab.train.checkpoint import convert_legacy

    print(f"colliderlab convert-run: unpickling the *.pt files of {a.run_dir}; this runs any code they "
          "carry, so convert only runs you trust", file=sys.stderr)
    for path in convert_legacy(a.run_dir, keep=a.keep_legacy):
        print(f"wrote {path.with_suffix('.safetensors')} and {path.name}")
    if not a.keep_legacy:
        print("removed the old .pt files")
    return 0


def _cmd_benchmark(a: argparse.Namespace) -> int:
    from colliderlab.train.benchmark import (
        BenchmarkConfig,
        format_table,
        parse_models,
        run_benchmark,
    )

    given = {
        "n_jets": a.n_jets, "ensemble": a.ensemble, "preset": a.preset, "epochs": a.epochs,
        "detector": a.detector, "workers": a.workers, "out_dir": a.out_dir, "data_dir": a.data_dir,
        "device": a.device, "heldout": a.heldout,
    }
    cfg = BenchmarkConfig(
        **{k: v for k, v in given.items() if v is not None},
        models=parse_models(a.models), progress=not (a.quiet or a.json), train=not a.no_train,
    )
    result = run_benchmark(cfg)
    if a.json:
        keys = ("model", "auc", "accuracy", "rejection_at_0.3", "rejection_at_0.5", "params",
                "train_seconds", "inference_jets_per_second")
        rows = [{k: r[k] for k in keys} for r in result["models"]]
        extra = {k: result[k] for k in ("gaps", "heldout") if k in result}
        print(json.dumps({"models": rows, "sample": result["sample"], **extra}, default=float))
    else:
        print(format_table(result))
    return 0


def _cmd_export(a: argparse.Namespace) -> int:
    import yaml

    from colliderlab.export.api import export_run
    from colliderlab.train.config import apply_overrides

    options = {}
    if a.config:
        with open(a.config) as f:
            options = yaml.safe_load(f) or {}
        if not isinstance(options, dict):
            raise TypeError(f"{a.config} must hold a mapping of option names to values")
    options = apply_overrides(options, a.overrides)
    res = export_run(a.run_dir, a.to, out_dir=a.out, data=a.data, n_jets=a.n_jets, options=options,
                     allow_missing=a.allow_missing)
    if a.json:
        print(json.dumps(res, default=float))
    else:
        print(f"wrote {res.get('file') or res.get('output_dir')}")
        figures = {**res.get("parity", {}), **res.get("compare", {}), **{
            f"estimated {k}": v for k, v in res.get("resource_estimate", {}).items()
            if k in ("mults", "dsp", "latency_cycles", "latency_ns", "initiation_interval")}}
        for k in ("max_abs_diff_scores", "max_abs_diff_logits", "max_abs_diff", "decision_agreement",
                  "auc_xgboost", "auc_conifer", "accuracy_float", "accuracy_emulated", "mean_auc_float",
                  "mean_auc_emulated", "max_auc_loss", "argmax_agreement", "estimated mults",
                  "estimated dsp", "estimated latency_cycles", "estimated latency_ns",
                  "estimated initiation_interval"):
            if isinstance(figures.get(k), (int, float)):
                print(f"{k:>30}: {figures[k]:.4g}")
    return 0


def _range(text: str) -> float | tuple[float, float]:
    parts = [float(v) for v in text.split(",")]
    if len(parts) not in (1, 2):
        raise ValueError(f"expected one value or 'lo,hi', got {text!r}")
    return parts[0] if len(parts) == 1 else (parts[0], parts[1])


def _cmd_calo(a: argparse.Namespace) -> int:
    if a.calo_command == "simulate":
        from colliderlab.data.calo_io import simulate_to_file

        out = simulate_to_file(a.out, a.geometry, [p for p in a.particles.split(",") if p], a.n,
                               energy=_range(a.energy), angle=_range(a.angle), seed=a.seed,
                               progress=not a.quiet, overwrite=a.overwrite)
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


def _named_files(text: str, what: str) -> dict[str, str]:
    out = {}
    for item in (t for t in text.split(",") if t):
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{what} must be a comma list of name=FILE, got {item!r}")
        out[name] = path
    return out


def _cmd_anomaly(a: argparse.Namespace) -> int:
    if a.anomaly_command == "events":
        from dataclasses import replace

        from colliderlab.anomaly.event_search import (
            EventAnomalyConfig,
            efficiency_table_markdown,
            run_adc_files,
            run_event_files,
        )

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
    if a.anomaly_command == "to-adc":
        from colliderlab.data.adc2021 import to_particles, write_adc2021
        from colliderlab.data.event_io import read_events

        particles = to_particles(read_events(a.events))
        write_adc2021(a.out, particles)
        print(f"wrote {len(particles)} events to {a.out} (ADC2021 layout)")
        return 0
    if a.anomaly_command == "dijets":
        from colliderlab.data.dijet_io import generate_dijets
        from colliderlab.physics.dijet import DijetConfig

        summary = generate_dijets(a.out, a.kind, a.n, DijetConfig(seed=a.seed), workers=a.workers,
                                  progress=not a.quiet)
        print(json.dumps(summary, indent=1))
        return 0
    from dataclasses import replace

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


_COMMANDS = {
    "generate": _cmd_generate,
    "inspect": _cmd_inspect,
    "list": _cmd_list,
    "demo": _cmd_demo,
    "models": _cmd_models,
    "train": _cmd_train,
    "evaluate": _cmd_evaluate,
    "predict": _cmd_predict,
    "convert-run": _cmd_convert_run,
    "benchmark": _cmd_benchmark,
    "export": _cmd_export,
    "calo": _cmd_calo,
    "anomaly": _cmd_anomaly,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``colliderlab`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, KeyError, TypeError, FileExistsError, FileNotFoundError, NotImplementedError) as e:
        print(f"colliderlab {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
