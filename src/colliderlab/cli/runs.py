"""Commands on trained runs: ``train``, ``evaluate``, ``predict``, ``convert-run``, ``export`` and
``benchmark``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = [
    "COMMANDS", "add_train", "add_evaluate", "add_predict", "add_convert_run", "add_export", "add_benchmark",
]


def _add_allow_missing(p: Any) -> None:
    p.add_argument("--allow-missing", metavar="FIELD,...", default="",
                   help="input fields the file may lack (e.g. charge,pid,d0,dz): filled with zeros on purpose "
                        "and recorded in the output; without it such a file is refused")


def add_train(sub: Any) -> None:
    """``colliderlab train EXPERIMENT.yaml``."""
    p = sub.add_parser("train", help="train a model from a YAML experiment file into a run directory")
    p.add_argument("experiment", help="YAML file: data, representation, model, trainer")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config entry, e.g. trainer.lr=3e-4 or model.preset=paper (repeatable)")
    p.add_argument("--run-dir", help="run directory (default runs/<experiment name>)")
    p.add_argument("--no-resume", action="store_true", help="refuse to continue an existing run")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--nproc-per-node", type=int, metavar="N",
                   help="train data-parallel (DDP) in N processes started by PyTorch's elastic launcher (torchrun); "
                        "trainer.batch_size is then the global batch. Several nodes: run torchrun yourself "
                        "(python -m colliderlab.train; see its docstring)")
    p.add_argument("--master-port", type=int, help="with --nproc-per-node: rendezvous on 127.0.0.1:PORT "
                   "(default: a free port, torchrun --standalone)")


def add_evaluate(sub: Any) -> None:
    """``colliderlab evaluate RUN_DIR --data FILE``."""
    p = sub.add_parser("evaluate", help="metrics and plots of a trained run on a labelled jet file")
    p.add_argument("run_dir")
    p.add_argument("--data", required=True, help="jet file (any format colliderlab reads)")
    p.add_argument("--out-dir", help="where results.json and plots go (default RUN_DIR/eval-<file>)")
    p.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamplings for uncertainties")
    _add_allow_missing(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def add_predict(sub: Any) -> None:
    """``colliderlab predict RUN_DIR --data FILE --out SCORES.h5 [--workers N] [--scheduler ADDR]``.

    A sharded sample (its master file) is scored shard by shard, one task per shard, into sharded
    scores: ``OUT.shards/scores-K.h5``, a manifest, and a master ``OUT`` that reads like a single
    score file (:mod:`colliderlab.train.predict_shards`); a killed run resumes. ``--workers 1``
    (the default) scores the shards one after the other in this process, each in chunks, so memory
    stays bounded; more workers start a local Dask cluster; ``--scheduler`` (or
    ``$COLLIDERLAB_SCHEDULER``) uses an existing one. Any other file is scored in this process.
    """
    p = sub.add_parser("predict", help="write class probabilities of every jet of a file to HDF5")
    p.add_argument("run_dir")
    p.add_argument("--data", required=True, help="jet file (any format colliderlab reads), or the master file of "
                   "a sharded sample (scored shard by shard into sharded scores)")
    p.add_argument("--out", required=True, help="output HDF5: scores (N, C), labels (N,) when known")
    _add_allow_missing(p)
    p.add_argument("--workers", type=int, default=1,
                   help="sharded samples: local Dask worker processes, one shard each at a time (default 1: "
                        "in this process, shard after shard, memory bounded)")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="sharded samples: address of a running Dask scheduler (tcp://HOST:8786; default "
                        "$COLLIDERLAB_SCHEDULER, else a local cluster of --workers processes)")
    p.add_argument("--overwrite", action="store_true",
                   help="sharded samples: replace OUT.shards when it holds the scores of another run or sample")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_convert_run(sub: Any) -> None:
    """``colliderlab convert-run RUN_DIR``."""
    p = sub.add_parser(
        "convert-run",
        help="convert a run directory's old pickled checkpoints (*.pt) to safetensors + JSON; "
             "this unpickles them, so only for runs you trust",
    )
    p.add_argument("run_dir")
    p.add_argument("--keep-legacy", action="store_true", help="keep the old .pt files (default: remove them)")


def add_export(sub: Any) -> None:
    """``colliderlab export RUN_DIR --to FORMAT``."""
    p = sub.add_parser("export", help="export a trained run: ONNX, torch.export, hls4ml or conifer")
    p.add_argument("run_dir")
    p.add_argument("--to", required=True, help="onnx, torch-export, hls4ml or conifer")
    p.add_argument("--out", help="output folder (default RUN_DIR/export)")
    p.add_argument("--data", help="jets for the parity check (default: the run's training file)")
    p.add_argument("--n-jets", type=int, default=256, help="jets compared in the parity check")
    _add_allow_missing(p)
    p.add_argument("--config", help="YAML of format options (hls4ml: precision, reuse factor, per-layer ...)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="one format option, e.g. --set reuse_factor=2 (repeatable)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def add_benchmark(sub: Any) -> None:
    """``colliderlab benchmark toptag``."""
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


def cmd_train(a: argparse.Namespace) -> int:
    from colliderlab.train.experiment import load_experiment, run_experiment

    cfg = load_experiment(a.experiment, a.overrides)
    if a.quiet:
        from dataclasses import replace

        cfg = replace(cfg, trainer=replace(cfg.trainer, progress=False))
    run_dir = a.run_dir or f"runs/{cfg.name}"
    if a.nproc_per_node:
        from colliderlab.train.launch import launch
        from colliderlab.train.trainer_config import resolve_device

        worker = [a.experiment, "--run-dir", run_dir, *(x for o in a.overrides for x in ("--set", o))]
        worker += ["--no-resume"] * a.no_resume + ["--quiet"] * a.quiet
        device = resolve_device(cfg.trainer.device).type
        return launch(worker, a.nproc_per_node, device_type=device, master_port=a.master_port)
    res = run_experiment(cfg, run_dir, resume=not a.no_resume, progress=not a.quiet)
    if res:  # rank 0 of a multi-process run, or the only process
        print(json.dumps({k: v for k, v in res.items() if not isinstance(v, dict)}, default=float))
        print(f"run directory: {run_dir}")
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from colliderlab.train.runs import evaluate_run

    res = evaluate_run(a.run_dir, a.data, out_dir=a.out_dir, progress=not a.json, bootstrap=a.bootstrap,
                       allow_missing=a.allow_missing)
    if a.json:
        print(json.dumps(res, default=float))
    else:
        for k, v in res.items():
            print(f"{k:>24}: {v}")
    return 0


def cmd_predict(a: argparse.Namespace) -> int:
    from colliderlab.data.formats import detect_format

    if detect_format(a.data) == "colliderlab-sharded":
        from colliderlab.cluster import ClusterConfig
        from colliderlab.train.predict_shards import predict_sharded

        cluster = ClusterConfig(workers=a.workers, scheduler=a.scheduler)
        out = predict_sharded(a.run_dir, a.data, a.out, cluster=cluster, allow_missing=a.allow_missing,
                              overwrite=a.overwrite, progress=not a.quiet)
    else:
        from colliderlab.train.runs import predict_run

        out = predict_run(a.run_dir, a.data, a.out, allow_missing=a.allow_missing, progress=not a.quiet)
    print(f"wrote {out}")
    return 0


def cmd_convert_run(a: argparse.Namespace) -> int:
    from colliderlab.train.checkpoint import convert_legacy

    print(f"colliderlab convert-run: unpickling the *.pt files of {a.run_dir}; this runs any code they "
          "carry, so convert only runs you trust", file=sys.stderr)
    for path in convert_legacy(a.run_dir, keep=a.keep_legacy):
        print(f"wrote {path.with_suffix('.safetensors')} and {path.name}")
    if not a.keep_legacy:
        print("removed the old .pt files")
    return 0


def cmd_benchmark(a: argparse.Namespace) -> int:
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


def cmd_export(a: argparse.Namespace) -> int:
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


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "convert-run": cmd_convert_run,
    "benchmark": cmd_benchmark,
    "export": cmd_export,
}
