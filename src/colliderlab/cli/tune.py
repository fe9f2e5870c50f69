"""``colliderlab tune``: an Optuna hyper-parameter search over experiment keys, trials on Dask
(:mod:`colliderlab.train.tune`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from colliderlab.cli.common import add_cluster_args, cluster_config

__all__ = ["COMMANDS", "add_tune"]


def add_tune(sub: Any) -> None:
    """``colliderlab tune EXP.yaml --space SPACE.yaml --trials N [--out DIR] [--storage URL] [--workers W]``."""
    p = sub.add_parser("tune", help="hyper-parameter search with Optuna on validation AUC; the best experiment "
                       "as YAML, its test AUC over seeds, and the study's plots")
    p.add_argument("experiment", help="YAML experiment every trial starts from")
    p.add_argument("--space", required=True, help="YAML: experiment keys (the --set paths) -> distributions")
    p.add_argument("--trials", type=int, required=True, help="finished (complete or pruned) trials of the study")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override an experiment entry before searching (repeatable)")
    p.add_argument("--out", help="study directory (default runs/tune/<experiment name>)")
    p.add_argument("--storage", help="Optuna storage: a URL (sqlite:///..., postgresql://...), a .db file "
                   "(SQLite) or a .log file (journal). Default: OUT/study.db, OUT/journal.log for parallel trials")
    p.add_argument("--study-name", default="colliderlab")
    p.add_argument("--seed", type=int, default=0, help="sampler seed")
    p.add_argument("--pruner", default="median", choices=("median", "none"))
    p.add_argument("--final-seeds", type=int, default=3, help="retrainings of the best setting for its test AUC")
    p.add_argument("--heartbeat", type=int, default=30, help="seconds between a running trial's heartbeats")
    p.add_argument("--grace", type=int, default=120, help="seconds of silence after which a trial counts as dead")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    add_cluster_args(p, workers_default=1, what="trials")


def cmd_tune(a: argparse.Namespace) -> int:
    from colliderlab.train.config import load_experiment
    from colliderlab.train.tune import TuneConfig, run_study
    from colliderlab.train.tune_space import load_space

    exp = load_experiment(a.experiment, a.overrides)
    cfg = TuneConfig(
        experiment=exp.to_dict(), space=load_space(a.space).to_dict(), n_trials=a.trials,
        out_dir=a.out or str(Path("runs") / "tune" / exp.name), storage=a.storage, study_name=a.study_name,
        seed=a.seed, pruner=a.pruner, final_seeds=a.final_seeds, heartbeat=a.heartbeat, grace=a.grace,
    )
    summary = run_study(cfg, cluster_config(a))
    if a.json:
        print(json.dumps(summary, default=float))
    return 0


COMMANDS = {"tune": cmd_tune}
