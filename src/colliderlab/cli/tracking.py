"""``colliderlab tracking {simulate,train,reconstruct,evaluate}``: GNN track finding on TrackML files."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

__all__ = ["COMMANDS", "add_tracking"]


def add_tracking(sub: Any) -> None:
    """``colliderlab tracking ...``."""
    p = sub.add_parser("tracking", help="hit-level tracker simulation and GNN track finding (TrackML layout)")
    tr = p.add_subparsers(dest="tracking_command", required=True)
    q = tr.add_parser("simulate", help="Pythia events through the silicon tracker into TrackML files")
    q.add_argument("--out", required=True, help="directory of the sample (events, detectors.csv, sample.json)")
    q.add_argument("--events", type=int, default=100)
    q.add_argument("--mu", type=float, default=0.0, help="mean pileup (soft-QCD events per event)")
    q.add_argument("--process", default="ttbar", help="hard process: ttbar, minbias or zmumu")
    q.add_argument("--card", default="trackml-like", help="tracker card: a built-in name or a YAML file")
    q.add_argument("--seed", type=int, default=1)
    q.add_argument("--first-event", type=int, default=1000, help="id of the first event's files")
    q.add_argument("--workers", type=int, default=1, help="local Dask worker processes (1: in this process)")
    q.add_argument("--scheduler", help="address of an existing Dask scheduler")
    q = tr.add_parser("train", help="learn the graph cuts, the edge filter and the interaction network")
    q.add_argument("--data", required=True, help="training sample directory (TrackML layout with truth)")
    q.add_argument("--out", required=True, help="run directory to write")
    q.add_argument("--detectors", help="geometry file (default DATA/detectors.csv)")
    q.add_argument("--val-events", type=int, default=10, help="events held out for validation (the last ones)")
    q.add_argument("--max-events", type=int, help="use at most this many events")
    q.add_argument("--epochs", type=int, default=12)
    q.add_argument("--filter-epochs", type=int, default=4)
    q.add_argument("--no-filter", action="store_true", help="classify the whole constructed graph")
    q.add_argument("--no-cells", action="store_true", help="node features without the cluster shape")
    q.add_argument("--hidden", type=int, default=64)
    q.add_argument("--iterations", type=int, default=6, help="message-passing rounds")
    q.add_argument("--graph", default="cuts", choices=("cuts", "module_map", "metric"),
                   help="graph construction: learned layer-pair cuts, a module map, or metric learning")
    q.add_argument("--embedding-epochs", type=int, default=10, help="epochs of the metric-learning embedding")
    q.add_argument("--pt-min", type=float, default=0.9, help="particles whose segments set the graph cuts (GeV)")
    q.add_argument("--threads", type=int, default=2)
    q.add_argument("--seed", type=int, default=0)
    for name, helptext in (("reconstruct", "tracks of every event, written as event*-tracks.csv"),
                           ("evaluate", "efficiency, fake and duplicate rates, TrackML score, time per event")):
        q = tr.add_parser(name, help=helptext)
        q.add_argument("--data", required=True, help="sample directory (TrackML layout)")
        q.add_argument("--method", default="gnn", choices=("gnn", "baseline"))
        q.add_argument("--run", help="tracking run directory (for --method gnn)")
        q.add_argument("--detectors", help="geometry file (default DATA/detectors.csv)")
        q.add_argument("--b-field", type=float, help="field in tesla for the baseline (default: the sample's card, "
                                                      "else 2)")
        q.add_argument("--max-events", type=int)
        q.add_argument("--threads", type=int, default=2)
        if name == "reconstruct":
            q.add_argument("--out", required=True, help="directory for event*-tracks.csv and timing.json")
        else:
            q.add_argument("--pt-min", type=float, default=1.0, help="pT threshold of the efficiency (GeV)")
            q.add_argument("--out", help="write the summary (and per-event rows) to this JSON file")


def _simulate(args: argparse.Namespace) -> int:
    from colliderlab.cluster import ClusterConfig
    from colliderlab.tracking.sample import SampleConfig, simulate_sample

    config = SampleConfig(card=args.card, process=args.process, pileup_mu=args.mu, n_events=args.events,
                          seed=args.seed, first_event=args.first_event)
    cluster = ClusterConfig(workers=args.workers, scheduler=args.scheduler)
    ids = simulate_sample(args.out, config, cluster)
    print(json.dumps({"out": args.out, "events": len(ids), "first": ids[0], "last": ids[-1], **dataclasses.asdict(config)}))
    return 0


def _train(args: argparse.Namespace) -> int:
    from colliderlab.nn.interaction import InteractionNetworkConfig
    from colliderlab.tracking.embedding import EmbeddingConfig
    from colliderlab.tracking.evaluate import sample_detectors, sample_events
    from colliderlab.tracking.features import FeatureConfig
    from colliderlab.tracking.gnn import PipelineConfig, TrainConfig
    from colliderlab.tracking.graph import GraphConfig
    from colliderlab.tracking.run import train_run

    events = [e for _, e in sample_events(args.data, args.max_events)]
    if len(events) <= args.val_events:
        raise ValueError(f"{args.data} has {len(events)} events: not enough for {args.val_events} validation events")
    config = PipelineConfig.for_features(
        FeatureConfig(cells=not args.no_cells), graph=GraphConfig(method=args.graph, pt_min=args.pt_min),
        gnn=InteractionNetworkConfig(hidden=args.hidden, n_iterations=args.iterations),
        embedding=EmbeddingConfig(epochs=args.embedding_epochs),
        train=TrainConfig(epochs=args.epochs, filter_epochs=args.filter_epochs, use_filter=not args.no_filter,
                          seed=args.seed, threads=args.threads),
    )
    run = train_run(events[: -args.val_events], events[-args.val_events:], sample_detectors(args.data, args.detectors),
                    config, args.out)
    last = [h for h in run.history if h["model"] == "gnn"][-1]
    print(json.dumps({"run": args.out, "train_events": len(events) - args.val_events, **last}))
    return 0


def _reconstructor(args: argparse.Namespace):
    import torch

    from colliderlab.tracking.evaluate import sample_detectors, timed

    torch.set_num_threads(args.threads)
    if args.method == "gnn":
        from colliderlab.tracking.run import TrackingRun

        if not args.run:
            raise ValueError("--method gnn needs --run RUN_DIR (colliderlab tracking train)")
        run = TrackingRun.load(args.run)
        return lambda event: run.reconstruct(event)
    from colliderlab.tracking.baseline import BaselineConfig, find_tracks
    from colliderlab.tracking.layers import layers_from_detectors

    detectors = sample_detectors(args.data, args.detectors)
    layers = layers_from_detectors(detectors)
    b_field = args.b_field or _sample_field(args.data)
    config = BaselineConfig()
    return timed(lambda event: find_tracks(event.hits, layers, b_field, config, detectors=detectors), "baseline")


def _sample_field(directory: str) -> float:
    from colliderlab.physics.tracker import load_tracker_card
    from colliderlab.tracking.sample import read_sample_config

    if (Path(directory) / "sample.json").is_file():
        return load_tracker_card(read_sample_config(directory).card).b_field
    return 2.0


def _reconstruct(args: argparse.Namespace) -> int:
    from colliderlab.atomic import replacing, write_json
    from colliderlab.progress import progress
    from colliderlab.tracking.evaluate import sample_events

    fn = _reconstructor(args)
    parts = ("hits", "cells") if args.method == "gnn" else ("hits",)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timing = {}
    events = sample_events(args.data, args.max_events, parts=parts)
    for event_id, event in progress(events, desc="reconstruct"):
        tracks, seconds = fn(event)
        with replacing(out / f"event{event_id:09d}-tracks.csv", keep_suffix=True) as tmp:
            tracks.to_csv(tmp, index=False)
        timing[str(event_id)] = seconds
    write_json(out / "timing.json", {"method": args.method, "run": args.run, "seconds": timing})
    print(json.dumps({"out": args.out, "events": len(timing), "method": args.method}))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from colliderlab.atomic import write_json
    from colliderlab.tracking.evaluate import evaluate, sample_events

    events = sample_events(args.data, args.max_events)
    summary = evaluate(events, _reconstructor(args), pt_min=args.pt_min, n_events=len(events))
    summary["method"], summary["run"], summary["data"] = args.method, args.run, args.data
    if args.out:
        write_json(args.out, summary)
    print(json.dumps({k: v for k, v in summary.items() if k != "events"}, indent=1))
    return 0


COMMANDS: dict[str, Any] = {"tracking": lambda a: {"simulate": _simulate, "train": _train, "reconstruct": _reconstruct,
                                                   "evaluate": _evaluate}[a.tracking_command](a)}
