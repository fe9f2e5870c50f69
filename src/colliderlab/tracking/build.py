"""Track building from scored edges: connected components, then a walkthrough.

Exa.TrkX (arXiv:2103.06995) labels the connected components of the graph of edges scored above
a cut as tracks. Where two tracks touch through a wrong edge, a component is no longer a simple
path (a hit with two inner or two outer neighbours); such components are walked through
instead (the "walkthrough" of the Exa.TrkX/GNN4ITk pipelines): each hit keeps only its
highest-scored outward edge above ``walk_cut``, each hit accepts only the highest-scored of the
edges kept into it, and the chains left are the tracks. Both steps are vectorised over the
whole event (scipy's sparse connected components; no loop over tracks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["BuildConfig", "build_tracks"]


@dataclass(frozen=True)
class BuildConfig:
    """``method`` "walkthrough" (components that branch are walked) or "components" (plain
    connected components); ``score_cut`` for the components, ``walk_cut`` for the walk; tracks
    with fewer than ``min_hits`` hits are dropped (their hits unassigned)."""

    method: str = "walkthrough"
    score_cut: float = 0.5
    walk_cut: float = 0.3
    min_hits: int = 3

    def __post_init__(self) -> None:
        if self.method not in ("walkthrough", "components"):
            raise ValueError(f"unknown track-building method {self.method!r}; choose walkthrough or components")


def _components(n: int, edges: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    adj = coo_matrix((np.ones(edges.shape[1]), (edges[0], edges[1])), shape=(n, n))
    return connected_components(adj, directed=True, connection="weak")[1]


def _best_per(keys: np.ndarray, scores: np.ndarray, n: int) -> np.ndarray:
    """Index of the highest-scored entry of each key (``(n,)``, -1 where a key has none)."""
    order = np.lexsort((-scores, keys))
    first = np.ones(len(order), bool)
    first[1:] = keys[order][1:] != keys[order][:-1]
    best = np.full(n, -1)
    best[keys[order][first]] = order[first]
    return best


def _walk(n: int, edges: np.ndarray, scores: np.ndarray, walk_cut: float) -> np.ndarray:
    keep = scores >= walk_cut
    e, s = edges[:, keep], scores[keep]
    idx = np.flatnonzero(keep)
    out_best = _best_per(e[0], s, n)  # each hit's best outward edge
    chosen = out_best[out_best >= 0]
    in_best = _best_per(e[1, chosen], s[chosen], n)  # each hit accepts one of those
    final = chosen[in_best[in_best >= 0]]
    return idx[final]


def build_tracks(hit_ids: np.ndarray, edges: np.ndarray, scores: np.ndarray,
                 config: BuildConfig = BuildConfig()) -> pd.DataFrame:
    """Tracks of one event.

    Args:
        hit_ids: ``(N,)`` hit ids of the graph's nodes.
        edges: ``(2, E)`` node indices (inner -> outer); scores: ``(E,)`` edge scores in [0, 1].
        config: cuts and method.

    Returns:
        A submission: ``hit_id, track_id`` for every hit, ``track_id`` -1 when unassigned.
    """
    n = len(hit_ids)
    if edges.shape != (2, len(scores)):
        raise ValueError(f"edges has shape {edges.shape}, expected (2, {len(scores)}) like scores")
    passed = scores >= config.score_cut
    labels = _components(n, edges[:, passed])
    if config.method == "walkthrough":
        e = edges[:, passed]
        n_in = np.bincount(e[1], minlength=n)
        n_out = np.bincount(e[0], minlength=n)
        branching = np.zeros(labels.max() + 1, bool)
        branching[labels[(n_in > 1) | (n_out > 1)]] = True
        walked = branching[labels]  # hits of components that are not simple chains
        in_walk = walked[edges[0]] & walked[edges[1]]
        sel = _walk(n, edges[:, in_walk], scores[in_walk], config.walk_cut)
        chains = _components(n, edges[:, in_walk][:, sel])
        labels = np.where(walked, labels.max() + 1 + chains, labels)
    sizes = np.bincount(labels)
    track = np.unique(labels, return_inverse=True)[1]
    track = np.where(sizes[labels] >= config.min_hits, track, -1)
    return pd.DataFrame({"hit_id": np.asarray(hit_ids), "track_id": track})
