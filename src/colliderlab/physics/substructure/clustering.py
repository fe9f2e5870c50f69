"""Sequential-recombination clustering of many small jets at once (helpers for :mod:`.observables`).

Each jet's constituents are clustered pairwise down to a single pseudojet with E-scheme
recombination, as FastJet does with ``JetDefinition(alg, max_allowable_R)``:

* ``"kt"``: ``d_ij = min(pt_i^2, pt_j^2) Delta R_ij^2`` (arXiv:hep-ph/9305266), used for the
  exclusive-kT seed axes of N-subjettiness;
* ``"cambridge"``: ``d_ij = Delta R_ij^2`` (Cambridge/Aachen, arXiv:hep-ph/9707323), used for
  soft drop;
* ``"antikt"``: ``d_ij = min(pt_i^-2, pt_j^-2) Delta R_ij^2`` (anti-kt, arXiv:0802.1189), used for
  clustering-ordered representations.

With a radius that large no beam distance is ever the smallest before one jet is left, so the
full history is a binary tree per jet. The loop runs over merge steps (at most n - 1) and is
vectorised over jets, keeping a nearest-neighbour table per jet (FastJet's N2Plain idea).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from colliderlab import kinematics as kin

__all__ = ["ALGORITHMS", "ClusterTree", "cluster", "nearest_neighbours", "rap_phi"]

Algorithm = Literal["kt", "cambridge", "antikt"]
ALGORITHMS: tuple[str, ...] = ("kt", "cambridge", "antikt")
_TWO_PI = 2.0 * np.pi
# Rapidity given to empty slots: its Delta R^2 to anything (~1e30) never wins.
_FAR = 1e15
# Jets x n^2 per chunk of the initial nearest-neighbour search (float64 temporaries of 4 MiB).
_NN_CHUNK = 1 << 19
# Squeeze dead slots out of the working arrays once the live ones fill less than this fraction.
_SQUEEZE = 0.7


def rap_phi(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rapidity and azimuth exactly as FastJet's ``PseudoJet`` computes them. (..., 4) -> (...), (...)

    ``y = 0.5 ln((pt^2 + max(m^2, 0)) / (E + |pz|)^2)`` (sign of pz) clamps a negative squared mass
    to zero, which matters at the 1e-6 level for massless particles stored in float32;
    ``phi = atan2(py, px)`` mapped to [0, 2 pi). Zero-pt particles follow FastJet too
    (phi = 0, y = +-(1e5 + |pz|)).
    """
    e, px, py, pz = p4[..., 0], p4[..., 1], p4[..., 2], p4[..., 3]
    kt2 = px * px + py * py
    phi = np.arctan2(py, px)
    phi += _TWO_PI * (phi < 0.0)
    phi -= _TWO_PI * (phi >= _TWO_PI)  # -1e-17 + 2 pi rounds to 2 pi
    abs_pz = np.abs(pz)
    e_plus = e + abs_pz
    m2 = np.maximum((e + pz) * (e - pz) - kt2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rap = 0.5 * np.log((kt2 + m2) / (e_plus * e_plus))
    rap *= np.where(pz > 0, -1.0, 1.0)
    beam = kt2 == 0.0
    if beam.any():  # along the beam (or empty): FastJet's conventions
        rap = np.where(
            beam & (e == abs_pz), np.where(pz >= 0, 1.0, -1.0) * (kin.MAX_RAP + abs_pz), rap
        )
        phi = np.where(beam, 0.0, phi)
    return rap, phi


@dataclass(frozen=True)
class ClusterTree:
    """Clustering history of B jets, each reduced to one pseudojet.

    Shapes:
        node_p4:  (B, 2n-1, 4) float64; nodes 0..n-1 are the constituents, node n+s is made by merge s
        parents:  (B, n-1, 2) int64, the two nodes joined at merge s, -1 where a jet has no merge s
        multiplicity: (B,) int64, real constituents per jet (they occupy slots 0..m-1)
    """

    node_p4: np.ndarray
    parents: np.ndarray
    multiplicity: np.ndarray

    @property
    def n_leaves(self) -> int:
        return self.parents.shape[1] + 1

    def root(self) -> np.ndarray:
        """Node id of each jet's final pseudojet; -1 for a jet without constituents. (B,)"""
        m = self.multiplicity
        return np.where(m >= 2, self.n_leaves + m - 2, np.where(m == 1, 0, -1))

    def exclusive_jets(self, n_jets: int) -> np.ndarray:
        """The ``n_jets`` pseudojets present when ``n_jets`` remain, as ``exclusive_jets(n)``.

        Jets with fewer than ``n_jets`` constituents get zero four-vectors. (B, n_jets, 4)
        """
        b, n_nodes = self.node_p4.shape[:2]
        n = self.n_leaves
        big = np.iinfo(np.int64).max
        created = np.full((b, n_nodes), big, np.int64)  # (B, 2n-1)
        created[:, :n] = np.where(np.arange(n)[None, :] < self.multiplicity[:, None], -1, big)
        created[:, n:] = np.arange(n - 1)[None, :]
        consumed = np.full((b, n_nodes), big, np.int64)  # (B, 2n-1)
        rows, steps = np.nonzero(self.parents[:, :, 0] >= 0)
        for k in range(2):
            consumed[rows, self.parents[rows, steps, k]] = steps
        cut = (self.multiplicity - n_jets)[:, None]  # merges done when n_jets remain
        alive = (created < cut) & (consumed >= cut)  # (B, 2n-1)
        idx = np.argsort(~alive, axis=1, kind="stable")[:, :n_jets]  # (B, <= n_jets)
        out = np.zeros((b, n_jets, 4))  # (B, n_jets, 4)
        out[:, : idx.shape[1]] = np.take_along_axis(self.node_p4, idx[:, :, None], axis=1)
        out[:, : idx.shape[1]][~np.take_along_axis(alive, idx, axis=1)] = 0.0
        return out


def _dr2(rap_a: np.ndarray, phi_a: np.ndarray, rap_b: np.ndarray, phi_b: np.ndarray) -> np.ndarray:
    """FastJet's squared rapidity-azimuth distance, broadcasting over all arguments."""
    dphi = np.abs(phi_a - phi_b)
    np.minimum(dphi, _TWO_PI - dphi, out=dphi)
    dy = rap_a - rap_b
    dphi *= dphi
    dy *= dy
    dy += dphi
    return dy


def _identity(kt2: np.ndarray) -> np.ndarray:
    return kt2


def _inverse(kt2: np.ndarray) -> np.ndarray:
    """1 / pt^2, infinite for zero pt (FastJet's anti-kt momentum factor)."""
    with np.errstate(divide="ignore"):
        return 1.0 / kt2


def nearest_neighbours(
    rap: np.ndarray, phi: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Geometric nearest other constituent of every constituent, and the Delta R^2 to it.

    Args:
        rap, phi: (B, n) FastJet rapidity and azimuth (see :func:`rap_phi`).
        mask: (B, n) bool, real constituents.

    Returns:
        nn_j (B, n) int64 and nn_d (B, n) float64; meaningless on padding and for lone constituents.
    """
    b, n = mask.shape
    far_rap = np.where(mask, rap, _FAR)  # (B, n) padding placed out of reach
    nn_j = np.zeros((b, n), np.int64)
    nn_d = np.zeros((b, n))
    if n < 2:
        return nn_j, nn_d
    step = max(1, _NN_CHUNK // (n * n))
    diag = np.arange(n)
    for s in range(0, b, step):
        sl = slice(s, s + step)
        d = _dr2(
            far_rap[sl, :, None], phi[sl, :, None], far_rap[sl, None, :], phi[sl, None, :]
        )  # (b', n, n)
        d[:, diag, diag] = np.inf
        nn_j[sl] = d.argmin(axis=2)
        nn_d[sl] = d.min(axis=2)
    return nn_j, nn_d


def cluster(
    p4: np.ndarray,
    mask: np.ndarray,
    algorithm: Algorithm,
    neighbours: tuple[np.ndarray, np.ndarray] | None = None,
) -> ClusterTree:
    """Cluster each jet's constituents to one pseudojet and keep the merging history.

    All three algorithms need only geometric nearest neighbours: for the whole kt family the
    smallest ``min(pt_i^2p, pt_j^2p) Delta R_ij^2`` (p = 1 kt, 0 C/A, -1 anti-kt) is always reached
    for j the geometric nearest neighbour of i (Cacciari & Salam, arXiv:hep-ph/0512210), which is
    how FastJet itself clusters. Each jet keeps, per slot, its current pseudojet and its nearest
    other slot; every step merges each jet's best pair and re-scans only the slots whose
    neighbour was merged. Finished jets leave the working set and dead slots are squeezed out as
    the jets shrink.

    Args:
        p4: (B, n, 4) float64 constituent (E, px, py, pz), real constituents first.
        mask: (B, n) bool, a prefix of True per jet.
        algorithm: ``"kt"``, ``"cambridge"`` or ``"antikt"``.
        neighbours: optional precomputed :func:`nearest_neighbours` of the constituents
            (shared by both algorithms).

    Returns:
        :class:`ClusterTree`.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(
            f"unknown clustering algorithm {algorithm!r}; valid: {', '.join(map(repr, ALGORITHMS))}"
        )
    use_kt = algorithm != "cambridge"  # distances carry a momentum factor min(w_i, w_j)
    weight = _inverse if algorithm == "antikt" else _identity  # w = pt^2 (kt) or pt^-2 (anti-kt)
    b, n = mask.shape
    mult = mask.sum(axis=1).astype(np.int64)  # (B,)
    node_p4 = np.zeros((b, max(2 * n - 1, n), 4))  # (B, 2n-1, 4)
    node_p4[:, :n] = np.where(mask[..., None], p4, 0.0)
    parents = np.full((b, max(n - 1, 0), 2), -1, np.int64)  # (B, n-1, 2)
    jets = np.flatnonzero(mult >= 2)  # working set: block rows still merging
    if jets.size == 0:
        return ClusterTree(node_p4, parents, mult)

    w = int(mult[jets].max())
    sp4, alive, rap, phi, kt2, node, nn_d, nn_j, dij = _initial_slots(
        node_p4[jets, :w], mask[jets, :w], jets, neighbours, weight, use_kt
    )
    for step in range(n - 1):
        # Jets with nothing left to merge leave the working set; dead slots are squeezed out.
        done = mult[jets] - step < 2
        if done.any():
            keep = np.flatnonzero(~done)
            if keep.size == 0:
                break
            jets, sp4, alive, rap, phi, kt2, node, nn_d, nn_j, dij = (
                x[keep] for x in (jets, sp4, alive, rap, phi, kt2, node, nn_d, nn_j, dij)
            )
        n_alive = int(mult[jets].max()) - step
        if n_alive <= _SQUEEZE * w:
            sp4, alive, rap, phi, kt2, node, nn_d, dij, nn_j = _squeeze(
                n_alive, sp4, alive, rap, phi, kt2, node, nn_d, dij, nn_j
            )
            w = n_alive
        base = np.arange(jets.size) * w  # (W,) flat index of each jet's slot 0

        a = dij.argmin(axis=1)  # (W,) slot receiving the merge
        ia = base + a  # (W,) flat (jet, a)
        c = nn_j.ravel()[ia]  # (W,) partner slot, emptied
        ic = base + c
        flat_p4 = sp4.reshape(-1, 4)
        merged = flat_p4[ia] + flat_p4[ic]  # (W, 4)
        parents[jets, step, 0] = node.ravel()[ia]
        parents[jets, step, 1] = node.ravel()[ic]
        node_p4[jets, n + step] = merged
        r_a, p_a = _merge_slots(ia, ic, n + step, merged, flat_p4, alive, rap, phi, kt2, node, dij, weight)
        _rescan(a, c, ia, r_a, p_a, alive, rap, phi, kt2, nn_j, nn_d, dij, use_kt)
    return ClusterTree(node_p4, parents, mult)


def _initial_slots(
    p4: np.ndarray,
    mask: np.ndarray,
    jets: np.ndarray,
    neighbours: tuple[np.ndarray, np.ndarray] | None,
    weight: Callable[[np.ndarray], np.ndarray],
    use_kt: bool,
) -> tuple[np.ndarray, ...]:
    """The working set before the first merge, from the constituents ``p4`` (W, w, 4) and
    ``mask`` (W, w) of the block rows ``jets``: sp4 (W, w, 4) the current pseudojet in each slot,
    then the (W, w) arrays alive, rap, phi, kt2 (momentum factor), node (node id held by each
    slot), nn_d, nn_j (nearest other slot and its Delta R^2) and dij (merge distance)."""
    w = p4.shape[1]
    sp4 = p4.copy()  # (W, w, 4) current pseudojet in each slot
    alive = mask.copy()  # (W, w)
    rap, phi = rap_phi(sp4)  # (W, w)
    if neighbours is None:
        neighbours = nearest_neighbours(rap, phi, alive)
    else:
        neighbours = (neighbours[0][jets, :w], neighbours[1][jets, :w])
    nn_j, nn_d = (x.copy() for x in neighbours)  # (W, w) nearest other slot and its Delta R^2
    rap[~alive] = _FAR  # empty slots are out of reach of every distance
    kt2 = weight(kin.pt2(sp4))  # (W, w) momentum factor pt^2p of each slot
    node = np.broadcast_to(np.arange(w), alive.shape).copy()  # (W, w) node id held by each slot
    # Merge distance of each slot with its neighbour (the kt factor min(pt_i^2, pt_j^2) or 1).
    dij = np.where(alive, nn_d, np.inf)  # (W, w)
    if use_kt:
        np.multiply(
            dij, np.minimum(kt2, np.take_along_axis(kt2, nn_j, axis=1)), out=dij, where=alive
        )
    return sp4, alive, rap, phi, kt2, node, nn_d, nn_j, dij


def _merge_slots(
    ia: np.ndarray, ic: np.ndarray, new_node: int, merged: np.ndarray, flat_p4: np.ndarray, alive: np.ndarray,
    rap: np.ndarray, phi: np.ndarray, kt2: np.ndarray, node: np.ndarray, dij: np.ndarray,
    weight: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Put the ``merged`` (W, 4) pseudojet (node ``new_node``) in the flat slots ``ia`` and empty
    the slots ``ic``, in place; returns its rapidity and azimuth (W,)."""
    np.put(node, ia, new_node)
    flat_p4[ia] = merged  # sp4 is contiguous: flat_p4 is a view
    np.put(alive, ic, False)
    np.put(rap, ic, _FAR)
    np.put(dij, ic, np.inf)
    r_a, p_a = rap_phi(merged)  # (W,)
    np.put(rap, ia, r_a)
    np.put(phi, ia, p_a)
    np.put(kt2, ia, weight(kin.pt2(merged)))
    return r_a, p_a


def _squeeze(n_alive: int, sp4: np.ndarray, *slots: np.ndarray) -> tuple[np.ndarray, ...]:
    """Move each jet's live slots to the front and drop the rest, down to ``n_alive`` slots.

    ``slots``: the (W, w) per-slot arrays alive, rap, phi, kt2, node, nn_d, dij, nn_j (last: its
    slot numbers are renumbered). Returns sp4 (W, n_alive, 4) and the squeezed arrays in order.
    """
    alive, nn_j = slots[0], slots[-1]
    perm = np.argsort(~alive, axis=1, kind="stable")[:, :n_alive]  # (W, w')
    old_to_new = np.zeros(alive.shape, np.int64)  # (W, w) old slot -> new slot
    np.put_along_axis(old_to_new, perm, np.arange(n_alive)[None, :], axis=1)
    sp4 = np.take_along_axis(sp4, perm[:, :, None], axis=1)
    rest = tuple(np.take_along_axis(x, perm, axis=1) for x in slots[:-1])
    nn_j = np.take_along_axis(old_to_new, np.take_along_axis(nn_j, perm, axis=1), axis=1)
    return (sp4, *rest, nn_j)


def _rescan(
    a: np.ndarray, c: np.ndarray, ia: np.ndarray, r_a: np.ndarray, p_a: np.ndarray, alive: np.ndarray,
    rap: np.ndarray, phi: np.ndarray, kt2: np.ndarray, nn_j: np.ndarray, nn_d: np.ndarray, dij: np.ndarray,
    use_kt: bool,
) -> None:
    """After merging slot ``c`` into slot ``a`` (flat ``ia``, new rapidity ``r_a`` and azimuth
    ``p_a``) in every jet, update the nearest neighbours ``nn_j``, ``nn_d`` and the merge
    distances ``dij`` (W, w) in place."""
    w = alive.shape[1]
    # Slots whose neighbour was one of the merged pair (and the merged slot) look again.
    stale = (nn_j == a[:, None]) | (nn_j == c[:, None])  # (W, w)
    stale &= alive
    np.put(stale, ia, True)
    idx = np.flatnonzero(stale)  # (S,) flat (jet, slot)
    jet_of = idx // w  # (S,)
    cand = _dr2(
        rap.ravel()[idx, None], phi.ravel()[idx, None], rap[jet_of], phi[jet_of]
    )  # (S, w)
    np.put(cand, np.arange(idx.size) * w + idx % w, np.inf)  # not itself
    best = cand.argmin(axis=1)  # (S,)
    best_d = cand.ravel()[np.arange(idx.size) * w + best]  # (S,)
    np.put(nn_j, idx, best)
    np.put(nn_d, idx, best_d)
    if use_kt:
        best_d = best_d * np.minimum(kt2.ravel()[idx], kt2.ravel()[jet_of * w + best])
    np.put(dij, idx, best_d)
    # Every other live slot may now be closest to the merged pseudojet.
    row = _dr2(r_a[:, None], p_a[:, None], rap, phi)  # (W, w)
    np.put(row, ia, np.inf)
    closer = row < nn_d  # (W, w)
    closer &= alive
    np.copyto(nn_d, row, where=closer)
    np.copyto(nn_j, np.broadcast_to(a[:, None], nn_j.shape), where=closer)
    if use_kt:
        np.multiply(row, np.minimum(kt2, kt2.ravel()[ia][:, None]), out=row, where=closer)
    np.copyto(dij, row, where=closer)
