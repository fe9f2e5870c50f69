"""The GNN track-finding pipeline: geometry from detectors.csv, graph construction, the interaction
network, track building, runs that reload, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from colliderlab.data.trackml import (
    TrackMLEvent,
    read_detectors,
    read_event,
    write_detectors,
    write_event,
)
from colliderlab.nn.interaction import InteractionNetwork, InteractionNetworkConfig
from colliderlab.tracking.build import BuildConfig, build_tracks
from colliderlab.tracking.features import FeatureConfig
from colliderlab.tracking.gnn import (
    GraphBuilder,
    PipelineConfig,
    TrainConfig,
    _fit,
    prepare_graph,
    scores,
)
from colliderlab.tracking.graph import (
    GraphConfig,
    _window_pairs,
    build_edges,
    layerwise_truth,
    learn_cuts,
    truth_segments,
)
from colliderlab.tracking.layers import layers_from_detectors
from colliderlab.tracking.metrics import score_event, tracking_performance
from colliderlab.tracking.run import TrackingRun, train_run
from colliderlab.tracking.sample import SampleConfig, simulated_event


@pytest.fixture(scope="module")
def geometry(ttbar_sample, tmp_path_factory):
    """Layers read back from a detectors.csv written for the simulated tracker."""
    _, tracker, _ = ttbar_sample
    path = tmp_path_factory.mktemp("geometry") / "detectors.csv"
    write_detectors(tracker.detectors(), path)
    return read_detectors(path)


@pytest.fixture(scope="module")
def cuts(geometry):
    """Layer-pair cuts learned from 40 other ttbar events (about 2 s to simulate)."""
    config = SampleConfig(pileup_mu=0.0, n_events=40, seed=22)
    events = [simulated_event(config, i) for i in range(config.n_events)]
    layers = layers_from_detectors(geometry)
    return layers, learn_cuts([(e.hits, e.truth, e.particles) for e in events], layers, GraphConfig())


def test_layers_come_from_the_detectors_file(ttbar_sample, geometry):
    _, tracker, _ = ttbar_sample
    layers = layers_from_detectors(geometry)
    card = tracker.card
    radii = sorted(la.radius for v in card.volumes for la in v.layers)
    assert len(layers) == sum(v.n_layers for v in card.volumes)
    assert np.sort(layers.position[layers.barrel]) == pytest.approx(radii, rel=0.01)
    disks = sorted(v.side * z for v in card.volumes for z in v.disks_z)
    assert np.sort(layers.position[~layers.barrel]) == pytest.approx(disks, abs=1e-6)
    with pytest.raises(ValueError, match=r"\(99, 2\)"):
        layers.index_of(np.array([8, 99]), np.array([2, 2]))
    with pytest.raises(ValueError, match="rot_zw"):
        layers_from_detectors(geometry.drop(columns="rot_zw"))


def test_window_pairs_match_brute_force():
    rng = np.random.default_rng(0)
    phi_in, phi_out = rng.uniform(-np.pi, np.pi, 300), rng.uniform(-np.pi, np.pi, 200)
    i, j = _window_pairs(phi_in, phi_out, -0.05, 0.12)
    dphi = (phi_out[None, :] - phi_in[:, None] + np.pi) % (2 * np.pi) - np.pi
    want = set(zip(*np.nonzero((dphi >= -0.05) & (dphi <= 0.12)), strict=True))
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == {(int(a), int(b)) for a, b in want}


def test_graph_keeps_the_true_segments_of_new_events(ttbar_sample, cuts):
    _, _, events = ttbar_sample
    layers, lp = cuts
    for event in events:
        edges = build_edges(event.hits, layers, lp)
        a, b, _ = truth_segments(event.hits, event.truth, event.particles, pt_min=1.0)
        lay = layers.index_of(event.hits.volume_id.to_numpy(), event.hits.layer_id.to_numpy())
        wanted = {(int(x), int(y)) for x, y in zip(a, b, strict=True) if lay[x] != lay[y]}
        got = set(zip(edges[0].tolist(), edges[1].tolist(), strict=True))
        assert len(wanted & got) / len(wanted) > 0.97
        assert edges.shape[1] < 8 * len(event.hits)  # a sparse graph, not all pairs


def test_interaction_network_is_equivariant_and_trains_every_parameter():
    torch.manual_seed(0)
    net = InteractionNetwork(InteractionNetworkConfig(node_features=3, edge_features=6, hidden=16, n_iterations=3))
    x, ea = torch.randn(30, 3), torch.randn(80, 6)
    ei = torch.randint(0, 30, (2, 80))
    out = net(x, ei, ea)
    perm, eperm = torch.randperm(30), torch.randperm(80)
    inverse = torch.argsort(perm)  # node perm[k] becomes node k
    out2 = net(x[perm], inverse[ei[:, eperm]], ea[eperm])
    assert torch.allclose(out2, out[eperm], atol=1e-5)
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    with pytest.raises(ValueError, match=r"edge_attr has shape \(80, 4\), expected \(80, 6\)"):
        net(x, ei, ea[:, :4])
    with pytest.raises(ValueError, match="outside"):
        net(x, ei + 30, ea)


def test_edge_classifier_learns_within_a_fixed_step_count(ttbar_sample, cuts):
    _, _, events = ttbar_sample
    layers, lp = cuts
    from colliderlab.tracking.features import Standardizer, node_features

    std = Standardizer.for_nodes([node_features(e, FeatureConfig()) for e in events[:4]])
    builder = GraphBuilder(layers, "cuts", cuts=lp)
    graphs = [prepare_graph(e, builder, FeatureConfig(), std) for e in events]
    std.fit_edges([g.edge_attr for g in graphs[:4]])
    torch.manual_seed(1)
    net = InteractionNetwork(InteractionNetworkConfig(node_features=7, edge_features=6, hidden=32, n_iterations=4))
    history = _fit(net, graphs[:4], graphs[4:], std, epochs=20, lr=3e-3, name="gnn")
    assert history[-1]["val_loss"] < 0.5 * history[0]["val_loss"]
    s = np.concatenate([scores(net, g, std) for g in graphs[4:]])
    y = np.concatenate([g.y for g in graphs[4:]])
    assert (s[y] > 0.5).mean() > 0.85 and (s[~y] < 0.5).mean() > 0.85


def test_walkthrough_splits_tracks_joined_by_a_wrong_edge():
    # two chains 0-1-2-3-4 and 5-6-7-8-9, joined by a wrong edge 2 -> 8 scored above the cut
    edges = np.array([[0, 1, 2, 3, 5, 6, 7, 8, 2], [1, 2, 3, 4, 6, 7, 8, 9, 8]])
    s = np.array([0.9, 0.95, 0.9, 0.92, 0.9, 0.93, 0.97, 0.9, 0.6])
    ids = np.arange(10) + 100
    comp = build_tracks(ids, edges, s, BuildConfig(method="components"))
    assert comp.track_id.nunique() == 1
    walk = build_tracks(ids, edges, s, BuildConfig(method="walkthrough"))
    assert walk.track_id[:5].nunique() == 1 and walk.track_id[5:].nunique() == 1
    assert walk.track_id[0] != walk.track_id[5]
    short = build_tracks(ids, edges, s, BuildConfig(method="components", score_cut=0.91, min_hits=3))
    assert (short.track_id[[0, 1, 3, 4]] == -1).all()  # pieces under three hits are unassigned
    with pytest.raises(ValueError, match="method"):
        BuildConfig(method="greedy")


def test_truth_assignment_scores_one_and_a_simulated_event_round_trips(ttbar_sample, tmp_path):
    _, _, events = ttbar_sample
    event = events[0]
    pid = event.truth.particle_id
    perfect = event.truth[["hit_id"]].assign(track_id=pid.where(pid > 0, -1))  # noise unassigned
    assert score_event(event.truth, perfect) == pytest.approx(1.0, abs=1e-12)
    perf = tracking_performance(event.truth, event.particles, perfect)
    assert perf.efficiency == 1.0 and perf.fake_rate == 0.0
    write_event(event, tmp_path, 1000)
    back = read_event(tmp_path, 1000)
    for part in ("hits", "cells", "particles", "truth"):
        pd.testing.assert_frame_equal(getattr(back, part), getattr(event, part)[getattr(back, part).columns],
                                      check_dtype=False)


def test_a_run_reloads_and_refuses_events_it_cannot_read(ttbar_sample, geometry, tmp_path):
    _, _, events = ttbar_sample
    config = PipelineConfig.for_features(FeatureConfig(cells=True), train=TrainConfig(epochs=1, filter_epochs=1),
                                         gnn=InteractionNetworkConfig(hidden=16, n_iterations=2))
    run = train_run(events[:2], events[2:3], geometry, config, tmp_path / "run")
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["reads"]["cells"] == ["hit_id", "ch0", "ch1", "value"]
    assert {p.name for p in (tmp_path / "run").iterdir()} == {"run.json", "filter.safetensors", "gnn.safetensors"}
    loaded = TrackingRun.load(tmp_path / "run")
    a, _ = run.reconstruct(events[3])
    b, seconds = loaded.reconstruct(events[3])
    pd.testing.assert_frame_equal(a, b)
    assert set(seconds) == {"graph", "filter", "gnn", "build"}
    no_cells = TrackMLEvent(hits=events[3].hits, cells=None)
    with pytest.raises(ValueError, match="cells"):
        loaded.reconstruct(no_cells)
    with pytest.raises(ValueError, match="lacks volume_id"):
        loaded.reconstruct(TrackMLEvent(hits=events[3].hits.drop(columns="volume_id"), cells=events[3].cells))
    with pytest.raises(ValueError, match="no hits"):
        loaded.reconstruct(TrackMLEvent(hits=events[3].hits.iloc[:0], cells=events[3].cells.iloc[:0]))


def test_knn_graph_matches_brute_force():
    from colliderlab.nn.knn import knn_graph

    torch.manual_seed(0)
    pts = torch.randn(500, 4)
    e = knn_graph(pts, 6, radius=1.0, max_entries=20_000)  # 40 rows per block
    d = torch.cdist(pts, pts)
    d.fill_diagonal_(float("inf"))
    nearest = d.topk(6, largest=False)
    want = {(i, int(j)) for i in range(500) for j, dist in zip(nearest.indices[i], nearest.values[i], strict=True)
            if dist < 1.0}
    assert set(zip(e[0].tolist(), e[1].tolist(), strict=True)) == want


def test_metric_learning_graph_trains_and_reloads(ttbar_sample, geometry, tmp_path):
    from colliderlab.tracking.embedding import EmbeddingConfig
    from colliderlab.tracking.graph import GraphConfig as GC

    _, _, events = ttbar_sample
    config = PipelineConfig.for_features(
        FeatureConfig(cells=True), graph=GC(method="metric"),
        embedding=EmbeddingConfig(epochs=30, lr=5e-3, k=12, radius=1.0, hidden=(64, 64)),
        train=TrainConfig(epochs=1, filter_epochs=1, threads=1), gnn=InteractionNetworkConfig(hidden=16, n_iterations=2))
    run = train_run(events[:4], events[4:5], geometry, config, tmp_path / "metric")
    losses = [h["loss"] for h in run.history if h["model"] == "embedding"]
    assert losses[-1] < 0.8 * losses[0]
    from colliderlab.tracking.gnn import prepare_graph as prepare

    graph = prepare(events[5], run.builder, config.features, run.standardizer)
    n_true = layerwise_truth(events[5].hits, events[5].truth, events[5].particles, run.builder.layers).shape[1]
    assert graph.y.sum() / n_true > 0.6  # of the true segments of an unseen event, from 12 neighbours each
    assert graph.y.mean() > 0.05  # purity, against ~1e-3 for 12 random neighbours of ~2000 hits
    lay = run.builder.layers.index_of(events[5].hits.volume_id.to_numpy(), events[5].hits.layer_id.to_numpy())
    assert (lay[graph.edges[0]] != lay[graph.edges[1]]).all()
    loaded = TrackingRun.load(tmp_path / "metric")
    pd.testing.assert_frame_equal(run.reconstruct(events[5])[0], loaded.reconstruct(events[5])[0])


def test_module_map_keeps_only_module_pairs_seen_in_training(ttbar_sample, cuts):
    _, _, events = ttbar_sample
    layers, _ = cuts
    train = [(e.hits, e.truth, e.particles) for e in events[:4]]
    plain = learn_cuts(train, layers, GraphConfig())
    mapped = learn_cuts(train, layers, GraphConfig(method="module_map"))
    assert plain.module_pairs is None and len(mapped.module_pairs) > 100
    assert (np.diff(mapped.module_pairs) > 0).all()  # sorted, unique keys
    event = events[0]  # a training event: every pT > 0.9 GeV segment's module pair is in the map
    e_plain, e_map = build_edges(event.hits, layers, plain), build_edges(event.hits, layers, mapped)
    got_plain = set(zip(e_plain[0].tolist(), e_plain[1].tolist(), strict=True))
    got_map = set(zip(e_map[0].tolist(), e_map[1].tolist(), strict=True))
    assert got_map <= got_plain and len(got_map) < len(got_plain)
    a, b, _ = truth_segments(event.hits, event.truth, event.particles, pt_min=0.9)
    lay = layers.index_of(event.hits.volume_id.to_numpy(), event.hits.layer_id.to_numpy())
    wanted = {(int(x), int(y)) for x, y in zip(a, b, strict=True) if lay[x] != lay[y]}
    assert len(wanted & got_map) == len(wanted & got_plain)
    with pytest.raises(ValueError, match="module_map"):
        GraphConfig(method="grid")
