"""Energy Flow Polynomials (kind ``efp``), Komiske, Metodiev & Thaler, arXiv:1712.07124.

For a multigraph G with vertices 1..N and edges E,

    EFP_G = sum_{i_1..i_N} z_{i_1} ... z_{i_N} prod_{(k, l) in E} theta_{i_k i_l},

with ``z_i = pt_i / sum_j pt_j`` and ``theta_ij = Delta R_ij^beta`` (rapidity-azimuth distance,
the paper's hadronic measure with kappa = 1). The degree d of an EFP is its number of edges. The
set used here is every loopless multigraph with 1 <= d <= ``max_degree`` edges and no isolated
vertex, up to isomorphism: connected ("prime") ones and disconnected ("composite") ones, whose
EFP is the product of their components' EFPs. Per degree d = 1..7 there are 1, 2, 5, 12, 33,
103, 333 connected graphs (OEIS A076864) and 1, 3, 8, 23, 66, 212, 686 in all (A050535), so
d <= 5 gives 101 EFPs and d <= 7 gives 999 (the paper's counts 102 and 1000 include the
constant EFP of the empty graph, left out here).

The graphs are enumerated once (edge by edge from the connected graphs of one degree lower,
deduplicated by a canonical labelling) and cached. Each connected graph is evaluated by
variable elimination over all jets of a block at once: a vertex with one remaining neighbour
becomes a batched matrix-vector product, one with two a batched matrix product, and every
intermediate result is keyed by the expression it stands for, so the graphs share them. Up to
d = 5 every graph has treewidth <= 2 and the whole set costs a handful of (n x n) matrix products
per jet; graphs of treewidth 3 (from d = 6, e.g. K4) fall back to ``np.einsum`` and are much
slower (O(n^4) per jet).

The top-tagging linear classifier of the paper uses beta = 0.5 and d <= 7 (1000 EFPs); the
default here is beta = 1, d <= 5 (101 EFPs), which is affordable on a CPU (thousands of jets per
second at top-tagging multiplicities).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from colliderlab import kinematics as kin
from colliderlab.features.particles import check_jets
from colliderlab.features.representations import check_finite, register_representation
from colliderlab.jets import JetBatch
from colliderlab.physics.substructure import clustering as _cluster
from colliderlab.physics.substructure import ecf as _ecf

__all__ = [
    "MAX_DEGREE",
    "Graph",
    "connected_multigraphs",
    "efp_graphs",
    "graph_name",
    "energy_flow_polynomials",
    "EFPConfig",
]

MAX_DEGREE = 7
"""Largest supported degree (number of edges)."""

Graph = tuple[tuple[int, int], ...]
"""A multigraph: its sorted edge list ``((a, b), ...)``, a < b, vertices 0..N-1, with repeats."""

# Jets x n^2 per block: each cached (B, n, n) float64 intermediate takes at most 8 MiB.
_PAIR_BUDGET = 1 << 20
# Smallest block worth forming before multiplicities must be similar.
_MIN_BLOCK = 64


# --------------------------------------------------------------------------------------------
# Graph enumeration.
# --------------------------------------------------------------------------------------------
def _n_vertices(edges: Graph) -> int:
    return 1 + max(max(e) for e in edges) if edges else 0


def _canonical(edges: Graph) -> Graph:
    """Canonical form of a multigraph: the smallest sorted edge list over the relabellings that
    respect an isomorphism-invariant vertex ordering (so isomorphic graphs give the same form)."""
    n = _n_vertices(edges)
    adj = [[0] * n for _ in range(n)]
    for a, b in edges:
        adj[a][b] += 1
        adj[b][a] += 1
    color = [sum(row) for row in adj]  # refine degrees by the multiset of (multiplicity, colour)
    for _ in range(n):
        sig = [
            (color[v], tuple(sorted((adj[v][u], color[u]) for u in range(n) if adj[v][u])))
            for v in range(n)
        ]
        ranks = {s: i for i, s in enumerate(sorted(set(sig)))}
        new = [ranks[s] for s in sig]
        if len(set(new)) == len(set(color)):
            color = new
            break
        color = new
    classes = [[v for v in range(n) if color[v] == c] for c in sorted(set(color))]
    best = None
    for perms in itertools.product(*(itertools.permutations(c) for c in classes)):
        label = {old: new for new, old in enumerate(itertools.chain.from_iterable(perms))}
        cert = tuple(sorted((min(label[a], label[b]), max(label[a], label[b])) for a, b in edges))
        if best is None or cert < best:
            best = cert
    return best


@functools.cache
def connected_multigraphs(degree: int) -> tuple[Graph, ...]:
    """All connected loopless multigraphs with ``degree`` edges, up to isomorphism, sorted by
    (vertex count, canonical edge list)."""
    if not 1 <= degree <= MAX_DEGREE:
        raise ValueError(f"EFP degree must be in 1..{MAX_DEGREE}, got {degree}")
    if degree == 1:
        return (((0, 1),),)
    found = set()
    for g in connected_multigraphs(degree - 1):
        n = _n_vertices(g)
        new_edges = [(a, b) for a in range(n) for b in range(a + 1, n + 1)]  # b == n: new vertex
        for e in new_edges:
            found.add(_canonical(tuple(sorted((*g, e)))))
    return tuple(sorted(found, key=lambda g: (_n_vertices(g), g)))


def _partitions(d: int, largest: int) -> list[tuple[int, ...]]:
    """Integer partitions of d with parts <= largest, parts in non-increasing order."""
    if d == 0:
        return [()]
    return [(p, *rest) for p in range(min(d, largest), 0, -1) for rest in _partitions(d - p, p)]


@functools.cache
def efp_graphs(max_degree: int = 5, connected_only: bool = False) -> tuple[tuple[Graph, ...], ...]:
    """The EFP multigraphs with 1..``max_degree`` edges, each as a tuple of connected components.

    Ordered by degree, then connected graphs before composites (fewer components first).
    """
    if not 1 <= max_degree <= MAX_DEGREE:
        raise ValueError(f"max_degree must be in 1..{MAX_DEGREE}, got {max_degree}")
    out = []
    for d in range(1, max_degree + 1):
        for parts in sorted(_partitions(d, d), key=len):
            if connected_only and len(parts) > 1:
                continue
            # A multiset of connected graphs: for each distinct part size, a multiset of graphs.
            sizes = sorted(set(parts), reverse=True)
            choices = [
                itertools.combinations_with_replacement(connected_multigraphs(s), parts.count(s))
                for s in sizes
            ]
            for combo in itertools.product(*(list(c) for c in choices)):
                out.append(tuple(itertools.chain.from_iterable(combo)))
    return tuple(out)


def graph_name(components: Sequence[Graph]) -> str:
    """``efp_d{d}_{edges}``, e.g. ``efp_d3_0-1.0-1.1-2``; components are relabelled apart."""
    edges, offset = [], 0
    for g in components:
        edges += [(a + offset, b + offset) for a, b in g]
        offset += _n_vertices(g)
    return f"efp_d{len(edges)}_" + ".".join(f"{a}-{b}" for a, b in edges)


# --------------------------------------------------------------------------------------------
# Evaluation plans: variable elimination with shared, expression-keyed intermediates.
# Keys: ("th", a) theta^a; ("had", k1, k2, ..) elementwise product of pair factors;
# ("mm", F, W, G) = F diag(W) G; ("w", m1, m2, ..) = z * messages; ("mv", F, W) = F @ W;
# ("sum", W) = sum of W.
# --------------------------------------------------------------------------------------------
def _t(key: tuple) -> tuple:
    """Key of the transposed pair factor."""
    if key[0] == "th":
        return key
    if key[0] == "had":
        return ("had", *sorted((_t(k) for k in key[1:]), key=repr))
    return ("mm", _t(key[3]), key[2], _t(key[1]))  # mm


def _product_key(keys: list[tuple]) -> tuple:
    if len(keys) == 1:
        return keys[0]
    if all(k[0] == "th" for k in keys):
        return ("th", sum(k[1] for k in keys))
    return ("had", *sorted(keys, key=repr))


@functools.cache
def _plan(graph: Graph) -> tuple | None:
    """The scalar key of a connected graph's EFP.

    Vertices are eliminated greedily (fewest neighbours first); when every vertex left has three
    neighbours and four are left (a K4 with general factors, which is all treewidth 3 brings up to
    d = 7) the remainder becomes one ``("k4", ...)`` key. Any other remainder gives None (not met
    up to d = 7) and the graph is then contracted directly with ``np.einsum``.
    """
    n = _n_vertices(graph)
    mult: dict[tuple[int, int], int] = {}
    for e in graph:
        mult[e] = mult.get(e, 0) + 1
    pair = {e: [("th", m)] for e, m in mult.items()}  # (a, b), a < b: keys oriented a -> b
    unary: dict[int, list[tuple]] = {v: [] for v in range(n)}
    alive = set(range(n))

    def oriented(u: int, v: int) -> tuple:
        keys = pair[(min(u, v), max(u, v))]
        return _product_key(keys if u < v else [_t(k) for k in keys])

    def weight(v: int) -> tuple:
        return ("w", *sorted(unary[v], key=repr))

    def neighbours(v: int) -> list[int]:
        return sorted({a if b == v else b for a, b in pair if v in (a, b)})

    while alive:

        def cost(v: int) -> tuple:
            nb = neighbours(v)
            power = sum(k[1] for u in nb for k in pair[(min(u, v), max(u, v))] if k[0] == "th")
            return (len(nb), len(unary[v]), power, v)

        v = min(alive, key=cost)
        nb = neighbours(v)
        w = weight(v)
        if len(nb) == 0:
            return ("sum", w)
        if len(nb) == 1:
            (u,) = nb
            unary[u].append(("mv", oriented(u, v), w))
        elif len(nb) == 2:
            u, x = nb  # u < x
            key = ("mm", oriented(u, v), w, oriented(v, x))
            pair.setdefault((u, x), []).append(key)
        elif len(alive) == 4 and all(len(neighbours(u)) == 3 for u in alive):
            # A complete graph K4 is left (treewidth 3). Its last vertex d is summed first, so
            # take the plainest one there: K4 plans then share that rank-3 intermediate.
            def k4(d: int) -> tuple:
                a, b, c = sorted(alive - {d})
                return (
                    "k4",
                    weight(a),
                    weight(b),
                    weight(c),
                    weight(d),
                    oriented(a, b),
                    oriented(a, c),
                    oriented(a, d),
                    oriented(b, c),
                    oriented(b, d),
                    oriented(c, d),
                )

            plain = (("w",), ("th", 1), ("th", 1), ("th", 1))
            return min((k4(d) for d in alive), key=lambda k: (_k4_core(k) != plain, repr(k)))
        else:
            return None
        for u in nb:
            del pair[(min(u, v), max(u, v))]
        alive.remove(v)
    raise AssertionError("unreachable")


def _k4_core(key: tuple) -> tuple:
    """The factors of a K4 key touching its last vertex: (w3, F03, F13, F23)."""
    return (key[4], key[7], key[9], key[10])


class _Evaluator:
    """Evaluates keys on one block of jets: z (B, n), theta^beta (B, n, n), with a shared cache."""

    def __init__(self, z: np.ndarray, theta: np.ndarray) -> None:
        self.z = z
        self.theta = theta
        self.cache: dict[tuple, np.ndarray] = {("th", 1): theta, ("w",): z}

    def pair(self, key: tuple) -> np.ndarray:  # (B, n, n)
        if key in self.cache:
            return self.cache[key]
        tkey = _t(key)
        if tkey != key and tkey in self.cache:
            return self.cache[tkey].transpose(0, 2, 1)
        if key[0] == "th":
            a = key[1]
            half = self.pair(("th", a // 2))
            out = half * half  # (B, n, n)
            if a % 2:
                out *= self.theta
        elif key[0] == "had":
            out = self.pair(key[1]).copy()
            for k in key[2:]:
                out *= self.pair(k)
        else:  # mm: F diag(W) G
            f, w, g = self.pair(key[1]), self.unary(key[2]), self.pair(key[3])
            out = np.matmul(f * w[:, None, :], g)  # (B, n, n)
        self.cache[key] = out
        return out

    def unary(self, key: tuple) -> np.ndarray:  # (B, n)
        if key in self.cache:
            return self.cache[key]
        if key[0] == "w":
            # Build from the longest cached prefix of messages.
            out = self.unary(key[:-1]) * self.unary(key[-1])  # (B, n)
        else:  # mv: F @ W
            out = np.matmul(self.pair(key[1]), self.unary(key[2])[:, :, None])[:, :, 0]  # (B, n)
        self.cache[key] = out
        return out

    def scalar(self, key: tuple) -> np.ndarray:  # (B,)
        if key not in self.cache:
            if key[0] == "k4":
                self.k4_many([key])
            else:
                self.cache[key] = self.unary(key[1]).sum(axis=1)
        return self.cache[key]

    def k4_many(self, keys: list[tuple]) -> None:
        """Evaluate K4 keys: sum_ijkl w0_i w1_j w2_k w3_l F01_ij F02_ik F03_il F12_jk F13_jl F23_kl.

        T[i, j, k] = sum_l (F03 w3)[i, l] F13[j, l] F23[k, l] is one batched matrix product
        (b, n^2, n) x (b, n, n), O(n^4) per jet, computed once per jet sub-block for all keys
        that share it; each key then costs O(n^3).
        """
        groups: dict[tuple, list[tuple]] = {}
        for key in keys:
            if key not in self.cache:
                groups.setdefault(_k4_core(key), []).append(key)
        b, n = self.z.shape
        step = max(1, _PAIR_BUDGET * 4 // n**3)
        for (k3, k03, k13, k23), members in groups.items():
            w3, f03, f13, f23 = self.unary(k3), self.pair(k03), self.pair(k13), self.pair(k23)
            outs = [np.empty(b) for _ in members]
            for s in range(0, b, step):
                sl = slice(s, s + step)
                a = (f03[sl] * w3[sl, None, :])[:, :, None, :] * f13[
                    sl, None, :, :
                ]  # (b', i, j, l)
                t = np.matmul(a.reshape(-1, n * n, n), f23[sl].transpose(0, 2, 1))  # (b', ij, k)
                t = t.reshape(len(t), -1)  # (b', i j k)
                for key, out in zip(members, outs, strict=True):
                    w0, w1, w2 = (self.unary(k)[sl] for k in key[1:4])
                    f01, f02, f12 = (self.pair(key[i])[sl] for i in (5, 6, 8))
                    g = (w0[:, :, None] * w1[:, None, :] * f01)[:, :, :, None] * (
                        f02 * w2[:, None, :]
                    )[:, :, None, :]  # (b', i, j, k)
                    g *= f12[:, None, :, :]
                    out[sl] = np.einsum("bx,bx->b", t, g.reshape(len(g), -1))
            for key, out in zip(members, outs, strict=True):
                self.cache[key] = out

    def einsum(self, graph: Graph) -> np.ndarray:
        """Direct contraction (for graphs whose elimination needs a rank-3 intermediate). (B,)"""
        n = _n_vertices(graph)
        letters = "acdefghijklmnopqrstuvwxyz"[:n]
        mult: dict[tuple[int, int], int] = {}
        for e in graph:
            mult[e] = mult.get(e, 0) + 1
        terms = [f"b{letters[v]}" for v in range(n)] + [
            f"b{letters[a]}{letters[b]}" for a, b in mult
        ]
        operands = [self.z] * n + [self.pair(("th", m)) for m in mult.values()]
        return np.einsum(",".join(terms) + "->b", *operands, optimize="greedy")


def _blocks(mult: np.ndarray) -> list[np.ndarray]:
    """Jet indices grouped by similar multiplicity (up to ``1.1 m + 2`` of a block's smallest
    ``m`` once it has ``_MIN_BLOCK`` jets), each block within the pair budget."""
    order = np.argsort(mult, kind="stable")
    m_sorted = np.maximum(mult[order], 1)
    out, start, total = [], 0, len(order)
    while start < total:
        stop = start + 1
        while stop < total:
            m = int(m_sorted[stop])
            if (stop - start + 1) * m * m > _PAIR_BUDGET:
                break
            if stop - start >= _MIN_BLOCK and m > 1.1 * m_sorted[start] + 2:
                break
            stop += 1
        out.append(order[start:stop])
        start = stop
    return out


def energy_flow_polynomials(
    p4: np.ndarray,
    mask: np.ndarray,
    *,
    max_degree: int = 5,
    beta: float = 1.0,
    connected_only: bool = False,
) -> np.ndarray:
    """EFPs of every jet for all graphs of :func:`efp_graphs` (``max_degree``, ``connected_only``).

    Args:
        p4: (J, P, 4) constituent (E, px, py, pz), any slot order; mask: (J, P) bool.
        max_degree: largest number of edges (1..7).
        beta: angular exponent, ``theta_ij = Delta R_ij^beta`` (> 0).
        connected_only: only the connected (prime) graphs.

    Returns:
        (J, F) float64 in the order of :func:`efp_graphs`; zero for a jet without constituents.
    """
    if not beta > 0:
        raise ValueError(f"EFP beta must be > 0, got {beta!r}")
    graphs = efp_graphs(max_degree, connected_only)
    prime = sorted({g for comps in graphs for g in comps}, key=lambda g: (len(g), g))
    plans = {g: _plan(g) for g in prime}
    p4 = np.asarray(p4)
    mask = np.asarray(mask, bool)
    mult = mask.sum(axis=1)
    out = np.zeros((len(p4), len(graphs)))
    for idx in _blocks(mult):
        n = int(mult[idx].max())
        if n == 0:
            continue
        slots = np.argsort(~mask[idx], axis=1, kind="stable")[:, :n]  # (B, n) real ones first
        keep = np.take_along_axis(mask[idx], slots, axis=1)  # (B, n)
        q = np.take_along_axis(np.asarray(p4[idx], np.float64), slots[:, :, None], axis=1)
        q[~keep] = 0.0
        pt = np.where(keep, kin.pt(q), 0.0)  # (B, n)
        total = pt.sum(axis=1, keepdims=True)
        z = np.divide(pt, total, out=np.zeros_like(pt), where=total > 0)  # (B, n)
        rap, phi = _cluster.rap_phi(q)
        rap, phi = np.where(keep, rap, 0.0), np.where(keep, phi, 0.0)
        theta = _ecf.pair_angles(rap, phi)  # (B, n, n)
        if beta != 1:
            np.power(theta, beta, out=theta)
        theta[~(keep[:, :, None] & keep[:, None, :])] = 0.0
        ev = _Evaluator(z, theta)
        ev.k4_many([p for p in plans.values() if p is not None and p[0] == "k4"])
        value = {g: ev.scalar(plans[g]) if plans[g] is not None else ev.einsum(g) for g in prime}
        for f, comps in enumerate(graphs):
            v = value[comps[0]]
            for g in comps[1:]:
                v = v * value[g]
            out[idx, f] = v
    return out


@register_representation
@dataclass(frozen=True)
class EFPConfig:
    """Energy Flow Polynomials up to degree ``max_degree`` (arXiv:1712.07124).

    Arrays: ``x`` (J, F) float32, F = 101 for the default d <= 5 (``connected_only``: 53).
    Feature names encode the graph: ``efp_d3_0-1.0-2.1-2`` is the triangle.
    """

    kind: ClassVar[str] = "efp"
    standardize: ClassVar[tuple[str, ...]] = ("x",)

    max_degree: int = 5
    beta: float = 1.0
    connected_only: bool = False

    def __post_init__(self) -> None:
        if (
            not isinstance(self.max_degree, (int, np.integer))
            or not 1 <= self.max_degree <= MAX_DEGREE
        ):
            raise ValueError(
                f"efp: max_degree must be an integer in 1..{MAX_DEGREE}, got {self.max_degree!r}"
            )
        if not isinstance(self.beta, (int, float)) or not self.beta > 0:
            raise ValueError(f"efp: beta must be a positive number, got {self.beta!r}")

    def compute(self, jets: JetBatch) -> dict[str, np.ndarray]:
        check_jets(jets, f"{self.kind} representation")
        x = energy_flow_polynomials(
            jets.p4,
            jets.mask,
            max_degree=self.max_degree,
            beta=float(self.beta),
            connected_only=self.connected_only,
        )
        out = {"x": x.astype(np.float32)}  # (J, F)
        check_finite(out, what=f"{self.kind} representation")
        return out

    def dims(self, arrays: dict[str, np.ndarray]) -> dict[str, int]:
        return {"n_features": int(arrays["x"].shape[-1])}

    def feature_names(self) -> tuple[str, ...]:
        return tuple(graph_name(c) for c in efp_graphs(self.max_degree, self.connected_only))

    def input_fields(self) -> frozenset[str]:
        """The JetBatch fields read: the constituents' four-vectors."""
        return frozenset(("p4", "mask"))
