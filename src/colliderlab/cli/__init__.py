"""Command line: a thin adapter from arguments to dataclasses and library calls.

    colliderlab generate top,qcd --n-jets 1000 --out jets.h5 [--detector atlas-like] [--workers 2]
    colliderlab generate --preset toptag --n-jets 1000 --out toptag.h5 [--scheduler tcp://HOST:8786]
                         [--shower simple|vincia] [--variation fsr-up|isr-down|lund-a-up|...]
    colliderlab shards verify SAMPLE.h5     # every shard against the manifest (size, id, sha256)
    colliderlab shards make FILE --out SAMPLE.h5 [--shard-jets N]   # any jet file -> sharded sample
    colliderlab inspect FILE [--json] [--plot OUT.png]
    colliderlab list                # processes, presets, detector cards
    colliderlab demo                # observables + BDT on a small toptag sample
    colliderlab models              # registered models, presets, parameter counts
    colliderlab train EXPERIMENT.yaml [--set trainer.lr=3e-4 ...] [--run-dir DIR] [--nproc-per-node N]
    colliderlab evaluate RUN_DIR --data FILE
    colliderlab predict RUN_DIR --data FILE --out SCORES.h5
    colliderlab convert-run RUN_DIR [--keep-legacy]   # old pickled checkpoints -> safetensors + JSON
    colliderlab benchmark toptag [--n-jets N] [--models a,b] [--ensemble K] [--heldout N] [--json]
    colliderlab export RUN_DIR --to onnx|torch-export|hls4ml|conifer [--data FILE]
                      [--config OPTIONS.yaml] [--set key=value ...]
    colliderlab calo simulate --geometry calogan --particles gamma,pi0 --n 10000 --out showers.h5 [--workers W]
    colliderlab calo evaluate RUN_DIR [--reference FILE] [--n N]
    colliderlab anomaly dijets --kind qcd|wprime --n N --out FILE [--seed S] [--workers W] [--scheduler ADDR]
    colliderlab anomaly search --background F --signal F --independent F [F ...] [--n-signal N,...] [--runs 5]
    colliderlab anomaly events --sm w_lnu=F,z_ll=F,... --signals a_4l=F,... [--inputs objects] [--epochs N]
    colliderlab anomaly events --adc-background F --signals a_4l=F,... [--max-events N]   (ADC2021 files)
    colliderlab anomaly to-adc EVENTS.h5 OUT.h5
    colliderlab stats run RUN_DIR [--data F] [--variation SAMPLE ...] [--lumi FB] [--discriminant mass]
                      [--bins N] [--range LO HI] [--xsec NAME=PB] [--out-dir DIR]   # pyhf Z, CLs limits
    colliderlab stats dijets --signal WPRIME.h5 --background QCD.h5 [--lumi FB] [--out-dir DIR]
    colliderlab stats fit WORKSPACE.json
    colliderlab calibrate RUN_DIR --data FILE [--plot OUT.png]   # temperature scaling, stored with the run
    colliderlab uncertainty RUN_DIR [RUN_DIR ...] --data FILE --out U.h5 [--mc-dropout N]
    colliderlab tune EXP.yaml --space SPACE.yaml --trials N [--out DIR] [--storage URL] [--workers W]
                     [--scheduler ADDR] [--final-seeds 3]   # Optuna search on validation AUC
    colliderlab explain RUN_DIR --data FILE [--n-jets 1000] [--out DIR]   # SHAP, IG, attention, filters
    colliderlab tracking simulate --out DIR [--events N] [--mu 200] [--process ttbar] [--card trackml-like]
    colliderlab tracking train --data DIR --out RUN [--epochs 12] [--val-events 10]   # Exa.TrkX-style GNN
    colliderlab tracking reconstruct --data DIR --out DIR [--method gnn --run RUN | --method baseline]
    colliderlab tracking evaluate --data DIR [--method gnn --run RUN | --method baseline] [--out F.json]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from colliderlab.cli import anomaly, calo, explain, jets, runs, stats, tracking, tune, uncertainty
from colliderlab.cluster import ClusterError

__all__ = ["main", "build_parser"]

_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    **jets.COMMANDS, **runs.COMMANDS, **calo.COMMANDS, **anomaly.COMMANDS, **stats.COMMANDS,
    **uncertainty.COMMANDS, **tune.COMMANDS, **explain.COMMANDS, **tracking.COMMANDS,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``colliderlab`` parser: one sub-command per entry of the module docstring."""
    parser = argparse.ArgumentParser(prog="colliderlab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        jets.add_generate, jets.add_shards, jets.add_inspect, jets.add_list, jets.add_demo, jets.add_models,
        runs.add_train, runs.add_evaluate, runs.add_predict, runs.add_convert_run,
        calo.add_calo, anomaly.add_anomaly, runs.add_export, runs.add_benchmark, stats.add_stats,
        uncertainty.add_calibrate, uncertainty.add_uncertainty, tune.add_tune, explain.add_explain,
        tracking.add_tracking,
    ):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``colliderlab`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, KeyError, TypeError, FileExistsError, FileNotFoundError, NotImplementedError,
            ClusterError) as e:
        print(f"colliderlab {args.command}: error: {e}", file=sys.stderr)
        return 2

