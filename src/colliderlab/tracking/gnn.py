"""Training the GNN track finder: learned graph cuts, an edge filter, an interaction network.

The stages of Exa.TrkX (arXiv:2103.06995): graph construction (:mod:`~colliderlab.tracking.graph`,
geometric cuts per layer pair learned from the truth of the training events), an edge filter
(:class:`~colliderlab.nn.interaction.EdgeFilter`; its cut keeps ``filter_efficiency`` of the true
edges of the validation events), and the interaction-network edge classifier
(:class:`~colliderlab.nn.interaction.InteractionNetwork`), each trained with binary cross
entropy weighted by the ratio of false to true edges. The interaction network kept is the one of
the epoch with the lowest validation loss.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from colliderlab.data.trackml import TrackMLEvent
from colliderlab.nn.interaction import (
    EdgeFilter,
    EdgeFilterConfig,
    InteractionNetwork,
    InteractionNetworkConfig,
)
from colliderlab.progress import write_line
from colliderlab.tracking.build import BuildConfig
from colliderlab.tracking.embedding import Embedding, EmbeddingConfig, metric_edges, train_embedding
from colliderlab.tracking.features import (
    FeatureConfig,
    Standardizer,
    check_event,
    edge_features,
    node_features,
)
from colliderlab.tracking.graph import (
    GraphConfig,
    LayerPairCuts,
    build_edges,
    edge_truth,
    layerwise_truth,
    learn_cuts,
)
from colliderlab.tracking.layers import Layers, hit_coordinates

__all__ = ["TrainConfig", "PipelineConfig", "Graph", "GraphBuilder", "prepare_graph", "train_models"]


@dataclass(frozen=True)
class TrainConfig:
    """Epochs and optimiser of the filter and of the interaction network."""

    epochs: int = 12
    filter_epochs: int = 4
    lr: float = 2e-3
    filter_lr: float = 1e-3
    use_filter: bool = True
    filter_efficiency: float = 0.995
    seed: int = 0
    threads: int = 2


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a tracking run is made with (saved in its ``run.json``)."""

    graph: GraphConfig = field(default_factory=GraphConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    filter: EdgeFilterConfig = field(default_factory=EdgeFilterConfig)
    gnn: InteractionNetworkConfig = field(default_factory=InteractionNetworkConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    build: BuildConfig = field(default_factory=BuildConfig)

    def __post_init__(self) -> None:
        f = self.features
        for name, cfg in (("filter", self.filter), ("gnn", self.gnn)):
            if (cfg.node_features, cfg.edge_features) != (f.n_node, f.n_edge):
                raise ValueError(f"{name} takes {cfg.node_features} node and {cfg.edge_features} edge features, "
                                 f"the features give {f.n_node} and {f.n_edge}")
        if self.embedding.node_features != f.n_node:
            raise ValueError(f"the embedding takes {self.embedding.node_features} node features, "
                             f"the features give {f.n_node}")

    @classmethod
    def for_features(cls, features: FeatureConfig, **kwargs) -> PipelineConfig:
        """A config whose models match ``features``' widths (other sections from ``kwargs``)."""
        import dataclasses

        filt = kwargs.pop("filter", EdgeFilterConfig())
        gnn = kwargs.pop("gnn", InteractionNetworkConfig())
        emb = kwargs.pop("embedding", EmbeddingConfig())
        widths = {"node_features": features.n_node, "edge_features": features.n_edge}
        return cls(features=features, filter=dataclasses.replace(filt, **widths),
                   gnn=dataclasses.replace(gnn, **widths),
                   embedding=dataclasses.replace(emb, node_features=features.n_node), **kwargs)


@dataclass
class Graph:
    """One event's graph: raw node features ``(N, F)``, edges ``(2, E)``, raw edge features
    ``(E, Fe)``, truth ``(E,)`` (None without truth) and the hit ids ``(N,)``."""

    x: np.ndarray
    edges: np.ndarray
    edge_attr: np.ndarray
    y: np.ndarray | None
    hit_ids: np.ndarray

    def subset(self, keep: np.ndarray) -> Graph:
        return Graph(self.x, self.edges[:, keep], self.edge_attr[keep], None if self.y is None else self.y[keep],
                     self.hit_ids)

    def tensors(self, std: Standardizer) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (torch.from_numpy(std.nodes(self.x)), torch.from_numpy(self.edges.astype(np.int64)),
                torch.from_numpy(std.edges(self.edge_attr)))


@dataclass
class GraphBuilder:
    """How an event's candidate edges are made: the layers (from the geometry file), and the
    learned layer-pair cuts (methods "cuts", "module_map") or the embedding ("metric")."""

    layers: Layers
    method: str
    cuts: LayerPairCuts | None = None
    embedding: Embedding | None = None

    def edges(self, event: TrackMLEvent, x: np.ndarray) -> np.ndarray:
        """``(2, E)`` edges of an event whose standardised node features are ``x`` ``(N, F)``."""
        if len(event.hits) == 0:
            raise ValueError("the event has no hits: nothing to build a graph from")
        if self.method == "metric":
            lay = self.layers.index_of(event.hits.volume_id.to_numpy(), event.hits.layer_id.to_numpy())
            c = hit_coordinates(event.hits)
            return metric_edges(self.embedding, torch.from_numpy(x), np.hypot(c["r"], c["z"]), lay)
        return build_edges(event.hits, self.layers, self.cuts)


def prepare_graph(event: TrackMLEvent, builder: GraphBuilder, features: FeatureConfig, std: Standardizer,
                  source: str = "event") -> Graph:
    """The candidate graph of an event (with edge truth when the event has truth and particles)."""
    check_event(event, features, source)
    x = node_features(event, features)
    edges = builder.edges(event, std.nodes(x))
    has_truth = event.truth is not None and event.particles is not None
    y = edge_truth(edges, event.hits, event.truth, event.particles, builder.layers) if has_truth else None
    return Graph(x, edges, edge_features(event, edges), y, event.hits.hit_id.to_numpy())


def _builder(train: list[TrackMLEvent], layers: Layers, config: PipelineConfig, std: Standardizer,
             history: list[dict]) -> GraphBuilder:
    method = config.graph.method
    if method != "metric":
        cuts = learn_cuts([(e.hits, e.truth, e.particles) for e in train], layers, config.graph)
        maps = f", {len(cuts.module_pairs)} module pairs" if cuts.module_pairs is not None else ""
        write_line(f"graph: {len(cuts)} layer pairs{maps} learned from {len(train)} events")
        return GraphBuilder(layers, method, cuts=cuts)
    xs = [torch.from_numpy(std.nodes(node_features(e, config.features))) for e in train]
    segs = [torch.from_numpy(layerwise_truth(e.hits, e.truth, e.particles, layers)) for e in train]
    emb, hist = train_embedding(xs, segs, config.embedding, seed=config.train.seed)
    history += hist
    return GraphBuilder(layers, method, embedding=emb)


def _fit(model: nn.Module, graphs: list[Graph], val: list[Graph], std: Standardizer, epochs: int, lr: float,
         name: str) -> list[dict]:
    n_true = sum(int(g.y.sum()) for g in graphs)
    n_all = sum(len(g.y) for g in graphs)
    pos_weight = torch.tensor(max((n_all - n_true) / max(n_true, 1), 1.0))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-5)
    steps = max(epochs * len(graphs), 1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    data = [(g.tensors(std), torch.from_numpy(g.y.astype(np.float32))) for g in graphs]
    vdata = [(g.tensors(std), torch.from_numpy(g.y.astype(np.float32))) for g in val]
    history, best, best_state = [], np.inf, None
    order_rng = np.random.default_rng(0)
    for epoch in range(epochs):
        t0 = time.perf_counter()
        model.train()
        total = 0.0
        for i in order_rng.permutation(len(data)):
            (x, ei, ea), y = data[i]
            loss = loss_fn(model(x, ei, ea), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        val_loss, eff, pur = _evaluate(model, vdata, loss_fn)
        history.append({"model": name, "epoch": epoch + 1, "loss": total / max(len(data), 1), "val_loss": val_loss,
                        "val_edge_efficiency": eff, "val_edge_purity": pur, "seconds": time.perf_counter() - t0})
        write_line(f"{name} epoch {epoch + 1}/{epochs}: loss {history[-1]['loss']:.4f} val {val_loss:.4f} "
                   f"edge eff {eff:.4f} purity {pur:.4f} ({history[-1]['seconds']:.1f} s)")
        if val_loss < best:
            best, best_state = val_loss, {k: v.detach().clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


@torch.no_grad()
def _evaluate(model: nn.Module, vdata, loss_fn) -> tuple[float, float, float]:
    model.eval()
    losses, tp, n_true, n_pos = [], 0, 0, 0
    for (x, ei, ea), y in vdata:
        logits = model(x, ei, ea)
        losses.append(float(loss_fn(logits, y)))
        pred = logits > 0
        tp += int((pred & (y > 0)).sum())
        n_true += int(y.sum())
        n_pos += int(pred.sum())
    return float(np.mean(losses)) if losses else np.nan, tp / max(n_true, 1), tp / max(n_pos, 1)


@torch.no_grad()
def scores(model: nn.Module, graph: Graph, std: Standardizer) -> np.ndarray:
    """Edge scores ``(E,)`` in [0, 1]."""
    model.eval()
    return torch.sigmoid(model(*graph.tensors(std))).numpy()


def train_models(train: list[TrackMLEvent], val: list[TrackMLEvent], layers: Layers, config: PipelineConfig):
    """Build the graph constructor, then train the filter, then the interaction network.

    Returns:
        ``(builder, standardizer, filter_model or None, filter_cut, gnn, history)``.
    """
    torch.manual_seed(config.train.seed)
    torch.set_num_threads(config.train.threads)
    if not train or not val:
        raise ValueError(f"training needs training and validation events, got {len(train)} and {len(val)}")
    for i, e in enumerate(train):
        check_event(e, config.features, f"training event {i}")
    std = Standardizer.for_nodes([node_features(e, config.features) for e in train])
    history: list[dict] = []
    builder = _builder(train, layers, config, std, history)
    graphs = [prepare_graph(e, builder, config.features, std, f"training event {i}") for i, e in enumerate(train)]
    vgraphs = [prepare_graph(e, builder, config.features, std, f"validation event {i}") for i, e in enumerate(val)]
    std.fit_edges([g.edge_attr for g in graphs])
    filt, filter_cut = None, 0.0
    if config.train.use_filter:
        filt = EdgeFilter(config.filter)
        history += _fit(filt, graphs, vgraphs, std, config.train.filter_epochs, config.train.filter_lr, "filter")
        vscores = [scores(filt, g, std) for g in vgraphs]  # scored once, used for the cut and the subset
        true_scores = np.concatenate([s[g.y] for s, g in zip(vscores, vgraphs, strict=True)])
        filter_cut = float(np.quantile(true_scores, 1 - config.train.filter_efficiency)) if len(true_scores) else 0.0
        graphs = [g.subset(scores(filt, g, std) >= filter_cut) for g in graphs]
        vgraphs = [g.subset(s >= filter_cut) for s, g in zip(vscores, vgraphs, strict=True)]
        kept = sum(g.edges.shape[1] for g in vgraphs)
        write_line(f"filter: cut {filter_cut:.4f} keeps {config.train.filter_efficiency:.3f} of true validation edges "
                   f"and {kept} edges")
    gnn = InteractionNetwork(config.gnn)
    history += _fit(gnn, graphs, vgraphs, std, config.train.epochs, config.train.lr, "gnn")
    return builder, std, filt, filter_cut, gnn, history
