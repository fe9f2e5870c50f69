"""Node and edge features of a hit graph, and the fields of an event they read.

Nodes: the hit's cylindrical coordinates ``r, phi, z`` and, when the run uses cells, the shape
of its cluster (number of cells, summed charge, extent in ``ch0`` and ``ch1``: the incidence angle
shows in it, as used by Exa.TrkX, arXiv:2103.06995). Edges: ``dr, dphi, dz, deta``, the
azimuthal slope ``dphi / dr`` (HEP.TrkX's edge features, arXiv:1810.06111) and the beam-line
intercept ``z0 = z_in - r_in dz / dr`` (mm, clipped to +-1 m). Both are
standardised with the training sample's mean and spread (saved with the run).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from colliderlab.data.trackml import TrackMLEvent
from colliderlab.tracking.layers import hit_coordinates

__all__ = ["FeatureConfig", "Standardizer", "node_features", "edge_features", "required_fields"]

HIT_FIELDS = ("hit_id", "x", "y", "z", "volume_id", "layer_id")
CELL_FIELDS = ("hit_id", "ch0", "ch1", "value")


@dataclass(frozen=True)
class FeatureConfig:
    """Whether node features include the cluster shape from the cells file."""

    cells: bool = True

    @property
    def n_node(self) -> int:
        return 7 if self.cells else 3

    @property
    def n_edge(self) -> int:
        return 6


def required_fields(config: FeatureConfig) -> dict[str, tuple[str, ...]]:
    """The columns an event must carry, by TrackML file."""
    return {"hits": HIT_FIELDS, **({"cells": CELL_FIELDS} if config.cells else {})}


def check_event(event: TrackMLEvent, config: FeatureConfig, source: str = "event") -> None:
    """Refuse an event that lacks a field the run reads, naming it, or that has no hits."""
    for part, fields in required_fields(config).items():
        table = getattr(event, part)
        if table is None:
            raise ValueError(f"{source} has no {part} table; this run reads {part}: {', '.join(fields)}")
        missing = [f for f in fields if f not in table.columns]
        if missing:
            raise ValueError(f"{source}: the {part} table lacks {', '.join(missing)}; this run reads {', '.join(fields)}")
    if len(event.hits) == 0:
        raise ValueError(f"{source} has no hits")


def node_features(event: TrackMLEvent, config: FeatureConfig) -> np.ndarray:
    """``(N, F)`` float32 raw node features, rows in the order of ``event.hits``."""
    c = hit_coordinates(event.hits)
    cols = [c["r"], c["phi"], c["z"]]
    if config.cells:
        cells = event.cells
        g = cells.groupby("hit_id")
        shape = pd.DataFrame({"n": g.size(), "q": g.value.sum(), "d0": g.ch0.max() - g.ch0.min() + 1,
                              "d1": g.ch1.max() - g.ch1.min() + 1}).reindex(event.hits.hit_id.to_numpy())
        if shape.n.isna().any():
            first = event.hits.hit_id.to_numpy()[shape.n.isna().to_numpy()][:5].tolist()
            raise ValueError(f"hits {first} have no cells; this run reads the cluster shape of every hit")
        cols += [np.log(shape.n.to_numpy(float)), shape.q.to_numpy(float) * 1e3,
                 np.log(shape.d0.to_numpy(float)), np.log(shape.d1.to_numpy(float))]
    return np.stack(cols, axis=1).astype(np.float32)


def edge_features(event: TrackMLEvent, edges: np.ndarray) -> np.ndarray:
    """``(E, 6)`` float32 raw edge features ``dr, dphi, dz, deta, dphi/dr, z0`` of ``edges`` ``(2, E)``."""
    c = hit_coordinates(event.hits)
    a, b = edges
    dr = c["r"][b] - c["r"][a]
    dphi = (c["phi"][b] - c["phi"][a] + np.pi) % (2 * np.pi) - np.pi
    dz = c["z"][b] - c["z"][a]
    eta = np.arcsinh(c["z"] / np.maximum(c["r"], 1e-6))
    safe_dr = np.where(np.abs(dr) > 1e-3, dr, np.copysign(1e-3, dr))
    slope = dphi / safe_dr
    z0 = np.clip(c["z"][a] - c["r"][a] * dz / safe_dr, -1000.0, 1000.0)
    return np.stack([dr, dphi, dz, eta[b] - eta[a], np.clip(slope * 1e3, -1e3, 1e3), z0], axis=1).astype(np.float32)


@dataclass
class Standardizer:
    """Per-column mean and spread of node and edge features (from training graphs)."""

    node_mean: np.ndarray
    node_std: np.ndarray
    edge_mean: np.ndarray
    edge_std: np.ndarray

    @classmethod
    def fit(cls, nodes: list[np.ndarray], edges: list[np.ndarray]) -> Standardizer:
        std = cls.for_nodes(nodes)
        std.fit_edges(edges)
        return std

    @classmethod
    def for_nodes(cls, nodes: list[np.ndarray]) -> Standardizer:
        """Node statistics of ``nodes``; edges left unscaled until :meth:`fit_edges`."""
        n = np.concatenate(nodes)
        return cls(n.mean(0), np.maximum(n.std(0), 1e-6), np.zeros(FeatureConfig().n_edge), np.ones(FeatureConfig().n_edge))

    def fit_edges(self, edges: list[np.ndarray]) -> None:
        e = np.concatenate(edges)
        self.edge_mean, self.edge_std = e.mean(0), np.maximum(e.std(0), 1e-6)

    def nodes(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.node_mean) / self.node_std).astype(np.float32)

    def edges(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.edge_mean) / self.edge_std).astype(np.float32)

    def to_dict(self) -> dict[str, list[float]]:
        return {k: np.asarray(v, float).tolist() for k, v in vars(self).items()}

    @classmethod
    def from_dict(cls, mapping: dict[str, list[float]]) -> Standardizer:
        return cls(**{k: np.asarray(mapping[k], np.float64) for k in ("node_mean", "node_std", "edge_mean", "edge_std")})
