"""Blocks of jets of similar multiplicity and the intermediate results substructure observables
share (pT, rapidity/azimuth, kT and C/A trees, energy correlators, soft drop), plus
N-subjettiness on padded arrays.

Jets are processed in blocks of similar multiplicity, trimmed to their largest multiplicity, so
the cost follows the real constituent counts and peak memory stays bounded. The observables of
:mod:`colliderlab.features.observables` are computed from these blocks; the generators
(:mod:`colliderlab.physics.dijet`) use :func:`nsubjettiness` directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from colliderlab import kinematics as kin
from colliderlab.physics.substructure import clustering as _cluster
from colliderlab.physics.substructure import ecf as _ecf
from colliderlab.physics.substructure import nsub as _nsub

__all__ = ["nsubjettiness"]

_N_TAU = 4
_ECF_BETAS = (1.0, 2.0)
# Cap on jets x n^2 per block, so each (B, n, n) float64 temporary stays within 32 MiB.
_PAIR_BUDGET = 1 << 22
# Smallest block worth forming even when multiplicities spread (the high-multiplicity tail).
_MIN_BLOCK = 64


# --------------------------------------------------------------------------------------------
# A block of jets: compacted constituents and the intermediate results observables share.
# --------------------------------------------------------------------------------------------
@dataclass
class _Block:
    """B jets with their real constituents moved to the front and trimmed to n slots.

    p4 (B, n, 4) float64, mask (B, n) bool (a prefix per jet), charge (B, n) int8,
    slots (B, n) int64: the original slot of each compacted constituent.
    """

    p4: np.ndarray
    mask: np.ndarray
    charge: np.ndarray
    slots: np.ndarray
    _ecf_cache: dict[float, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_padded(
        cls, p4: np.ndarray, mask: np.ndarray, charge: np.ndarray | None = None
    ) -> _Block:
        """Compact padded arrays (N, P, 4), (N, P), (N, P) into a block."""
        mask = np.asarray(mask, bool)
        n = int(mask.sum(axis=1).max()) if mask.size else 0
        slots = np.argsort(~mask, axis=1, kind="stable")[:, :n]  # (B, n)
        keep = np.take_along_axis(mask, slots, axis=1)  # (B, n)
        p4c = np.take_along_axis(np.asarray(p4, np.float64), slots[:, :, None], axis=1)  # (B, n, 4)
        p4c[~keep] = 0.0
        chc = np.zeros(keep.shape, np.int8)  # (B, n)
        if charge is not None:
            chc[keep] = np.take_along_axis(np.asarray(charge, np.int8), slots, axis=1)[keep]
        return cls(p4c, keep, chc, slots)

    def __len__(self) -> int:
        return self.p4.shape[0]

    @cached_property
    def multiplicity(self) -> np.ndarray:
        return self.mask.sum(axis=1)  # (B,)

    @cached_property
    def pt(self) -> np.ndarray:
        return np.where(self.mask, kin.pt(self.p4), 0.0)  # (B, n)

    @cached_property
    def rap_phi(self) -> tuple[np.ndarray, np.ndarray]:
        rap, phi = _cluster.rap_phi(self.p4)  # (B, n), phi in [0, 2 pi)
        return np.where(self.mask, rap, 0.0), np.where(self.mask, phi, 0.0)

    @cached_property
    def pt_sum(self) -> np.ndarray:
        return self.pt.sum(axis=1)  # (B,)  ECF(1)

    @cached_property
    def z(self) -> np.ndarray:
        total = self.pt_sum[:, None]
        return np.divide(self.pt, total, out=np.zeros_like(self.pt), where=total > 0)  # (B, n)

    @cached_property
    def jet_p4(self) -> np.ndarray:
        return self.p4.sum(axis=1)  # (B, 4)

    @cached_property
    def theta(self) -> np.ndarray:
        rap, phi = self.rap_phi
        return _ecf.pair_angles(rap, phi)  # (B, n, n)

    @cached_property
    def neighbours(self) -> tuple[np.ndarray, np.ndarray]:
        return _cluster.nearest_neighbours(*_cluster.rap_phi(self.p4), self.mask)  # (B, n) x2

    @cached_property
    def kt_tree(self) -> _cluster.ClusterTree:
        return _cluster.cluster(self.p4, self.mask, "kt", self.neighbours)

    @cached_property
    def ca_tree(self) -> _cluster.ClusterTree:
        return _cluster.cluster(self.p4, self.mask, "cambridge", self.neighbours)

    def ecf(self, beta: float) -> tuple[np.ndarray, np.ndarray]:
        """Normalised (e2, e3) at this beta, each (B,)."""
        if beta not in self._ecf_cache:
            weights = _ecf.angular_weights(self.theta, self.mask, beta)
            self._ecf_cache[beta] = _ecf.ecf2_ecf3(self.z, weights)
        return self._ecf_cache[beta]

    @cached_property
    def generalized(self) -> dict[float, tuple[np.ndarray, np.ndarray]]:
        """``{beta: (1e3, 2e3)}`` for beta in (1, 2)."""
        return _ecf.generalized_ecf3(self.z, self.theta, _ECF_BETAS)

    def groomed_mask(self, z_cut: float, beta: float, r0: float) -> np.ndarray:
        """Constituents kept by soft drop on the C/A tree. (B, n) bool"""
        tree = self.ca_tree
        node = _groom(tree, z_cut, beta, r0)  # (B,)
        return _leaves_under(tree, node) & self.mask

    def subset(self, keep: np.ndarray) -> _Block:
        """The same jets with only the constituents in ``keep`` (B, n), re-compacted."""
        sub = _Block.from_padded(self.p4, keep, self.charge)
        return _Block(
            sub.p4, sub.mask, sub.charge, np.take_along_axis(self.slots, sub.slots, axis=1)
        )


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, zero where den == 0."""
    return np.divide(
        num, den, out=np.zeros(np.broadcast_shapes(num.shape, den.shape)), where=den != 0
    )


# --------------------------------------------------------------------------------------------
# Soft drop over a C/A tree.
# --------------------------------------------------------------------------------------------
def _groom(tree: _cluster.ClusterTree, z_cut: float, beta: float, r0: float) -> np.ndarray:
    """Soft-drop declustering (arXiv:1402.2657) of each jet's C/A tree, vectorised over jets.

    Walks down from the root: at each node with parents j1, j2 keep the node if
    ``min(pt1, pt2) / (pt1 + pt2) > z_cut (Delta R_12 / r0)^beta``, otherwise continue into the
    parent with the larger pt; a single constituent ends the walk (grooming mode, as contrib's
    ``SoftDrop``). Returns the groomed node id per jet, -1 for empty jets. (B,)
    """
    n = tree.n_leaves
    node = tree.root()  # (B,)
    rows = np.flatnonzero(node >= n)  # jets still being declustered
    while rows.size:
        step = node[rows] - n
        j1, j2 = tree.parents[rows, step, 0], tree.parents[rows, step, 1]  # (R,)
        q1, q2 = tree.node_p4[rows, j1], tree.node_p4[rows, j2]  # (R, 4)
        pt1, pt2 = kin.pt(q1), kin.pt(q2)  # (R,)
        sym = _ratio(np.minimum(pt1, pt2), pt1 + pt2)  # (R,)
        cut = np.full(rows.size, z_cut)
        if beta != 0:
            (y1, f1), (y2, f2) = _cluster.rap_phi(q1), _cluster.rap_phi(q2)
            dr = np.sqrt(kin.delta_r2(y1, f1, y2, f2))  # (R,)
            cut = z_cut * (dr / r0) ** beta
        kept = sym > cut
        harder = np.where(pt1 >= pt2, j1, j2)  # contrib swaps only if pt1 < pt2
        node[rows] = np.where(kept, node[rows], harder)
        rows = rows[~kept & (harder >= n)]
    return node


def _leaves_under(tree: _cluster.ClusterTree, node: np.ndarray) -> np.ndarray:
    """Constituents (leaves) below the given node of each jet. (B,) -> (B, n) bool"""
    b, n_nodes = tree.node_p4.shape[:2]
    n = tree.n_leaves
    inside = np.zeros((b, n_nodes), bool)  # (B, 2n-1)
    has = node >= 0
    inside[np.flatnonzero(has), node[has]] = True
    for step in range(n - 2, -1, -1):  # merges in reverse order: children before their parents
        rows = np.flatnonzero(inside[:, n + step])
        if rows.size:
            inside[rows, tree.parents[rows, step, 0]] = True
            inside[rows, tree.parents[rows, step, 1]] = True
    return inside[:, :n]


def _taus(blk: _Block, n_max: int = _N_TAU, beta: float = 1.0, r0: float = 0.8) -> np.ndarray:
    """tau_1..tau_n_max, one-pass kT axes, normalised measure. (B, n_max)

    All (jet, N) pairs with more than N constituents are refined together as rows of one problem.
    """
    rap, phi = blk.rap_phi
    out = np.zeros((len(blk), n_max))
    jets, counts, seeds = [], [], []
    for n_axes in range(1, n_max + 1):
        sel = np.flatnonzero(blk.multiplicity > n_axes)
        if sel.size == 0:
            break
        seed = np.zeros((sel.size, n_max, 4))
        seed[:, :n_axes] = blk.kt_tree.exclusive_jets(n_axes)[sel]
        jets.append(sel)
        counts.append(np.full(sel.size, n_axes))
        seeds.append(seed)
    if not jets:
        return out
    jets, counts = np.concatenate(jets), np.concatenate(counts)  # (R,) rows sorted by N
    seed_rap, seed_phi = _cluster.rap_phi(np.concatenate(seeds))  # (R, n_max)
    pt, rap, phi = blk.pt[jets], rap[jets], phi[jets]  # (R, n)
    ax_rap, ax_phi = _nsub.one_pass_axes(pt, rap, phi, seed_rap, seed_phi, counts, beta)
    out[jets, counts - 1] = _nsub.tau_from_axes(pt, rap, phi, ax_rap, ax_phi, beta, r0)
    return out


# --------------------------------------------------------------------------------------------
# Blocking and validation.
# --------------------------------------------------------------------------------------------
def _check_finite(p4: np.ndarray) -> None:
    bad = ~np.isfinite(p4).all(axis=-1)  # (N, P)
    if bad.any():
        jet, slot = (int(i[0]) for i in np.nonzero(bad))
        raise ValueError(
            f"constituent four-momentum is not finite (NaN or inf) in jet {jet}, constituent {slot}: {p4[jet, slot]}"
        )


def _block_bounds(mult: np.ndarray, chunk_size: int) -> list[tuple[int, int]]:
    """Split jets sorted by multiplicity into blocks of similar multiplicity.

    A block holds at most ``chunk_size`` jets, at most ``_PAIR_BUDGET / n^2`` of them, and (when
    it has at least ``_MIN_BLOCK`` jets) multiplicities up to ``1.1 m + 2`` of its first jet's ``m``.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    bounds, start, total = [], 0, len(mult)
    while start < total:
        stop = int(np.searchsorted(mult, 1.1 * mult[start] + 2, side="right"))
        stop = min(max(stop, start + _MIN_BLOCK), start + chunk_size, total)
        stop = min(stop, start + max(1, _PAIR_BUDGET // max(int(mult[stop - 1]) ** 2, 1)))
        bounds.append((start, stop))
        start = stop
    return bounds


def _blocks(
    p4: np.ndarray,
    mask: np.ndarray,
    charge: np.ndarray | None,
    chunk_size: int,
    progress: bool = False,
) -> Iterator[tuple[np.ndarray, _Block]]:
    """Yield (jet indices, block) over jets sorted by multiplicity, within the memory budget."""
    mult = mask.sum(axis=1)
    order = np.argsort(mult, kind="stable")
    bounds = _block_bounds(mult[order], chunk_size)
    from colliderlab.progress import progress as progress_bar

    for start, stop in progress_bar(bounds, enabled=progress, desc="observables", unit="block"):
        idx = order[start:stop]
        yield idx, _Block.from_padded(p4[idx], mask[idx], None if charge is None else charge[idx])


def nsubjettiness(
    p4: np.ndarray,
    mask: np.ndarray,
    *,
    n_max: int = 4,
    beta: float = 1.0,
    r0: float = 0.8,
    chunk_size: int = 2048,
) -> np.ndarray:
    """N-subjettiness tau_1..tau_n_max (arXiv:1011.2268, 1108.2701).

    Normalised measure ``tau_N = sum_i pt_i min_k Delta R_ik^beta / sum_i pt_i r0^beta`` with
    fastjet-contrib's one-pass exclusive-kT axes (``OnePass_KT_Axes``): exclusive kT jets as seeds,
    then the iterative axis update of ``DefaultMeasure::get_one_pass_axes`` (accuracy 1e-4, at most
    1000 iterations). ``tau_N = 0`` for jets with at most N constituents.

    Args:
        p4: (N, P, 4) constituent (E, px, py, pz); mask: (N, P) bool.
        n_max: largest N; beta: angular exponent; r0: characteristic radius.

    Returns:
        (N, n_max) float64.
    """
    p4, mask = np.asarray(p4), np.asarray(mask, bool)
    _check_finite(p4)
    out = np.zeros((len(p4), n_max))
    for idx, blk in _blocks(p4, mask, None, chunk_size):
        out[idx] = _taus(blk, n_max, beta, r0)
    return out
