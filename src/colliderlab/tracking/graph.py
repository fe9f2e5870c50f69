"""Graph construction: which pairs of hits may be consecutive hits of one track.

Geometric cuts learned per pair of layers (the "heuristic" graph of HEP.TrkX/Exa.TrkX,
arXiv:1810.06111 and 2103.06995): from the truth of training events, every pair of consecutive
hits of a particle with ``pT >= pt_min`` (hits ordered by distance from the particle's vertex)
gives its inner and outer layer, the azimuth difference ``dphi = phi_out - phi_in`` and the
beam-line intercept ``z0 = z_in - r_in (z_out - z_in) / (r_out - r_in)``. Layer pairs seen at least
``min_count`` times are kept, each with the windows that hold the central ``coverage`` of its
``dphi`` and of ``z0 - vz`` (the intercept's offset from the particle's true vertex) widened by
``margin``; the ``z0`` window is that offset window widened by the luminous region
``|vz| <= vertex_z_max``, so that a handful of training events (a handful of vertices) is enough. On a new event, each kept layer pair's hits are joined
by every inner-outer pair inside both windows: the inner hits are sorted in azimuth and each
outer hit's window is two ``searchsorted`` calls (no loop over hits). Edges point outwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from colliderlab.tracking.layers import Layers, hit_coordinates

GRAPH_METHODS = ("cuts", "module_map", "metric")
_KEY_LIMIT = 2**31  # module keys fit 31 bits so that a pair of them fits an int64

__all__ = ["GRAPH_METHODS", "module_keys", "layerwise_truth", "GraphConfig", "LayerPairCuts", "truth_segments", "learn_cuts", "build_edges", "edge_truth"]


@dataclass(frozen=True)
class GraphConfig:
    """How the graph is built: ``method`` "cuts" (layer-pair windows), "module_map" (the windows
    and only module pairs seen in training, arXiv:2103.00916) or "metric" (a learned embedding,
    :mod:`~colliderlab.tracking.embedding`). What the learned windows keep: segments of particles above ``pt_min`` (GeV), the
    ``coverage`` quantile range of each variable widened by ``margin`` (x its half width), layer
    pairs seen at least ``min_count`` times; vertices along the beam within ``vertex_z_max`` (mm)."""

    method: str = "cuts"
    pt_min: float = 0.9
    coverage: float = 0.998
    margin: float = 0.15
    min_count: int = 3
    vertex_z_max: float = 200.0

    def __post_init__(self) -> None:
        if self.method not in GRAPH_METHODS:
            raise ValueError(f"unknown graph construction {self.method!r}; choose one of {', '.join(GRAPH_METHODS)}")


@dataclass(frozen=True)
class LayerPairCuts:
    """Kept layer pairs ``(K,)``: dense inner/outer layer index and the ``dphi``, ``z0`` windows."""

    inner: np.ndarray
    outer: np.ndarray
    dphi_lo: np.ndarray
    dphi_hi: np.ndarray
    z0_lo: np.ndarray
    z0_hi: np.ndarray
    module_pairs: np.ndarray | None = None  # sorted int64 keys of the module map, or None

    def __len__(self) -> int:
        return len(self.inner)

    def to_dict(self) -> dict[str, list]:
        return {k: getattr(self, k).tolist() for k in self.__dataclass_fields__ if k != "module_pairs"}

    @classmethod
    def from_dict(cls, mapping: dict[str, list], module_pairs: np.ndarray | None = None) -> LayerPairCuts:
        fields = [k for k in cls.__dataclass_fields__ if k != "module_pairs"]
        missing = [k for k in fields if k not in mapping]
        if missing:
            raise ValueError(f"layer-pair cuts lack {', '.join(missing)}")
        return cls(**{k: np.asarray(mapping[k]) for k in fields}, module_pairs=module_pairs)


def module_keys(hits: pd.DataFrame) -> np.ndarray:
    """One int64 key per hit's module: ``volume_id 1e8 + layer_id 1e5 + module_id``."""
    key = hits.volume_id.to_numpy(np.int64) * 100_000_000 + hits.layer_id.to_numpy(np.int64) * 100_000
    key = key + hits.module_id.to_numpy(np.int64)
    if len(key) and (key.max() >= _KEY_LIMIT or hits.module_id.max() >= 100_000 or hits.layer_id.max() >= 1000):
        raise ValueError("module, layer or volume ids too large for the module map's keys")
    return key


def _pair_keys(keys: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return keys[a] * _KEY_LIMIT + keys[b]


def _wrap(dphi: np.ndarray) -> np.ndarray:
    return (dphi + np.pi) % (2 * np.pi) - np.pi


def _pair_variables(coords: dict[str, np.ndarray], a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r, phi, z = coords["r"], coords["phi"], coords["z"]
    dr = r[b] - r[a]
    with np.errstate(divide="ignore", invalid="ignore"):
        z0 = z[a] - r[a] * (z[b] - z[a]) / dr
    return _wrap(phi[b] - phi[a]), np.where(np.abs(dr) > 1e-9, z0, np.inf)


def truth_segments(hits: pd.DataFrame, truth: pd.DataFrame, particles: pd.DataFrame,
                   pt_min: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Consecutive hits of every particle above ``pt_min``: hit row indices ``(S,)`` in and out,
    and the particle's vertex z ``(S,)`` (mm).

    Hits of a particle are ordered by their true distance from its production vertex.
    """
    t = truth[["hit_id", "particle_id", "tx", "ty", "tz"]].merge(
        particles[["particle_id", "vx", "vy", "vz", "px", "py"]], on="particle_id", how="inner")
    t = t[np.hypot(t.px, t.py) >= pt_min]
    row = pd.Series(np.arange(len(hits)), index=hits.hit_id.to_numpy())
    dist = np.sqrt((t.tx - t.vx) ** 2 + (t.ty - t.vy) ** 2 + (t.tz - t.vz) ** 2).to_numpy()
    pid = t.particle_id.to_numpy()
    order = np.lexsort((dist, pid))
    rows = row.loc[t.hit_id.to_numpy()[order]].to_numpy()
    same = pid[order][1:] == pid[order][:-1]
    return rows[:-1][same], rows[1:][same], t.vz.to_numpy()[order][1:][same]


def learn_cuts(events: list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]], layers: Layers,
               config: GraphConfig = GraphConfig()) -> LayerPairCuts:
    """Layer pairs and windows from the truth of ``events`` (``(hits, truth, particles)`` each)."""
    parts, pair_keys = [], []
    for hits, truth, particles in events:
        a, b, vz = truth_segments(hits, truth, particles, config.pt_min)
        if config.method == "module_map":
            pair_keys.append(_pair_keys(module_keys(hits), a, b))
        lay = layers.index_of(hits.volume_id.to_numpy(), hits.layer_id.to_numpy())
        dphi, z0 = _pair_variables(hit_coordinates(hits), a, b)
        same_layer = lay[a] == lay[b]
        parts.append(pd.DataFrame({"inner": lay[a], "outer": lay[b], "dphi": dphi, "z0": z0 - vz})[~same_layer])
    seg = pd.concat(parts, ignore_index=True)
    if seg.empty:
        raise ValueError(f"no truth segments of particles with pT >= {config.pt_min} GeV to learn cuts from")
    lo_q, hi_q = (1 - config.coverage) / 2, 1 - (1 - config.coverage) / 2
    g = seg.groupby(["inner", "outer"])
    stats = pd.DataFrame({"count": g.size()})
    for var in ("dphi", "z0"):
        finite = seg[np.isfinite(seg[var])].groupby(["inner", "outer"])[var]
        lo, hi = finite.quantile(lo_q), finite.quantile(hi_q)
        half = (hi - lo) / 2
        stats[f"{var}_lo"], stats[f"{var}_hi"] = lo - config.margin * half, hi + config.margin * half
    stats = stats[stats["count"] >= config.min_count].fillna({"z0_lo": -np.inf, "z0_hi": np.inf})
    stats = stats.dropna()
    stats["z0_lo"] -= config.vertex_z_max
    stats["z0_hi"] += config.vertex_z_max
    idx = np.array(stats.index.tolist()).reshape(-1, 2)
    pairs = np.unique(np.concatenate(pair_keys)) if pair_keys else None
    return LayerPairCuts(inner=idx[:, 0], outer=idx[:, 1], dphi_lo=stats.dphi_lo.to_numpy(),
                         dphi_hi=stats.dphi_hi.to_numpy(), z0_lo=stats.z0_lo.to_numpy(), z0_hi=stats.z0_hi.to_numpy(),
                         module_pairs=pairs)


def _window_pairs(phi_in: np.ndarray, phi_out: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (inner i, outer j) with ``lo <= wrap(phi_out[j] - phi_in[i]) <= hi``."""
    order = np.argsort(phi_in)
    s = phi_in[order]
    ext = np.concatenate([s - 2 * np.pi, s, s + 2 * np.pi])  # wrap-around
    ext_idx = np.tile(order, 3)
    # phi_in in [phi_out - hi, phi_out - lo]
    start = np.searchsorted(ext, phi_out - hi, side="left")
    stop = np.searchsorted(ext, phi_out - lo, side="right")
    counts = np.maximum(stop - start, 0)
    j = np.repeat(np.arange(len(phi_out)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    i = ext_idx[np.repeat(start, counts) + offsets]
    return i, j


def build_edges(hits: pd.DataFrame, layers: Layers, cuts: LayerPairCuts) -> np.ndarray:
    """Candidate edges ``(2, E)`` (hit row indices, inner -> outer) of an event."""
    if len(hits) == 0:
        raise ValueError("the event has no hits: nothing to build a graph from")
    lay = layers.index_of(hits.volume_id.to_numpy(), hits.layer_id.to_numpy())
    coords = hit_coordinates(hits)
    by_layer = pd.Series(np.arange(len(hits))).groupby(lay).indices
    out = []
    for k in range(len(cuts)):
        rows_in = by_layer.get(int(cuts.inner[k]))
        rows_out = by_layer.get(int(cuts.outer[k]))
        if rows_in is None or rows_out is None:
            continue
        i, j = _window_pairs(coords["phi"][rows_in], coords["phi"][rows_out], cuts.dphi_lo[k], cuts.dphi_hi[k])
        a, b = rows_in[i], rows_out[j]
        _, z0 = _pair_variables(coords, a, b)
        keep = (z0 >= cuts.z0_lo[k]) & (z0 <= cuts.z0_hi[k]) | ~np.isfinite(z0) & ~np.isfinite(cuts.z0_lo[k])
        out.append(np.stack([a[keep], b[keep]]))
    edges = np.concatenate(out, axis=1) if out else np.empty((2, 0), np.int64)
    if cuts.module_pairs is not None and edges.shape[1]:
        keys = _pair_keys(module_keys(hits), edges[0], edges[1])
        pos = np.minimum(np.searchsorted(cuts.module_pairs, keys), len(cuts.module_pairs) - 1)
        edges = edges[:, cuts.module_pairs[pos] == keys]
    return edges


def layerwise_truth(hits: pd.DataFrame, truth: pd.DataFrame, particles: pd.DataFrame,
                    layers: Layers) -> np.ndarray:
    """The true segments ``(2, S)`` (hit rows) of every particle, in the "layerwise" sense of
    Exa.TrkX (arXiv:2103.06995): a particle's hits are ordered by their distance from its vertex,
    and each hit is joined to the next hit on a different layer (when the particle left two hits
    on one layer, as in overlapping modules, both are joined to the layers before and after).
    """
    a, b, _ = truth_segments(hits, truth, particles)
    lay = layers.index_of(hits.volume_id.to_numpy(), hits.layer_id.to_numpy())
    # pairs two apart whose middle hit shares a layer with one of them (overlaps)
    a2, b2 = a[:-1], b[1:]
    chained = b[:-1] == a[1:]  # consecutive segments of one particle
    middle = b[:-1]
    overlap = chained & ((lay[middle] == lay[a2]) | (lay[middle] == lay[b2])) & (lay[a2] != lay[b2])
    return np.stack([np.concatenate([a[lay[a] != lay[b]], a2[overlap]]),
                     np.concatenate([b[lay[a] != lay[b]], b2[overlap]])])


def edge_truth(edges: np.ndarray, hits: pd.DataFrame, truth: pd.DataFrame, particles: pd.DataFrame,
               layers: Layers) -> np.ndarray:
    """``(E,)`` bool: the edge is a true segment (:func:`layerwise_truth`, either direction).

    An edge that skips a layer where the particle has a hit is false, so a skip is only learned
    where a hit is missing.
    """
    seg = layerwise_truth(hits, truth, particles, layers)
    n = len(hits)
    keys = np.unique(np.concatenate([seg[0] * n + seg[1], seg[1] * n + seg[0]]))
    edge_keys = edges[0].astype(np.int64) * n + edges[1]
    pos = np.minimum(np.searchsorted(keys, edge_keys), max(len(keys) - 1, 0))
    return (keys[pos] == edge_keys) if len(keys) else np.zeros(edges.shape[1], bool)
