"""A trained tracking run: a directory of JSON and safetensors that rebuilds the whole pipeline.

``run.json`` holds the configs, the layers read from the training geometry, the learned layer
pair cuts, the feature standardisation, the filter cut, the fields read from an event and the
training history; ``filter.safetensors``, ``gnn.safetensors`` and (metric learning)
``embedding.safetensors`` the weights, ``module_map.safetensors`` the module map. Nothing loaded
runs code. :meth:`TrackingRun.reconstruct` takes an event to tracks and times each stage.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from colliderlab.atomic import write_json, write_safetensors
from colliderlab.configs import from_dict
from colliderlab.data.trackml import TrackMLEvent
from colliderlab.nn.interaction import EdgeFilter, InteractionNetwork
from colliderlab.tracking.build import build_tracks
from colliderlab.tracking.embedding import Embedding
from colliderlab.tracking.features import Standardizer, required_fields
from colliderlab.tracking.gnn import (
    GraphBuilder,
    PipelineConfig,
    prepare_graph,
    scores,
    train_models,
)
from colliderlab.tracking.graph import LayerPairCuts
from colliderlab.tracking.layers import Layers, layers_from_detectors

__all__ = ["RUN_KIND", "TrackingRun", "train_run"]

RUN_KIND = "colliderlab-tracking"
RUN_VERSION = 1


@dataclass
class TrackingRun:
    """The pipeline of a run: config, geometry, cuts, standardisation and the two models."""

    config: PipelineConfig
    builder: GraphBuilder
    standardizer: Standardizer
    filter: EdgeFilter | None
    filter_cut: float
    gnn: InteractionNetwork
    history: list[dict]

    def save(self, directory: str | os.PathLike) -> Path:
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        b = self.builder
        if self.filter is not None:
            write_safetensors(out / "filter.safetensors", _contiguous(self.filter.state_dict()))
        if b.embedding is not None:
            write_safetensors(out / "embedding.safetensors", _contiguous(b.embedding.state_dict()))
        if b.cuts is not None and b.cuts.module_pairs is not None:
            write_safetensors(out / "module_map.safetensors", {"module_pairs": torch.from_numpy(b.cuts.module_pairs)})
        write_safetensors(out / "gnn.safetensors", _contiguous(self.gnn.state_dict()))
        write_json(out / "run.json", {
            "kind": RUN_KIND, "version": RUN_VERSION, "config": dataclasses.asdict(self.config),
            "layers": b.layers.to_dict(), "cuts": None if b.cuts is None else b.cuts.to_dict(),
            "standardizer": self.standardizer.to_dict(),
            "filter_cut": self.filter_cut, "reads": {k: list(v) for k, v in required_fields(self.config.features).items()},
            "history": self.history,
        })
        return out

    @classmethod
    def load(cls, directory: str | os.PathLike) -> TrackingRun:
        from safetensors.torch import load_file

        path = Path(directory) / "run.json"
        if not path.is_file():
            raise FileNotFoundError(f"{directory} is not a tracking run: it has no run.json")
        meta = json.loads(path.read_text())
        if meta.get("kind") != RUN_KIND or meta.get("version") != RUN_VERSION:
            raise ValueError(f"{path} is not a colliderlab tracking run of version {RUN_VERSION} "
                             f"(kind {meta.get('kind')!r}, version {meta.get('version')!r})")
        config = from_dict(PipelineConfig, meta["config"], "config")
        d = Path(directory)
        filt = None
        if config.train.use_filter:
            filt = EdgeFilter(config.filter)
            filt.load_state_dict(load_file(str(d / "filter.safetensors")))
        gnn = InteractionNetwork(config.gnn)
        gnn.load_state_dict(load_file(str(d / "gnn.safetensors")))
        builder = GraphBuilder(Layers.from_dict(meta["layers"]), config.graph.method)
        if config.graph.method == "metric":
            builder.embedding = Embedding(config.embedding)
            builder.embedding.load_state_dict(load_file(str(d / "embedding.safetensors")))
        else:
            pairs = None
            if config.graph.method == "module_map":
                pairs = load_file(str(d / "module_map.safetensors"))["module_pairs"].numpy()
            builder.cuts = LayerPairCuts.from_dict(meta["cuts"], module_pairs=pairs)
        return cls(config, builder, Standardizer.from_dict(meta["standardizer"]), filt, float(meta["filter_cut"]),
                   gnn, meta["history"])

    def edge_scores(self, event: TrackMLEvent, source: str = "event") -> tuple[object, np.ndarray, dict[str, float]]:
        """The event's graph after the filter, the interaction network's scores and stage times."""
        seconds = {}
        t0 = time.perf_counter()
        graph = prepare_graph(event, self.builder, self.config.features, self.standardizer, source)
        seconds["graph"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if self.filter is not None:
            graph = graph.subset(scores(self.filter, graph, self.standardizer) >= self.filter_cut)
        seconds["filter"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        s = scores(self.gnn, graph, self.standardizer)
        seconds["gnn"] = time.perf_counter() - t0
        return graph, s, seconds

    def reconstruct(self, event: TrackMLEvent, source: str = "event") -> tuple[pd.DataFrame, dict[str, float]]:
        """Tracks of an event (``hit_id, track_id``; -1 unassigned) and the seconds of each stage."""
        graph, s, seconds = self.edge_scores(event, source)
        t0 = time.perf_counter()
        tracks = build_tracks(graph.hit_ids, graph.edges, s, self.config.build)
        seconds["build"] = time.perf_counter() - t0
        return tracks, seconds


def _contiguous(state: dict) -> dict:
    return {k: v.detach().contiguous().clone() for k, v in state.items()}


def train_run(train: list[TrackMLEvent], val: list[TrackMLEvent], detectors: pd.DataFrame,
              config: PipelineConfig, directory: str | os.PathLike | None = None) -> TrackingRun:
    """Train the pipeline on ``train`` (validation on ``val``) for the geometry ``detectors``."""
    layers = layers_from_detectors(detectors)
    builder, std, filt, cut, gnn, history = train_models(train, val, layers, config)
    run = TrackingRun(config, builder, std, filt, cut, gnn, history)
    if directory is not None:
        run.save(directory)
    return run
