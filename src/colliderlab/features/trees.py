"""Clustering trees (kind ``tree``): each jet's sequential-recombination history as a binary tree.

The ``n_particles`` hardest constituents are reclustered with kt, Cambridge/Aachen or anti-kt
(E-scheme, one jet per tree; :func:`colliderlab.physics.substructure.clustering.cluster`), the input of the
recursive networks of Louppe, Cho, Becot & Cranmer (arXiv:1702.00748). With N = ``n_particles``
there are M = 2N - 1 node slots: slots 0..N-1 hold the constituents (hardest first), slot N + s
the pseudojet made by merge s, so children always come before their parent. A jet with m < N
constituents uses leaves 0..m-1 and internal nodes N..N+m-2; the other slots are padding.

Node features (from each node's four-momentum, as the paper's (p, eta, theta, phi, E, pT) but in
forms that standardise well): ``log_pt, log_e, log_p, log_pt_rel, log_e_rel, delta_eta,
delta_phi, delta_r, log_mass`` where ``_rel`` divides by the jet's pT / energy, the deltas are to
the jet axis (pseudorapidity, azimuth) and ``log_mass = ln(1 + m / GeV)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from colliderlab import kinematics as kin
from colliderlab.features.particles import check_jets, hardest_constituents, jet_axis
from colliderlab.features.representations import check_finite, register_representation
from colliderlab.jets import JetBatch
from colliderlab.physics.substructure import clustering as _cluster

__all__ = ["TREE_FEATURES", "TreeConfig", "cluster_jets", "tree_arrays"]

TREE_FEATURES: dict[str, tuple[str, ...]] = {
    "kinematic": (
        "log_pt",
        "log_e",
        "log_p",
        "log_pt_rel",
        "log_e_rel",
        "delta_eta",
        "delta_phi",
        "delta_r",
        "log_mass",
    ),
}
_LOG_FLOOR = 1e-8


def cluster_jets(jets: JetBatch, n_particles: int, algorithm: str) -> _cluster.ClusterTree:
    """Cluster the ``n_particles`` hardest constituents of each jet.

    Returns:
        :class:`~colliderlab.physics.substructure.clustering.ClusterTree` with node_p4 (J, 2N-1, 4) float64 and
        parents (J, N-1, 2) int64 (the nodes merged at step s, creating node N + s).
    """
    sel = hardest_constituents(jets, n_particles)
    p4 = np.where(sel.mask[..., None], sel.p4, 0).astype(np.float64)  # (J, N, 4)
    return _cluster.cluster(p4, sel.mask, algorithm)


def tree_arrays(
    tree: _cluster.ClusterTree, axis: np.ndarray, features: str = "kinematic"
) -> dict[str, np.ndarray]:
    """Arrays of the ``tree`` representation from a clustering history.

    Args:
        tree: N leaves per jet (see :func:`cluster_jets`).
        axis: (J, 4) jet four-momentum the relative features refer to.
        features: ``"kinematic"``.

    Returns:
        ``x`` (J, M, F) float32, ``children`` (J, M, 2) int64 (-1 for leaves and padding),
        ``level`` (J, M) int64 (0 leaves, 1 + max(children levels) inside, -1 padding),
        ``mask`` (J, M) bool, ``root`` (J,) int64 (-1 for a jet without constituents); M = 2N - 1.
    """
    if features not in TREE_FEATURES:
        raise ValueError(
            f"unknown tree features {features!r}; valid: {', '.join(map(repr, TREE_FEATURES))}"
        )
    j, m_nodes = tree.node_p4.shape[:2]
    n = tree.n_leaves
    mult = tree.multiplicity  # (J,)
    children = np.full((j, m_nodes, 2), -1, np.int64)  # (J, M, 2)
    children[:, n:] = tree.parents
    mask = np.zeros((j, m_nodes), bool)  # (J, M)
    mask[:, :n] = np.arange(n)[None, :] < mult[:, None]
    mask[:, n:] = tree.parents[:, :, 0] >= 0
    level = np.where(mask, 0, -1).astype(np.int64)  # (J, M)
    for s in range(n - 1):  # merge s creates node n + s from earlier nodes
        rows = np.flatnonzero(tree.parents[:, s, 0] >= 0)
        if rows.size == 0:
            break
        a, b = tree.parents[rows, s, 0], tree.parents[rows, s, 1]  # (R,)
        level[rows, n + s] = 1 + np.maximum(level[rows, a], level[rows, b])

    p4 = tree.node_p4  # (J, M, 4)
    pt = kin.pt(p4)  # (J, M)
    e = p4[..., 0]
    log_pt = np.log(np.maximum(pt, _LOG_FLOOR))
    log_e = np.log(np.maximum(e, _LOG_FLOOR))
    deta = kin.eta(p4) - kin.eta(axis)[:, None]  # (J, M)
    dphi = kin.delta_phi(kin.phi(p4), kin.phi(axis)[:, None])  # (J, M)
    x = np.stack(
        [
            log_pt,
            log_e,
            np.log(np.maximum(kin.p_abs(p4), _LOG_FLOOR)),
            log_pt - np.log(np.maximum(kin.pt(axis), _LOG_FLOOR))[:, None],
            log_e - np.log(np.maximum(axis[:, 0], _LOG_FLOOR))[:, None],
            deta,
            dphi,
            np.hypot(deta, dphi),
            np.log1p(np.maximum(kin.mass(p4), 0.0)),
        ],
        axis=-1,
    )  # (J, M, F)
    x[~mask] = 0.0
    return {
        "x": x.astype(np.float32),
        "children": children,
        "level": level,
        "mask": mask,
        "root": tree.root().astype(np.int64),
    }


@register_representation
@dataclass(frozen=True)
class TreeConfig:
    """Binary clustering trees for recursive networks (arXiv:1702.00748), see :mod:`.trees`.

    Arrays: ``x`` (J, M, 9) float32, ``children`` (J, M, 2), ``level`` (J, M), ``mask`` (J, M),
    ``root`` (J,), M = 2 ``n_particles`` - 1.
    """

    kind: ClassVar[str] = "tree"
    standardize: ClassVar[tuple[str, ...]] = ("x",)

    n_particles: int = 64
    algorithm: str = "kt"
    features: str = "kinematic"

    def __post_init__(self) -> None:
        if not isinstance(self.n_particles, (int, np.integer)) or self.n_particles < 1:
            raise ValueError(
                f"tree: n_particles must be a positive integer, got {self.n_particles!r}"
            )
        if self.algorithm not in _cluster.ALGORITHMS:
            raise ValueError(
                f"tree: unknown algorithm {self.algorithm!r}; "
                f"valid: {', '.join(map(repr, _cluster.ALGORITHMS))}"
            )
        if self.features not in TREE_FEATURES:
            raise ValueError(
                f"tree: unknown features {self.features!r}; "
                f"valid: {', '.join(map(repr, TREE_FEATURES))}"
            )

    def cluster(self, jets: JetBatch) -> _cluster.ClusterTree:
        """The clustering history the arrays are built from (node four-momenta included)."""
        return cluster_jets(jets, self.n_particles, self.algorithm)

    def compute(self, jets: JetBatch) -> dict[str, np.ndarray]:
        check_jets(jets, f"{self.kind} representation")
        out = tree_arrays(self.cluster(jets), jet_axis(jets), self.features)
        check_finite(out, what=f"{self.kind} representation")
        return out

    def dims(self, arrays: dict[str, np.ndarray]) -> dict[str, int]:
        return {"n_features": int(arrays["x"].shape[-1])}

    def feature_names(self) -> tuple[str, ...]:
        return TREE_FEATURES[self.features]

    def input_fields(self) -> frozenset[str]:
        """The JetBatch fields read: the constituents' four-vectors and the jet axis."""
        return frozenset(("p4", "mask", "jet_p4"))
